import { scaledDotProductAttention, type Tensor } from "@tessera/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { gradcheck } from "../src/index.js";
import { expectFusedHolds, gradsOn } from "./fused-vs-composite.js";
import { expectGradcheckHolds, floats, type Input, numel, RUNS, toTensor, useJsBackend } from "./helpers.js";

useJsBackend();

type MaskKind = "none" | "bool" | "float" | "padding";
interface Sample {
  q: Input;
  k: Input;
  v: Input;
  mask: Input | null;
  maskKind: MaskKind;
  causal: boolean;
  scale: number | undefined;
  returnWeights: boolean;
}

/** q [B,Sq,D] against k/v [B or 1, Sk, ·] (broadcast batch), with any mix of masks. */
const sampleArb: fc.Arbitrary<Sample> = fc
  .record({
    b: fc.integer({ min: 1, max: 2 }),
    kvBatch1: fc.boolean(),
    sq: fc.integer({ min: 1, max: 3 }),
    sk: fc.integer({ min: 1, max: 3 }),
    d: fc.integer({ min: 1, max: 3 }),
    dv: fc.integer({ min: 1, max: 3 }),
    maskKind: fc.constantFrom<MaskKind>("none", "bool", "float", "padding"),
    causal: fc.boolean(),
    scale: fc.option(fc.double({ min: 0.2, max: 1.5, noNaN: true }), { nil: undefined }),
    returnWeights: fc.boolean(),
  })
  .chain((p) => {
    const kb = p.kvBatch1 ? 1 : p.b;
    // Key 0 always stays attendable, so no query row is fully masked (those rows are NaN, as in torch).
    const boolMask = (shape: number[], attend: boolean) =>
      fc.array(fc.boolean(), { minLength: numel(shape), maxLength: numel(shape) }).map((bits) => ({
        shape,
        kind: "bool" as const,
        values: bits.map((x, i) => (i % shape[shape.length - 1]! === 0 ? (attend ? 1 : 0) : x ? 1 : 0)),
      }));
    const mask: fc.Arbitrary<Input | null> =
      p.maskKind === "bool"
        ? boolMask([p.sq, p.sk], true)
        : p.maskKind === "float"
          ? floats([p.sq, p.sk])
          : p.maskKind === "padding"
            ? boolMask([p.b, p.sk], false)
            : fc.constant(null);
    return fc.record({
      q: floats([p.b, p.sq, p.d]),
      k: floats([kb, p.sk, p.d]),
      v: floats([kb, p.sk, p.dv]),
      mask,
      maskKind: fc.constant(p.maskKind),
      causal: fc.constant(p.causal),
      scale: fc.constant(p.scale),
      returnWeights: fc.constant(p.returnWeights),
    });
  });

function attend(s: Sample) {
  return (q: Tensor, k: Tensor, v: Tensor, m?: Tensor): Tensor | Tensor[] => {
    const opts = {
      attnMask: s.maskKind === "bool" || s.maskKind === "float" ? m : null,
      keyPaddingMask: s.maskKind === "padding" ? m : null,
      isCausal: s.causal,
      scale: s.scale,
    };
    if (!s.returnWeights) return scaledDotProductAttention(q, k, v, opts);
    const r = scaledDotProductAttention(q, k, v, { ...opts, returnWeights: true });
    return [r.output, r.weights];
  };
}
const inputsOf = (s: Sample) => [s.q, s.k, s.v, ...(s.mask ? [s.mask] : [])];
const problem = (s: Sample) => ({ f: attend(s), inputs: inputsOf(s) });

describe("scaledDotProductAttention", () => {
  it("attention gradients (q, k, v, a float mask; output and weights) match finite differences", () => {
    expectGradcheckHolds(sampleArb, problem);
  });

  it("attention fused rule equals the differentiated composite", () => {
    expectFusedHolds(sampleArb, problem, 50);
  });

  it("attention gradients in 4-D [B,H,S,D] with causal masking match finite differences", () => {
    fc.assert(
      fc.property(floats([1, 2, 3, 2]), floats([1, 2, 3, 2]), floats([1, 2, 3, 2]), (q, k, v) => {
        gradcheck(
          (a, b, c) => scaledDotProductAttention(a, b, c, { isCausal: true }),
          [q, k, v].map((i) => toTensor(i)),
        );
      }),
      { ...RUNS, numRuns: 30 },
    );
  });

  it("attention with weights not requested gives the same input gradients as with them", () => {
    fc.assert(
      fc.property(sampleArb, (s) => {
        // Only the output gets a cotangent in both runs (weights dropped from the result).
        const plain = gradsOn(
          "js",
          (...t) => [attend({ ...s, returnWeights: false })(...(t as [Tensor, Tensor, Tensor]))].flat(),
          inputsOf(s),
        );
        const withW = gradsOn(
          "js",
          (...t) =>
            (attend({ ...s, returnWeights: true })(...(t as [Tensor, Tensor, Tensor])) as Tensor[])[0]!,
          inputsOf(s),
        );
        plain.forEach((g, i) => {
          for (const [e, x] of g.entries()) expect(Math.abs(x - withW[i]![e]!)).toBeLessThanOrEqual(1e-12);
        });
      }),
      { ...RUNS, numRuns: 30 },
    );
  });
});
