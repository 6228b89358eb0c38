/**
 * Gradient cases of the losses. Class-index targets are int32 inputs (never differentiated); the
 * first target is never ignored, so a 'mean' never divides by zero. l1/smoothL1 draw the target at a
 * distance from the input that keeps |x − y| away from 0 and from β (their kinks).
 */
import {
  binaryCrossEntropyWithLogits,
  crossEntropy,
  l1Loss,
  mseLoss,
  numel,
  type Reduction,
  smoothL1Loss,
  tensor,
} from "@tessera/core";
import * as fc from "fast-check";
import type { GradCase, GradInput } from "../types.js";

const floatIn = (shape: number[], min = -2, max = 2): fc.Arbitrary<GradInput> =>
  fc
    .array(fc.double({ min, max, noNaN: true }), { minLength: numel(shape), maxLength: numel(shape) })
    .map((values) => ({ shape, values }));

const reductionArb = fc.constantFrom<Reduction>("none", "mean", "sum");

// ---- cross entropy ---------------------------------------------------------------------------

interface CeAttrs {
  ignoreIndex: number;
  labelSmoothing: number;
  reduction: Reduction;
  weight: number[] | null;
}

/** logits [N,C,...spatial] and int32 targets [N,...spatial], some equal to `ignoreIndex`. */
function ceSample(opts: {
  spatial: number[];
  ignoreIndex: number;
  ignore: boolean;
  weighted: boolean;
  smoothing: boolean;
}) {
  return fc
    .record({
      n: fc.integer({ min: 1, max: 3 }),
      c: fc.integer({ min: 2, max: 4 }),
      reduction: reductionArb,
      labelSmoothing: opts.smoothing ? fc.double({ min: 0.05, max: 0.5, noNaN: true }) : fc.constant(0),
    })
    .chain(({ n, c, reduction, labelSmoothing }) => {
      const tShape = [n, ...opts.spatial];
      const m = numel(tShape);
      const cls = fc.integer({ min: 0, max: c - 1 });
      const other = opts.ignore ? fc.oneof(cls, fc.constant(opts.ignoreIndex)) : cls;
      return fc
        .record({
          logits: floatIn([n, c, ...opts.spatial], -3, 3),
          first: cls.filter((t) => t !== opts.ignoreIndex),
          rest: fc.array(other, { minLength: m - 1, maxLength: m - 1 }),
          weight: opts.weighted
            ? fc.array(fc.double({ min: 0.2, max: 2, noNaN: true }), { minLength: c, maxLength: c })
            : fc.constant(null),
        })
        .map(({ logits, first, rest, weight }) => ({
          inputs: [logits, { shape: tShape, values: [first, ...rest], kind: "int32" as const }],
          attrs: { ignoreIndex: opts.ignoreIndex, labelSmoothing, reduction, weight } as CeAttrs,
        }));
    });
}

const ceCase = (name: string, sample: Parameters<typeof ceSample>[0]): GradCase<CeAttrs> => ({
  name,
  ops: ["crossEntropy"],
  fused: "crossEntropy",
  arbitrary: ceSample(sample),
  // The class weight is a constant (PyTorch gives it no gradient).
  run: ([x, t], { weight, ...opts }) =>
    crossEntropy(x!, t!, {
      ...opts,
      weight: weight ? tensor(weight, { dtype: x!.dtype, backend: x!.backendName }) : null,
    }),
});

// ---- pairwise losses -------------------------------------------------------------------------

/** x and y = x ± m·scale with m in [0.1, 0.8] ∪ [1.2, 2]: |x − y| stays away from 0 and from `scale`. */
const pairSample = (scale: number) =>
  fc
    .record({ shape: fc.constantFrom<number[]>([4], [2, 3], [2, 2, 2]), reduction: reductionArb })
    .chain(({ shape, reduction }) =>
      fc
        .tuple(
          floatIn(shape),
          fc.array(
            fc
              .tuple(
                fc.boolean(),
                fc.oneof(
                  fc.double({ min: 0.1, max: 0.8, noNaN: true }),
                  fc.double({ min: 1.2, max: 2, noNaN: true }),
                ),
              )
              .map(([neg, m]) => (neg ? -m : m) * scale),
            { minLength: numel(shape), maxLength: numel(shape) },
          ),
        )
        .map(([x, d]) => ({
          inputs: [x, { shape, values: x.values.map((v, i) => v + d[i]!) }],
          attrs: { reduction },
        })),
    );

