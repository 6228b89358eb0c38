/**
 * Gradient cases of elementwise math and selection. Values are drawn away from kinks and jumps (relu and
 * abs at 0, floor at integers, maximum's ties, clamp's bounds) so finite differences see a smooth function;
 * the tie conventions themselves are unit-tested in packages/autograd/test/rules-elementwise.test.ts.
 */
import {
  abs,
  add,
  ceil,
  clamp,
  cos,
  div,
  erf,
  exp,
  expm1,
  floor,
  log,
  log1p,
  maskedFill,
  maximum,
  minimum,
  mul,
  neg,
  numel,
  pow,
  reciprocal,
  relu,
  round,
  rsqrt,
  sigmoid,
  sign,
  silu,
  sin,
  sqrt,
  sub,
  type Tensor,
  tanh,
  tensor,
  where,
} from "@tessera/core";
import * as fc from "fast-check";
import type { GradCase, GradInput } from "../types.js";

/**
 * `n` values in [lo, hi], pairwise at least (hi − lo) / 2n apart: a shuffled linspace with jitter. Finite
 * differences (steps of 1e-6) then never cross a tie between two of them.
 */
export function distinct(n: number, lo: number, hi: number): fc.Arbitrary<number[]> {
  const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
  return fc
    .tuple(fc.array(unit, { minLength: n, maxLength: n }), fc.array(unit, { minLength: n, maxLength: n }))
    .map(([order, jitter]) => {
      const rank = order.map((_, i) => i).sort((a, b) => order[a]! - order[b]! || a - b);
      const out = new Array<number>(n);
      rank.forEach((i, r) => {
        out[i] = lo + ((hi - lo) * (r + 0.25 + 0.5 * jitter[i]!)) / n;
      });
      return out;
    });
}

/** Float inputs of these shapes whose values are all distinct across the inputs (see `distinct`). */
export function distinctInputs(shapes: readonly number[][], lo = -2, hi = 2): fc.Arbitrary<GradInput[]> {
  const sizes = shapes.map(numel);
  return distinct(
    sizes.reduce((a, b) => a + b, 0),
    lo,
    hi,
  ).map((values) => {
    let at = 0;
    return shapes.map((shape, k) => {
      const v = values.slice(at, at + sizes[k]!);
      at += sizes[k]!;
      return { shape, values: v };
    });
  });
}

/** Float values in [lo, hi] (ties allowed: for smooth functions). */
export const floatIn = (shape: number[], lo = -2, hi = 2): fc.Arbitrary<GradInput> =>
  fc
    .array(fc.double({ min: lo, max: hi, noNaN: true }), { minLength: numel(shape), maxLength: numel(shape) })
    .map((values) => ({ shape, values }));

/** Values with lo ≤ |v| ≤ hi and random signs: away from a kink at 0. */
export const awayFromZero = (shape: number[], lo = 0.2, hi = 2): fc.Arbitrary<GradInput> =>
  fc
    .array(fc.tuple(fc.double({ min: lo, max: hi, noNaN: true }), fc.boolean()), {
      minLength: numel(shape),
      maxLength: numel(shape),
    })
    .map((pairs) => ({ shape, values: pairs.map(([m, neg]) => (neg ? -m : m)) }));

/** Values k + f, f in [0.1, 0.4]: away from the integers and half-integers where floor/ceil/round jump. */
const offGrid = (shape: number[]): fc.Arbitrary<GradInput> =>
  fc
    .array(fc.tuple(fc.integer({ min: -3, max: 2 }), fc.double({ min: 0.1, max: 0.4, noNaN: true })), {
      minLength: numel(shape),
      maxLength: numel(shape),
    })
    .map((pairs) => ({ shape, values: pairs.map(([k, f]) => k + f) }));

const bools = (shape: number[]): fc.Arbitrary<GradInput> =>
  fc
    .array(fc.boolean(), { minLength: numel(shape), maxLength: numel(shape) })
    .map((b) => ({ shape, values: b.map(Number), kind: "bool" as const }));

const unaryShape = fc.constantFrom<number[]>([], [5], [2, 3], [2, 2, 3]);

/** Operand shape pairs that broadcast: equal, trailing, both-sided, rank-0, and a new leading dim. */
const binaryShapes = fc.constantFrom<[number[], number[]]>(
  [
    [2, 3],
    [2, 3],
  ],
  [[2, 3], [3]],
  [
    [2, 1],
    [1, 3],
  ],
  [[3], [2, 1, 3]],
  [[], [2, 2]],
  [[4], []],
);

const unaryCase = (
  name: string,
  run: (x: Tensor) => Tensor,
  input: (shape: number[]) => fc.Arbitrary<GradInput>,
): GradCase => ({
  name: `grad.${name}`,
  ops: [name],
  arbitrary: unaryShape.chain((shape) => input(shape).map((x) => ({ inputs: [x], attrs: {} }))),
  run: ([x]) => run(x!),
});

