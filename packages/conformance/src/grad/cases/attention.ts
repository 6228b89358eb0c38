/**
 * Gradient cases of scaled dot-product attention, one per masking mode. Bool masks always leave key 0
 * attendable, so no query row is fully masked (such rows are NaN, as in PyTorch).
 */
import { type AttentionOptions, numel, scaledDotProductAttention, type Tensor } from "@tessera/core";
import * as fc from "fast-check";
import type { GradCase, GradInput } from "../types.js";

const floatIn = (shape: number[]): fc.Arbitrary<GradInput> =>
  fc
    .array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: numel(shape), maxLength: numel(shape) })
    .map((values) => ({ shape, values }));

/** A bool mask whose first column is `first` (key 0 stays attendable either way). */
const boolIn = (shape: number[], first: boolean): fc.Arbitrary<GradInput> =>
  fc.array(fc.boolean(), { minLength: numel(shape), maxLength: numel(shape) }).map((bits) => ({
    shape,
    kind: "bool" as const,
    values: bits.map((b, i) => (i % shape[shape.length - 1]! === 0 ? Number(first) : Number(b))),
  }));

interface Dims {
  b: number;
  sq: number;
  sk: number;
  d: number;
  dv: number;
}
const dimsArb: fc.Arbitrary<Dims> = fc.record({
  b: fc.integer({ min: 1, max: 2 }),
  sq: fc.integer({ min: 1, max: 3 }),
  sk: fc.integer({ min: 1, max: 3 }),
  d: fc.integer({ min: 1, max: 3 }),
  dv: fc.integer({ min: 1, max: 3 }),
});
/** q [B,Sq,D], k [B,Sk,D], v [B,Sk,Dv], then `extra` inputs built from the dims. */
const qkv = (extra: (p: Dims) => fc.Arbitrary<GradInput>[] = () => []) =>
  dimsArb.chain((p) =>
    fc
      .tuple(floatIn([p.b, p.sq, p.d]), floatIn([p.b, p.sk, p.d]), floatIn([p.b, p.sk, p.dv]), ...extra(p))
      .map((inputs) => ({ inputs, attrs: {} })),
  );

const sdpa =
  (opts: AttentionOptions) =>
  ([q, k, v]: Tensor[]) =>
    scaledDotProductAttention(q!, k!, v!, opts);

export const ATTENTION_GRAD_CASES: GradCase[] = [
  {
    name: "grad.attention",
    ops: ["scaledDotProductAttention"],
    fused: "attention",
    arbitrary: qkv(),
    run: sdpa({}),
  },
  {
    name: "grad.attention.scale",
    ops: ["scaledDotProductAttention"],
    fused: "attention",
    arbitrary: qkv(),
    run: sdpa({ scale: 0.7 }),
  },
  {
    name: "grad.attention.causal",
    ops: ["scaledDotProductAttention"],
    fused: "attention",
    arbitrary: qkv(),
    run: sdpa({ isCausal: true }),
  },
  {
    name: "grad.attention.mask",
    ops: ["scaledDotProductAttention"],
    fused: "attention",
    arbitrary: qkv((p) => [boolIn([p.sq, p.sk], true)]),
    run: ([q, k, v, m]) => scaledDotProductAttention(q!, k!, v!, { attnMask: m }),
  },
  {
    // The additive mask is an input of the graph too: it receives the logits' gradient.
    name: "grad.attention.floatMask",
    ops: ["scaledDotProductAttention"],
    fused: "attention",
    arbitrary: qkv((p) => [floatIn([p.sq, p.sk])]),
    run: ([q, k, v, m]) => scaledDotProductAttention(q!, k!, v!, { attnMask: m, isCausal: true }),
  },
  {
    name: "grad.attention.keyPadding",
    ops: ["scaledDotProductAttention"],
    fused: "attention",
    arbitrary: qkv((p) => [boolIn([p.b, p.sk], false)]),
    run: ([q, k, v, m]) => scaledDotProductAttention(q!, k!, v!, { keyPaddingMask: m }),
  },
  {
    // Both outputs get gradients: the weights' flows back into the logits.
    name: "grad.attention.weights",
    ops: ["scaledDotProductAttention"],
    fused: "attention",
    arbitrary: qkv(),
    run: ([q, k, v]) => {
      const r = scaledDotProductAttention(q!, k!, v!, { returnWeights: true, isCausal: true });
      return [r.output, r.weights];
    },
  },
  {
    // [B,H,S,D] queries against keys and values shared across heads ([B,1,S,D], broadcast).
    name: "grad.attention.broadcastHeads",
    ops: ["scaledDotProductAttention"],
    fused: "attention",
    arbitrary: fc
      .tuple(floatIn([1, 2, 3, 2]), floatIn([1, 1, 3, 2]), floatIn([1, 1, 3, 2]))
      .map((inputs) => ({ inputs, attrs: {} })),
    run: sdpa({}),
  },
];
