import "@tessera/backend-js";
import { scaledDotProductAttention, setBackend, type Tensor, tensor } from "@tessera/core";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { gradcheck } from "../src/index.js";
import { expectFusedMatchesComposite, gradsOn, type Input } from "./fused-vs-composite.js";

beforeAll(() => setBackend("js"));

const RUNS = { numRuns: 100, seed: 42 };
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const floats = (shape: number[]): fc.Arbitrary<Input> =>
  fc
    .array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: numel(shape), maxLength: numel(shape) })
    .map((values) => ({ shape, values }));

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
const make = (i: Input) =>
  i.kind === "bool"
    ? tensor(Uint8Array.from(i.values), { shape: i.shape, dtype: "bool" })
    : tensor(i.values, { shape: i.shape, dtype: "float64" });

describe("scaledDotProductAttention", () => {
  it("attention gradients (q, k, v, a float mask; output and weights) match finite differences", () => {
    fc.assert(
      fc.property(sampleArb, (s) => {
        gradcheck(attend(s), inputsOf(s).map(make));
      }),
      RUNS,
    );
  });

  it("attention fused rule equals the differentiated composite", () => {
    fc.assert(
      fc.property(sampleArb, (s) => expectFusedMatchesComposite(attend(s), inputsOf(s))),
      { ...RUNS, numRuns: 50 },
    );
  });

  it("attention gradients in 4-D [B,H,S,D] with causal masking match finite differences", () => {
    fc.assert(
      fc.property(floats([1, 2, 3, 2]), floats([1, 2, 3, 2]), floats([1, 2, 3, 2]), (q, k, v) => {
        gradcheck((a, b, c) => scaledDotProductAttention(a, b, c, { isCausal: true }), [q, k, v].map(make));
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