const range = (lo: number, hi: number) => (shape: number[]) => floatIn(shape, lo, hi);

const UNARY_CASES: GradCase[] = [
  unaryCase("neg", neg, range(-2, 2)),
  unaryCase("abs", abs, (s) => awayFromZero(s)),
  unaryCase("exp", exp, range(-2, 2)),
  unaryCase("log", log, range(0.2, 3)),
  unaryCase("log1p", log1p, range(-0.7, 2)),
  unaryCase("expm1", expm1, range(-2, 2)),
  unaryCase("sqrt", sqrt, range(0.2, 3)),
  unaryCase("rsqrt", rsqrt, range(0.3, 3)),
  unaryCase("reciprocal", reciprocal, (s) => awayFromZero(s, 0.3, 2)),
  unaryCase("sin", sin, range(-3, 3)),
  unaryCase("cos", cos, range(-3, 3)),
  unaryCase("tanh", tanh, range(-2, 2)),
  unaryCase("sigmoid", sigmoid, range(-3, 3)),
  unaryCase("relu", relu, (s) => awayFromZero(s, 0.05)),
  unaryCase("erf", erf, range(-2, 2)),
  unaryCase("silu", silu, range(-3, 3)),
  unaryCase("sign", sign, (s) => awayFromZero(s, 0.05)),
  unaryCase("floor", floor, offGrid),
  unaryCase("ceil", ceil, offGrid),
  unaryCase("round", round, offGrid),
];

interface ScalarAttrs {
  scalar: number;
  /** The number is the first operand. */
  left: boolean;
}

const binaryCase = (
  name: string,
  run: (a: Tensor, b: Tensor) => Tensor,
  a: (shape: number[]) => fc.Arbitrary<GradInput>,
  b: (shape: number[]) => fc.Arbitrary<GradInput> = a,
): GradCase => ({
  name: `grad.${name}`,
  ops: [name],
  arbitrary: binaryShapes.chain(([sa, sb]) =>
    fc.tuple(a(sa), b(sb)).map((inputs) => ({ inputs, attrs: {} })),
  ),
  run: ([x, y]) => run(x!, y!),
});

/** The op with a Python-number operand on either side (it takes no gradient). */
const scalarCase = (
  name: string,
  run: (a: Tensor | number, b: Tensor | number) => Tensor,
  x: (shape: number[]) => fc.Arbitrary<GradInput>,
  scalar: fc.Arbitrary<number>,
): GradCase<ScalarAttrs> => ({
  name: `grad.${name}.scalar`,
  ops: [name],
  arbitrary: fc
    .tuple(unaryShape.chain(x), scalar, fc.boolean())
    .map(([input, s, left]) => ({ inputs: [input], attrs: { scalar: s, left } })),
  run: ([x], { scalar, left }) => (left ? run(scalar, x!) : run(x!, scalar)),
});

const nonZeroScalar = fc
  .tuple(fc.double({ min: 0.3, max: 2, noNaN: true }), fc.boolean())
  .map(([m, n]) => (n ? -m : m));

