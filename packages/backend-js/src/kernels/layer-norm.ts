/**
 * Layer norm over the trailing `size` elements: biased variance, eps inside the square root (PyTorch).
 * Statistics accumulate in float64 with two passes, so a large mean does not cancel the variance.
 */
import type { FloatArray } from "./types.js";

export function layerNormKernel(
  x: FloatArray,
  xOff: number,
  rows: number,
  size: number,
  weight: FloatArray | null,
  wOff: number,
  bias: FloatArray | null,
  bOff: number,
  eps: number,
  out: FloatArray,
  outOff: number,
): void {
  for (let r = 0; r < rows; r++) {
    const xp = xOff + r * size;
    const op = outOff + r * size;
    let s = 0;
    for (let i = 0; i < size; i++) s += x[xp + i]!;
    const mean = s / size;
    let ss = 0;
    for (let i = 0; i < size; i++) {
      const d = x[xp + i]! - mean;
      ss += d * d;
    }
    const rstd = 1 / Math.sqrt(ss / size + eps);
    if (weight && bias) {
      for (let i = 0; i < size; i++)
        out[op + i] = (x[xp + i]! - mean) * rstd * weight[wOff + i]! + bias[bOff + i]!;
    } else if (weight) {
      for (let i = 0; i < size; i++) out[op + i] = (x[xp + i]! - mean) * rstd * weight[wOff + i]!;
    } else if (bias) {
      for (let i = 0; i < size; i++) out[op + i] = (x[xp + i]! - mean) * rstd + bias[bOff + i]!;
    } else {
      for (let i = 0; i < size; i++) out[op + i] = (x[xp + i]! - mean) * rstd;
    }
  }
}
