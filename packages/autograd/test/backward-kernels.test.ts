/**
 * The rules of fused ops run the backend's backward kernel where it has one: each kernel is called
 * once per backward, and the gradients equal those of the same rule computed with core ops.
 */
import { JsBackend } from "@tessera/backend-js";
import {
  FUSED_BACKWARD_KERNELS,
  type FusedBackwardKernelName,
  type FusedKernels,
  gelu,
  layerNorm,
  listBackends,
  logSoftmax,
  registerBackend,
  scaledDotProductAttention,
  softmax,
  type Tensor,
} from "@tessera/core";
import { describe, expect, it } from "vitest";
import { FORWARD_ONLY, gradsOn, registerPrimitives } from "./fused-vs-composite.js";
import { type Input, useJsBackend } from "./helpers.js";

useJsBackend();

const COUNTING = "js-counting-backward";
const calls = new Map<string, number>();

/** backend-js whose backward kernels count their calls. */
function registerCounting(): void {
  if (listBackends().includes(COUNTING)) return;
  registerBackend(
    COUNTING,
    () => {
      const inner = new JsBackend({ name: COUNTING });
      const fused: Partial<FusedKernels> = { ...inner.fused };
      for (const k of FUSED_BACKWARD_KERNELS) {
        const kernel = inner.fused[k] as (...a: unknown[]) => void;
        (fused as Record<string, unknown>)[k] = (...a: unknown[]) => {
          calls.set(k, (calls.get(k) ?? 0) + 1);
          kernel(...a);
        };
      }
      const b = Object.create(inner) as JsBackend;
      Object.defineProperty(b, "fused", { value: Object.freeze(fused) });
      return b;
    },
    0,
  );
}

/** Deterministic values in [-2, 2) (a linear congruential stream), so a failure replays. */
const sample = (shape: number[], seed: number): Input => {
  let a = seed;
  const values = Array.from({ length: shape.reduce((x, y) => x * y, 1) }, () => {
    a = (a * 1103515245 + 12345) % 2147483648;
    return (a / 2147483648) * 4 - 2;
  });
  return { shape, values };
};

const CASES: [FusedBackwardKernelName, (...t: Tensor[]) => Tensor | Tensor[], Input[]][] = [
  ["softmaxBackward", (x) => softmax(x, 1), [sample([3, 4, 2], 1)]],
  ["logSoftmaxBackward", (x) => logSoftmax(x, -1), [sample([3, 5], 2)]],
  [
    "layerNormBackward",
    (x, w, b) => layerNorm(x, [4], w, b, 1e-3),
    [sample([2, 3, 4], 3), sample([4], 4), sample([4], 5)],
  ],
  ["geluBackward", (x) => gelu(x, { approximate: "tanh" }), [sample([7], 6)]],
  [
    "attentionBackward",
    (q, k, v, m) => scaledDotProductAttention(q, k, v, { attnMask: m!, isCausal: true }),
    [sample([2, 3, 4], 7), sample([1, 5, 4], 8), sample([1, 5, 2], 9), sample([3, 5], 10)],
  ],
];

describe("backward kernels", () => {
  for (const [kernel, f, inputs] of CASES) {
    it(`the rule runs ${kernel} once and matches the same rule computed with core ops`, () => {
      registerCounting();
      registerPrimitives();
      calls.clear();
      const withKernel = gradsOn(COUNTING, f, inputs);
      expect(calls.get(kernel)).toBe(1);
      const withoutKernel = gradsOn(FORWARD_ONLY, f, inputs);
      withKernel.forEach((g, i) => {
        g.forEach((v, e) => {
          const c = withoutKernel[i]![e]!;
          expect(Math.abs(v - c), `input ${i} element ${e}: ${v} vs ${c}`).toBeLessThanOrEqual(
            1e-10 * (1 + Math.abs(c)),
          );
        });
      });
    });
  }
});