const BINARY_CASES: GradCase[] = [
  binaryCase("add", add, range(-2, 2)),
  scalarCase("add", add, range(-2, 2), fc.double({ min: -2, max: 2, noNaN: true })),
  binaryCase("sub", sub, range(-2, 2)),
  scalarCase("sub", sub, range(-2, 2), fc.double({ min: -2, max: 2, noNaN: true })),
  binaryCase("mul", mul, range(-2, 2)),
  scalarCase("mul", mul, range(-2, 2), fc.double({ min: -2, max: 2, noNaN: true })),
  binaryCase("div", div, range(-2, 2), (s) => awayFromZero(s, 0.4, 2)),
  scalarCase("div", div, (s) => awayFromZero(s, 0.4, 2), nonZeroScalar),
  binaryCase("pow", pow, range(0.3, 2), range(-2, 2)),
  {
    name: "grad.pow.scalarExponent",
    ops: ["pow"],
    arbitrary: fc
      .tuple(unaryShape.chain(range(0.3, 2)), fc.constantFrom(0, 1, 2, 3, 0.5, -0.5, -1.5, 2.7))
      .map(([x, e]) => ({ inputs: [x], attrs: { e } })),
    run: ([x], { e }) => pow(x!, e),
  },
  {
    name: "grad.pow.scalarBase",
    ops: ["pow"],
    arbitrary: fc
      .tuple(unaryShape.chain(range(-2, 2)), fc.constantFrom(0.5, 2, 3, Math.E))
      .map(([x, base]) => ({ inputs: [x], attrs: { base } })),
    run: ([x], { base }) => pow(base, x!),
  },
  {
    // Base exactly 0 in places, with positive exponents: the exponent's gradient there is 0, not 0·log(0).
    // The base is a constant of the run (its own gradient b·0^(b−1) is not finite-difference smooth).
    name: "grad.pow.zeroBase",
    ops: ["pow"],
    arbitrary: fc
      .tuple(floatIn([2, 3], 0.5, 2), floatIn([2, 3], 0.5, 2))
      .map(([a, b]) => ({ inputs: [b], attrs: { base: a.values.map((v, i) => (i % 2 ? v : 0)) } })),
    run: ([b], { base }) => pow(tensor(base, { shape: b!.shape, dtype: b!.dtype }), b!),
  },
  {
    name: "grad.maximum",
    ops: ["maximum"],
    arbitrary: binaryShapes.chain((shapes) =>
      distinctInputs(shapes).map((inputs) => ({ inputs, attrs: {} })),
    ),
    run: ([a, b]) => maximum(a!, b!),
  },
  {
    name: "grad.minimum",
    ops: ["minimum"],
    arbitrary: binaryShapes.chain((shapes) =>
      distinctInputs(shapes).map((inputs) => ({ inputs, attrs: {} })),
    ),
    run: ([a, b]) => minimum(a!, b!),
  },
  {
    // A number operand, drawn off the grid of the tensor's distinct values.
    name: "grad.maximum.scalar",
    ops: ["maximum"],
    arbitrary: unaryShape.chain((shape) =>
      distinctInputs([shape, [1]]).map(([x, s]) => ({ inputs: [x!], attrs: { s: s!.values[0]! } })),
    ),
    run: ([x], { s }) => maximum(x!, s),
  },
];

const SELECTION_CASES: GradCase[] = [
  {
    name: "grad.where",
    ops: ["where"],
    arbitrary: fc
      .constantFrom<[number[], number[], number[]]>(
        [
          [2, 3],
          [2, 3],
          [2, 3],
        ],
        [[2, 3], [3], [2, 1]],
        [[3], [2, 3], []],
        [[2, 1, 3], [4, 1], [3]],
      )
      .chain(([c, a, b]) =>
        fc.tuple(bools(c), floatIn(a), floatIn(b)).map((inputs) => ({ inputs, attrs: {} })),
      ),
    run: ([c, a, b]) => where(c!, a!, b!),
  },
  {
    name: "grad.where.scalarBranch",
    ops: ["where"],
    arbitrary: fc
      .tuple(bools([2, 3]), floatIn([3]), fc.double({ min: -2, max: 2, noNaN: true }))
      .map(([c, a, s]) => ({ inputs: [c, a], attrs: { s } })),
    run: ([c, a], { s }) => where(c!, s, a!),
  },
  {
    name: "grad.maskedFill",
    ops: ["maskedFill"],
    arbitrary: fc
      .constantFrom<[number[], number[]]>(
        [
          [2, 3],
          [2, 3],
        ],
        [[2, 3], [3]],
        [
          [2, 2, 3],
          [2, 1, 1],
        ],
      )
      .chain(([x, m]) =>
        fc
          .tuple(floatIn(x), bools(m), fc.double({ min: -3, max: 3, noNaN: true }))
          .map(([xi, mi, value]) => ({ inputs: [xi, mi], attrs: { value } })),
      ),
    run: ([x, m], { value }) => maskedFill(x!, m!, value),
  },
  {
    // Bounds drawn from the same distinct grid as x, so no element sits on a bound.
    name: "grad.clamp",
    ops: ["clamp"],
    arbitrary: unaryShape.chain((shape) =>
      fc.tuple(distinctInputs([shape, [2]]), fc.constantFrom("both", "min", "max")).map(([[x, b], which]) => {
        const [lo, hi] = [...b!.values].sort((p, q) => p - q);
        return {
          inputs: [x!],
          attrs: { lo: which === "max" ? null : lo!, hi: which === "min" ? null : hi! },
        };
      }),
    ),
    run: ([x], { lo, hi }) => clamp(x!, lo, hi),
  },
  {
    // Tensor bounds take gradients too; min > max in some places (max wins there, as in torch).
    name: "grad.clamp.tensorBounds",
    ops: ["clamp"],
    arbitrary: fc
      .constantFrom<number[][]>(
        [
          [2, 3],
          [2, 3],
          [2, 3],
        ],
        [[2, 3], [3], [2, 1]],
        [[4], [], [4]],
      )
      .chain((shapes) => distinctInputs(shapes).map((inputs) => ({ inputs, attrs: {} }))),
    run: ([x, lo, hi]) => clamp(x!, lo, hi),
  },
];

export const ELEMENTWISE_GRAD_CASES: GradCase[] = [...UNARY_CASES, ...BINARY_CASES, ...SELECTION_CASES];
