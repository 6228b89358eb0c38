/**
 * In-place Adam / AdamW step, PyTorch 1.13 arithmetic:
 *   AdamW: p ← p·(1 − lr·wd);  Adam: g ← g + wd·p
 *   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
 *   p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + eps)
 */
import type { AdamAttrs } from "@tessera/core";
import type { FloatArray } from "./types.js";

export function adamKernel(
  p: FloatArray,
  pOff: number,
  g: FloatArray,
  gOff: number,
  m: FloatArray,
  mOff: number,
  v: FloatArray,
  vOff: number,
  n: number,
  attrs: AdamAttrs,
): void {
  const { lr, beta1, beta2, eps, weightDecay: wd, decoupled, step } = attrs;
  const stepSize = lr / (1 - beta1 ** step);
  const bc2Sqrt = Math.sqrt(1 - beta2 ** step);
  const decay = decoupled ? 1 - lr * wd : 1;
  const l2 = decoupled ? 0 : wd;
  for (let i = 0; i < n; i++) {
    let pv = p[pOff + i]!;
    if (decoupled) pv *= decay;
    const gv = g[gOff + i]! + l2 * pv;
    const mv = beta1 * m[mOff + i]! + (1 - beta1) * gv;
    const vv = beta2 * v[vOff + i]! + (1 - beta2) * gv * gv;
    m[mOff + i] = mv;
    v[vOff + i] = vv;
    p[pOff + i] = pv - (stepSize * mv) / (Math.sqrt(vv) / bc2Sqrt + eps);
  }
}
