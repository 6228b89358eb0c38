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

/**
 * Layer norm's gradients, per row with x̂ = (x − mean)·rstd and g = dy·weight (dy without weight):
 * dx = rstd·(g − mean(g) − x̂·mean(g·x̂)); dweight = Σ_rows dy·x̂ and dbias = Σ_rows dy, each written
 * only when asked for. Statistics and sums accumulate in float64, as in the forward.
 */
export function layerNormBackwardKernel(
  x: FloatArray,
  xOff: number,
  rows: number,
  size: number,
  weight: FloatArray | null,
  wOff: number,
  dy: FloatArray,
  dyOff: number,
  eps: number,
  dx: FloatArray,
  dxOff: number,
  dweight: FloatArray | null,
  dwOff: number,
  dbias: FloatArray | null,
  dbOff: number,
): void {
  const dw = dweight ? new Float64Array(size) : null;
  const db = dbias ? new Float64Array(size) : null;
  const xhat = new Float64Array(size);
  for (let r = 0; r < rows; r++) {
    const xp = xOff + r * size;
    const gp = dyOff + r * size;
    const op = dxOff + r * size;
    let s = 0;
    for (let i = 0; i < size; i++) s += x[xp + i]!;
    const mean = s / size;
    let ss = 0;
    for (let i = 0; i < size; i++) {
      const d = x[xp + i]! - mean;
      ss += d * d;
    }
    const rstd = 1 / Math.sqrt(ss / size + eps);
    let sg = 0;
    let sgx = 0;
    for (let i = 0; i < size; i++) {
      const h = (x[xp + i]! - mean) * rstd;
      xhat[i] = h;
      const g = weight ? dy[gp + i]! * weight[wOff + i]! : dy[gp + i]!;
      sg += g;
      sgx += g * h;
    }
    const mg = sg / size;
    const mgx = sgx / size;
    for (let i = 0; i < size; i++) {
      const g = weight ? dy[gp + i]! * weight[wOff + i]! : dy[gp + i]!;
      dx[op + i] = rstd * (g - mg - xhat[i]! * mgx);
    }
    if (dw) for (let i = 0; i < size; i++) dw[i]! += dy[gp + i]! * xhat[i]!;
    if (db) for (let i = 0; i < size; i++) db[i]! += dy[gp + i]!;
  }
  if (dweight && dw) for (let i = 0; i < size; i++) dweight[dwOff + i] = dw[i]!;
  if (dbias && db) for (let i = 0; i < size; i++) dbias[dbOff + i] = db[i]!;
}
