import {
  binaryCrossEntropyWithLogits,
  type CrossEntropyOptions,
  crossEntropy,
  l1Loss,
  mseLoss,
  type Reduction,
  smoothL1Loss,
  type Tensor,
  tensor,
  tidy,
} from "@tessera/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { gradcheck } from "../src/index.js";
import { expectFusedHolds } from "./fused-vs-composite.js";
import { expectGradcheckHolds, floats, type Input, numel, toTensor, useJsBackend } from "./helpers.js";

useJsBackend();
const reductionArb = fc.constantFrom<Reduction>("none", "mean", "sum");

// ---- cross entropy ---------------------------------------------------------------------------

interface CeSample {
  logits: Input;
  target: Input;
  weight: number[] | null;
  ignoreIndex: number;
  labelSmoothing: number;
  reduction: Reduction;
}

/** logits [C], [N,C] or [N,C,d]; index targets where the first sample is never ignored. */
const ceArb: fc.Arbitrary<CeSample> = fc
  .record({
    c: fc.integer({ min: 2, max: 4 }),
    lead: fc.constantFrom<number[]>([], [3], [2], [2, 2], [1, 3]),
    ignore: fc.constantFrom(-100, 0, 1),
    weighted: fc.boolean(),
    labelSmoothing: fc.constantFrom(0, 0.1, 0.35),
    reduction: reductionArb,
  })
  .chain((p) => {
    const shape = p.lead.length === 0 ? [p.c] : [p.lead[0]!, p.c, ...p.lead.slice(1)];
    const tShape = p.lead;
    const n = numel(tShape);
    const pick = fc.integer({ min: 0, max: p.c - 1 });
    const ignore = p.ignore === -100 ? -100 : p.ignore;
    return fc.record({
      logits: floats(shape),
      target: fc
        .tuple(pick, fc.array(fc.oneof(pick, fc.constant(ignore)), { minLength: n - 1, maxLength: n - 1 }))
        .map(([first, rest]) => ({
          shape: tShape,
          kind: "int32" as const,
          values: [first === ignore ? (first + 1) % p.c : first, ...rest],
        })),
      weight: p.weighted
        ? fc.array(fc.double({ min: 0.2, max: 2, noNaN: true }), { minLength: p.c, maxLength: p.c })
        : fc.constant(null),
      ignoreIndex: fc.constant(ignore),
      labelSmoothing: fc.constant(p.labelSmoothing),
      reduction: fc.constant(p.reduction),
    });
  });

const ceProblem = (s: CeSample) => ({
  f: (logits: Tensor, target: Tensor): Tensor => {
    const opts: CrossEntropyOptions = {
      ignoreIndex: s.ignoreIndex,
      labelSmoothing: s.labelSmoothing,
      reduction: s.reduction,
      weight: s.weight ? tensor(s.weight, { dtype: logits.dtype, backend: logits.backendName }) : null,
    };
    return crossEntropy(logits, target, opts);
  },
  inputs: [s.logits, s.target],
});

describe("crossEntropy", () => {
  it("crossEntropy (index targets, ignoreIndex, weight, labelSmoothing, every reduction) gradient matches finite differences", () => {
    expectGradcheckHolds(ceArb, ceProblem);
  });

  it("crossEntropy fused rule equals the differentiated composite", () => {
    expectFusedHolds(ceArb, ceProblem, 100);
  });

  it("crossEntropy with probability targets differentiates logits and targets", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<number[]>([3], [2, 3], [2, 3, 2]),
        fc.constantFrom(0, 0.2),
        reductionArb,
        (shape, labelSmoothing, reduction) =>
          fc.assert(
            fc.property(floats(shape), floats(shape, 0, 1), (x, t) => {
              gradcheck(
                (a, b) => crossEntropy(a, b, { labelSmoothing, reduction }),
                [toTensor(x), toTensor(t)],
              );
            }),
            { numRuns: 5, seed: 1 },
          ),
      ),
      { numRuns: 20, seed: 42 },
    );
  });

  it("crossEntropy gives ignored targets a zero gradient, also when every target is ignored", () => {
    tidy(() => {
      const x = tensor([1, 2, 3, 4, 5, 6], { shape: [2, 3], dtype: "float32" }).requiresGrad_();
      crossEntropy(x, tensor(Int32Array.from([-100, -100]), { dtype: "int32" })).backward();
      expect(Array.from(x.grad!.dataSync())).toEqual([0, 0, 0, 0, 0, 0]);
    });
  });
});