export const LOSS_GRAD_CASES: GradCase[] = [
  ceCase("grad.crossEntropy", {
    spatial: [],
    ignoreIndex: -100,
    ignore: false,
    weighted: false,
    smoothing: false,
  }),
  ceCase("grad.crossEntropy.ignoreIndex", {
    spatial: [],
    ignoreIndex: 1,
    ignore: true,
    weighted: false,
    smoothing: false,
  }),
  ceCase("grad.crossEntropy.weight", {
    spatial: [],
    ignoreIndex: -100,
    ignore: true,
    weighted: true,
    smoothing: false,
  }),
  ceCase("grad.crossEntropy.labelSmoothing", {
    spatial: [],
    ignoreIndex: 0,
    ignore: true,
    weighted: true,
    smoothing: true,
  }),
  ceCase("grad.crossEntropy.spatial", {
    spatial: [2],
    ignoreIndex: -100,
    ignore: true,
    weighted: false,
    smoothing: true,
  }),
  {
    name: "grad.crossEntropy.unbatched",
    ops: ["crossEntropy"],
    fused: "crossEntropy",
    arbitrary: fc
      .tuple(floatIn([4], -3, 3), fc.integer({ min: 0, max: 3 }))
      .map(([x, t]) => ({ inputs: [x, { shape: [], values: [t], kind: "int32" as const }], attrs: {} })),
    run: ([x, t]) => crossEntropy(x!, t!, { labelSmoothing: 0.1 }),
  },
  {
    // Probability targets run the composite on every backend; logits and targets both get gradients.
    name: "grad.crossEntropy.probabilities",
    ops: ["crossEntropy"],
    arbitrary: fc
      .record({
        shape: fc.constantFrom<number[]>([3], [2, 3], [2, 3, 2]),
        labelSmoothing: fc.constantFrom(0, 0.2),
        reduction: reductionArb,
      })
      .chain(({ shape, ...attrs }) =>
        fc.tuple(floatIn(shape, -3, 3), floatIn(shape, 0, 1)).map((inputs) => ({ inputs, attrs })),
      ),
    run: ([x, p], attrs) => crossEntropy(x!, p!, attrs),
  },
  {
    name: "grad.mseLoss",
    ops: ["mseLoss"],
    arbitrary: pairSample(1),
    run: ([x, y], opts) => mseLoss(x!, y!, opts),
  },
  {
    name: "grad.l1Loss",
    ops: ["l1Loss"],
    arbitrary: pairSample(1),
    run: ([x, y], opts) => l1Loss(x!, y!, opts),
  },
  {
    name: "grad.smoothL1Loss",
    ops: ["smoothL1Loss"],
    arbitrary: pairSample(0.7),
    run: ([x, y], opts) => smoothL1Loss(x!, y!, { ...opts, beta: 0.7 }),
  },
  {
    name: "grad.smoothL1Loss.beta0",
    ops: ["smoothL1Loss"],
    arbitrary: pairSample(1),
    run: ([x, y], opts) => smoothL1Loss(x!, y!, { ...opts, beta: 0 }),
  },
  {
    name: "grad.binaryCrossEntropyWithLogits",
    ops: ["binaryCrossEntropyWithLogits"],
    arbitrary: fc
      .record({ shape: fc.constantFrom<number[]>([3], [2, 3], [2, 2, 3]), reduction: reductionArb })
      .chain(({ shape, reduction }) =>
        fc
          .tuple(floatIn(shape, -3, 3), floatIn(shape, 0, 1))
          .map((inputs) => ({ inputs, attrs: { reduction } })),
      ),
    run: ([x, y], opts) => binaryCrossEntropyWithLogits(x!, y!, opts),
  },
  {
    // weight and posWeight [C] broadcast along the last dim; all four inputs get gradients.
    name: "grad.binaryCrossEntropyWithLogits.posWeight",
    ops: ["binaryCrossEntropyWithLogits"],
    arbitrary: fc
      .record({ shape: fc.constantFrom<number[]>([3], [2, 3], [2, 2, 3]), reduction: reductionArb })
      .chain(({ shape, reduction }) => {
        const c = [shape[shape.length - 1]!];
        return fc
          .tuple(floatIn(shape, -3, 3), floatIn(shape, 0, 1), floatIn(c, 0.2, 2), floatIn(c, 0.2, 3))
          .map((inputs) => ({ inputs, attrs: { reduction } }));
      }),
    run: ([x, y, weight, posWeight], opts) =>
      binaryCrossEntropyWithLogits(x!, y!, { ...opts, weight, posWeight }),
  },
];
