/**
 * Gradient cases of reductions, over every form of `dim` (omitted, one dim — negative too —, a list) and
 * keepdim. max/min-like reductions draw distinct values (ties are unit-tested in
 * packages/autograd/test/rules-reduce.test.ts); prod also runs with exact zeros in its slices.
 */
import {
  amax,
  amin,
  type Dims,
  logsumexp,
  max,
  mean,
  min,
  numel,
  prod,
  std,
  sum,
  type Tensor,
  type VarOptions,
  variance,
} from "@tessera/core";
import * as fc from "fast-check";
import type { GradCase, GradInput } from "../types.js";
import { awayFromZero, distinctInputs, floatIn } from "./elementwise.js";

const shapeArb = fc.constantFrom<number[]>([], [5], [2, 3], [3, 4], [2, 3, 2], [2, 1, 4]);

/** `dim` as callers pass it: omitted, one dim (negative allowed) or a list of dims. */
const dimsArb = (rank: number): fc.Arbitrary<Dims | undefined> => {
  if (rank === 0) return fc.constant(undefined);
  const all = Array.from({ length: rank }, (_, i) => i);
  return fc.oneof(
    fc.constant(undefined),
    fc.integer({ min: -rank, max: rank - 1 }),
    fc.subarray(all, { minLength: 1 }),
  );
};

interface DimAttrs {
  dim: Dims | undefined;
  keepdim: boolean;
}

const dimSample = (input: (shape: number[]) => fc.Arbitrary<GradInput>) =>
  shapeArb.chain((shape) =>
    fc
      .tuple(input(shape), dimsArb(shape.length), fc.boolean())
      .map(([x, dim, keepdim]) => ({ inputs: [x], attrs: { dim, keepdim } })),
  );

const distinctIn = (shape: number[]) => distinctInputs([shape]).map(([x]) => x!);

const dimCase = (
  name: string,
  run: (x: Tensor, dim: Dims | undefined, keepdim: boolean) => Tensor,
  input: (shape: number[]) => fc.Arbitrary<GradInput> = (s) => floatIn(s),
): GradCase<DimAttrs> => ({
  name: `grad.${name}`,
  ops: [name],
  arbitrary: dimSample(input),
  run: ([x], { dim, keepdim }) => run(x!, dim, keepdim),
});

/** Elements reduced together by `dim` (every element when omitted). */
const reducedCount = (shape: readonly number[], dim: Dims | undefined) => {
  if (dim === undefined || (typeof dim !== "number" && dim.length === 0)) return numel(shape);
  const dims = typeof dim === "number" ? [dim] : dim;
  return dims.reduce((n, d) => n * shape[d < 0 ? d + shape.length : d]!, 1);
};

interface MomentAttrs {
  dim: Dims | undefined;
  opts: VarOptions;
}

/** var/std with a divisor N − correction ≥ 1, options spelled either way, called with and without `dim`. */
const momentCase = (name: "var" | "std", run: (x: Tensor, d: Dims | undefined, o: VarOptions) => Tensor) =>
  ({
    name: `grad.${name}`,
    ops: [name],
    arbitrary: shapeArb
      .filter((s) => numel(s) >= 2)
      .chain((shape) =>
        fc
          .tuple(
            distinctIn(shape),
            dimsArb(shape.length).filter((d) => reducedCount(shape, d) >= 3),
            fc.constantFrom<VarOptions>({}, { correction: 0 }, { correction: 2 }, { unbiased: false }),
            fc.boolean(),
          )
          .map(([x, dim, opts, keepdim]) => ({ inputs: [x], attrs: { dim, opts: { ...opts, keepdim } } })),
      ),
    run: ([x], { dim, opts }) => run(x!, dim, opts),
  }) satisfies GradCase<MomentAttrs>;

const withZeros = (shape: number[], zeros: number) =>
  fc
    .tuple(
      awayFromZero(shape, 0.5, 1.5),
      fc.subarray(
        Array.from({ length: numel(shape) }, (_, i) => i),
        {
          minLength: zeros,
          maxLength: zeros,
        },
      ),
    )
    .map(([x, at]) => ({ ...x, values: x.values.map((v, i) => (at.includes(i) ? 0 : v)) }));

export const REDUCE_GRAD_CASES: GradCase[] = [
  dimCase("sum", (x, d, k) => sum(x, d, k)),
  dimCase("mean", (x, d, k) => mean(x, d, k)),
  dimCase(
    "prod",
    (x, d, k) => prod(x, d, k),
    (s) => awayFromZero(s, 0.5, 1.5),
  ),
  {
    // One or two exact zeros: prod is multilinear, so finite differences are exact there too.
    name: "grad.prod.zeros",
    ops: ["prod"],
    arbitrary: fc
      .tuple(fc.constantFrom<number[]>([6], [2, 3], [3, 4]), fc.constantFrom(1, 2))
      .chain(([shape, zeros]) =>
        fc
          .tuple(withZeros(shape, zeros), dimsArb(shape.length), fc.boolean())
          .map(([x, dim, keepdim]) => ({ inputs: [x], attrs: { dim, keepdim } })),
      ),
    run: ([x], { dim, keepdim }) => prod(x!, dim, keepdim),
  },
  dimCase("amax", (x, d, k) => amax(x, d, k), distinctIn),
  dimCase("amin", (x, d, k) => amin(x, d, k), distinctIn),
  {
    name: "grad.max",
    ops: ["max"],
    arbitrary: shapeArb.chain((s) => distinctIn(s).map((x) => ({ inputs: [x], attrs: {} }))),
    run: ([x]) => max(x!),
  },
  {
    name: "grad.min",
    ops: ["min"],
    arbitrary: shapeArb.chain((s) => distinctIn(s).map((x) => ({ inputs: [x], attrs: {} }))),
    run: ([x]) => min(x!),
  },
  ...(["max", "min"] as const).map(
    (op): GradCase<{ dim: number; keepdim: boolean }> => ({
      name: `grad.${op}.dim`,
      ops: [op],
      arbitrary: shapeArb.chain((shape) =>
        fc
          .tuple(
            distinctIn(shape),
            fc.integer({ min: -Math.max(shape.length, 1), max: Math.max(shape.length, 1) - 1 }),
            fc.boolean(),
          )
          .map(([x, dim, keepdim]) => ({
            inputs: [x],
            attrs: { dim: shape.length === 0 ? 0 : dim, keepdim },
          })),
      ),
      run: ([x], { dim, keepdim }) => {
        const r = (op === "max" ? max : min)(x!, dim, keepdim);
        return [r.values, r.indices];
      },
    }),
  ),
  momentCase("var", (x, d, o) => (d === undefined ? variance(x, o) : variance(x, d, o))),
  momentCase("std", (x, d, o) => (d === undefined ? std(x, o) : std(x, d, o))),
  {
    name: "grad.logsumexp",
    ops: ["logsumexp"],
    arbitrary: shapeArb
      .filter((s) => s.length > 0)
      .chain((shape) =>
        fc
          .tuple(
            floatIn(shape, -3, 3),
            dimsArb(shape.length).filter((d) => d !== undefined),
            fc.boolean(),
          )
          .map(([x, dim, keepdim]) => ({ inputs: [x], attrs: { dim: dim!, keepdim } })),
      ),
    run: ([x], { dim, keepdim }) => logsumexp(x!, dim, keepdim),
  },
];