// ---- pairwise losses -------------------------------------------------------------------------

/** x and y = x + d with |d| a multiple of `beta` in [0.1, 0.8] ∪ [1.2, 2] (away from 0 and β). */
const pairArb = (beta: number) =>
  fc
    .record({ shape: fc.constantFrom<number[]>([4], [2, 3], [2, 2, 2]), reduction: reductionArb })
    .chain(({ shape, reduction }) =>
      fc.record({
        x: floats(shape),
        d: fc.array(
          fc
            .tuple(
              fc.boolean(),
              fc.oneof(
                fc.double({ min: 0.1, max: 0.8, noNaN: true }),
                fc.double({ min: 1.2, max: 2, noNaN: true }),
              ),
            )
            .map(([neg, m]) => (neg ? -m : m) * (beta || 1)),
          { minLength: numel(shape), maxLength: numel(shape) },
        ),
        reduction: fc.constant(reduction),
      }),
    )
    .map(({ x, d, reduction }) => ({
      x,
      y: { shape: x.shape, values: x.values.map((v, i) => v + d[i]!) },
      reduction,
    }));

describe("pairwise losses", () => {
  const cases: [string, number, (x: Tensor, y: Tensor, r: Reduction) => Tensor][] = [
    ["mseLoss", 1, (x, y, reduction) => mseLoss(x, y, { reduction })],
    ["l1Loss", 1, (x, y, reduction) => l1Loss(x, y, { reduction })],
    ["smoothL1Loss (beta 0.7)", 0.7, (x, y, reduction) => smoothL1Loss(x, y, { reduction, beta: 0.7 })],
    ["smoothL1Loss (beta 0)", 0, (x, y, reduction) => smoothL1Loss(x, y, { reduction, beta: 0 })],
  ];
  for (const [name, beta, f] of cases) {
    it(`${name} gradients w.r.t. input and target match finite differences`, () => {
      expectGradcheckHolds(pairArb(beta), ({ x, y, reduction }) => ({
        f: (a: Tensor, b: Tensor) => f(a, b, reduction),
        inputs: [x, y],
      }));
    });
  }

  it("l1Loss has a zero gradient where input equals target (torch's sign(0))", () => {
    tidy(() => {
      const x = tensor([1, 2, 3], { dtype: "float32" }).requiresGrad_();
      l1Loss(x, tensor([1, 0, 5], { dtype: "float32" }), { reduction: "sum" }).backward();
      expect(Array.from(x.grad!.dataSync())).toEqual([0, 1, -1]);
    });
  });
});

describe("binaryCrossEntropyWithLogits", () => {
  const bceArb = fc
    .record({
      shape: fc.constantFrom<number[]>([3], [2, 3], [2, 2, 3]),
      reduction: reductionArb,
      weighted: fc.boolean(),
      pos: fc.boolean(),
    })
    .chain((p) =>
      fc.record({
        x: floats(p.shape, -3, 3),
        y: floats(p.shape, 0, 1),
        weight: p.weighted ? floats([p.shape[p.shape.length - 1]!], 0.2, 2) : fc.constant(null),
        posWeight: p.pos ? floats([p.shape[p.shape.length - 1]!], 0.2, 3) : fc.constant(null),
        reduction: fc.constant(p.reduction),
      }),
    );

  it("binaryCrossEntropyWithLogits gradients (input, target, weight, posWeight) match finite differences", () => {
    expectGradcheckHolds(bceArb, ({ x, y, weight, posWeight, reduction }) => ({
      f: (a: Tensor, b: Tensor, ...rest: Tensor[]) =>
        binaryCrossEntropyWithLogits(a, b, {
          reduction,
          weight: weight ? rest[0] : null,
          posWeight: posWeight ? rest[weight ? 1 : 0] : null,
        }),
      inputs: [x, y, ...(weight ? [weight] : []), ...(posWeight ? [posWeight] : [])],
    }));
  });

  it("binaryCrossEntropyWithLogits gradient at logit 0 is σ(0) − y, like torch", () => {
    tidy(() => {
      const x = tensor([0, 0, 0], { dtype: "float32" }).requiresGrad_();
      binaryCrossEntropyWithLogits(x, tensor([1, 0, 0.25], { dtype: "float32" }), {
        reduction: "sum",
      }).backward();
      expect(Array.from(x.grad!.dataSync())).toEqual([-0.5, 0.5, 0.25]);
    });
  });
});
