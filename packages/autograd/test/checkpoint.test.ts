import { beforeAll, describe, expect, it } from "vitest";
import "@tessera/backend-js";
import {
  add,
  dropout,
  gelu,
  layerNorm,
  linear,
  manualSeed,
  memory,
  randn,
  resetPeakMemory,
  scaledDotProductAttention,
  setBackend,
  type Tensor,
  tidy,
} from "@tessera/core";
import { checkpoint } from "../src/index.js";

beforeAll(() => {
  setBackend("js");
});

const D = 32;
const HIDDEN = 128;

/** A pre-norm transformer block's parameters (one attention head, GELU MLP, dropout). */
function blockParams() {
  const p = {
    g1: randn([D]).mul(0.1).add(1),
    b1: randn([D]).mul(0.1),
    g2: randn([D]).mul(0.1).add(1),
    b2: randn([D]).mul(0.1),
    w1: randn([HIDDEN, D]).mul(D ** -0.5),
    c1: randn([HIDDEN]).mul(0.1),
    w2: randn([D, HIDDEN]).mul(HIDDEN ** -0.5),
    c2: randn([D]).mul(0.1),
  };
  for (const t of Object.values(p)) t.requiresGrad = true;
  return p;
}
type Params = ReturnType<typeof blockParams>;

function block(p: Params, x: Tensor): Tensor {
  const h = layerNorm(x, [D], p.g1, p.b1);
  const a = add(x, dropout(scaledDotProductAttention(h, h, h, { isCausal: true }), 0.1));
  const m = linear(gelu(linear(layerNorm(a, [D], p.g2, p.b2), p.w1, p.c1)), p.w2, p.c2);
  return add(a, dropout(m, 0.1));
}

function run(blocks: Params[], input: Tensor, useCheckpoint: boolean) {
  manualSeed(1234); // dropout draws the same masks in both runs
  resetPeakMemory();
  const base = memory().numBytes;
  const loss = tidy(() => {
    let x = input;
    for (const p of blocks) x = useCheckpoint ? checkpoint((t) => block(p, t), x) : block(p, x);
    return x.mul(x).mean();
  });
  loss.backward();
  const peak = memory().peakBytes - base;
  const grads = blocks.flatMap((p) => Object.values(p).map((t) => Float32Array.from(t.grad!.dataSync())));
  const inputGrad = Float32Array.from(input.grad!.dataSync());
  const value = loss.itemSync();
  loss.dispose();
  for (const p of blocks) for (const t of Object.values(p)) t.grad = null;
  input.grad = null;
  return { peak, grads, inputGrad, value };
}

describe("checkpoint", () => {
  it("gives identical gradients and a lower peak of live bytes on a stack of transformer blocks", () => {
    manualSeed(99);
    const blocks = Array.from({ length: 8 }, blockParams);
    const input = randn([4, 128, D]).requiresGrad_();
    const plain = run(blocks, input, false);
    const ckpt = run(blocks, input, true);
    expect(ckpt.value).toBe(plain.value);
    expect(ckpt.inputGrad).toEqual(plain.inputGrad);
    for (const [i, g] of ckpt.grads.entries()) expect(g, `parameter ${i}`).toEqual(plain.grads[i]);
    // Without checkpointing every block's activations are alive at the start of backward.
    console.log(
      `checkpoint peak live bytes: plain ${plain.peak}, checkpointed ${ckpt.peak} (${(plain.peak / ckpt.peak).toFixed(2)}× lower)`,
    );
    expect(ckpt.peak).toBeLessThan(plain.peak * 0.6);
    for (const p of blocks) for (const t of Object.values(p)) t.dispose();
    input.dispose();
  });

  it("replays the generator so dropout inside the block sees the same mask in backward", () => {
    manualSeed(5);
    const x = randn([64]).requiresGrad_();
    const y = tidy(() => checkpoint((t) => dropout(t, 0.5).mul(3), x).sum());
    y.backward();
    // The gradient is 0 exactly where the forward dropped the element, 3/(1-p) = 6 elsewhere.
    manualSeed(5);
    randn([64]).dispose();
    const mask = tidy(() => dropout(x.detach(), 0.5).ne(0));
    const m = mask.dataSync() as Uint8Array;
    const g = x.grad!.dataSync() as Float32Array;
    for (let i = 0; i < 64; i++) expect(g[i], `element ${i}`).toBe(m[i] ? 6 : 0);
    for (const t of [x, y, mask]) t.dispose();
  });

  it("runs the block directly under noGrad", () => {
    const x = randn([4]).requiresGrad_();
    let calls = 0;
    const y = tidy(() =>
      checkpoint((t) => {
        calls++;
        return t.mul(2);
      }, x),
    );
    expect(y.requiresGrad).toBe(true);
    expect(calls).toBe(1);
    for (const t of [x, y]) t.dispose();
  });
});
