/**
 * float16 and bfloat16 variants of the gradient cases whose kernels a backend may run natively in half
 * precision (fused activations, normalisation, attention, matmul, convolution, pooling, interpolation,
 * losses, reductions and a few elementwise ops): the same samples, run in the half dtype and checked
 * against float64 within the named `f16.grad` / `bf16.grad` tolerances (see GRAD_HALF_TOLERANCES).
 * Each variant is named `<case>[<dtype>]` and runs at most HALF_GRAD_RUNS samples: gradcheck and the
 * fused-vs-composite check do not depend on the dtype, and the float32 case runs them 100 times.
 *
 * The base cases draw values in [−3, 3] and at most a few dozen elements, so nothing overflows binary16
 * (max 65504): attention logits stay below D·9·scale, softmax exponents below e^6, conv sums below ~60.
 */
import type { DType } from "@tessera/core";
import type { GradCase } from "../types.js";

export const HALF_GRAD_DTYPES: readonly DType[] = ["float16", "bfloat16"];

/** Samples per half variant (the runner's numRuns caps it further). */
export const HALF_GRAD_RUNS = 25;

/** The float32 cases that get half variants, by exact name. */
export const HALF_GRAD_BASES: readonly string[] = [
  // elementwise and reductions: backward kernels of the primitives a GPU backend runs in half.
  "grad.exp",
  "grad.tanh",
  "grad.sigmoid",
  "grad.mul",
  "grad.div",
  "grad.sum",
  "grad.mean",
  "grad.amax",
  "grad.logsumexp",
  // matmul: batched, broadcast batch, transposed operands (transA/transB), linear.
  "grad.matmul",
  "grad.matmul.batched",
  "grad.matmul.broadcastBatch",
  "grad.matmul.transposed",
  "grad.linear",
  // fused kernels with backward kernels.
  "grad.softmax",
  "grad.logSoftmax",
  "grad.layerNorm",
  "grad.layerNorm.noAffine",
  "grad.gelu",
  "grad.gelu.tanh",
  "grad.attention",
  "grad.attention.causal",
  "grad.attention.mask",
  "grad.attention.floatMask",
  "grad.attention.keyPadding",
  "grad.attention.weights",
  "grad.attention.broadcastHeads",
  // fused kernels differentiated through their composite or a backward rule.
  "grad.conv2d",
  "grad.conv2d.groups",
  "grad.convTranspose2d",
  "grad.maxPool2d",
  "grad.avgPool2d",
  "grad.adaptiveAvgPool2d",
  "grad.interpolate.bilinear",
  "grad.crossEntropy",
  "grad.crossEntropy.labelSmoothing",
];

/** `<case>[float16]` and `<case>[bfloat16]` of each named float32 case in `catalogue`. */
export function halfGradCases(catalogue: readonly GradCase[]): GradCase[] {
  const byName = new Map(catalogue.map((c) => [c.name, c]));
  return HALF_GRAD_BASES.flatMap((name) => {
    const base = byName.get(name);
    if (!base) throw new Error(`half grad cases: no float32 case named '${name}'`);
    return HALF_GRAD_DTYPES.map(
      (dtype): GradCase => ({ ...base, name: `${name}[${dtype}]`, dtype, numRuns: HALF_GRAD_RUNS }),
    );
  });
}
