/**
 * softmax / logSoftmax over one dim of a contiguous tensor. Stable (max subtracted first). A row of all
 * -Inf gives NaN, a NaN or +Inf in a row gives a NaN row: the same arithmetic as PyTorch's kernel.
 */
import { type FloatArray, splitAround } from "./types.js";

export function softmaxKernel(
  x: FloatArray,
  xOff: number,
  shape: readonly number[],
  dim: number,
  out: FloatArray,
  outOff: number,
  log: boolean,
): void {
  const { outer, len, inner } = splitAround(shape, dim);
  if (outer * len * inner === 0) return;
  if (inner === 1) {
    for (let o = 0; o < outer; o++) softmaxRow(x, xOff + o * len, out, outOff + o * len, len, log);
    return;
  }
  // dim is not innermost: walk `inner` columns side by side so every pass reads memory in order.
  const mx = new Float64Array(inner);
  const sum = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    const xb = xOff + o * len * inner;
    const ob = outOff + o * len * inner;
    mx.fill(Number.NEGATIVE_INFINITY);
    sum.fill(0);
    for (let k = 0; k < len; k++) {
      const p = xb + k * inner;
      for (let j = 0; j < inner; j++) {
        const v = x[p + j]!;
        if (v > mx[j]!) mx[j] = v;
      }
    }
    if (!log) {
      for (let k = 0; k < len; k++) {
        const p = k * inner;
        for (let j = 0; j < inner; j++) {
          const e = Math.exp(x[xb + p + j]! - mx[j]!);
          out[ob + p + j] = e;
          sum[j]! += e;
        }
      }
      for (let j = 0; j < inner; j++) sum[j] = 1 / sum[j]!;
      for (let k = 0; k < len; k++) {
        const p = ob + k * inner;
        for (let j = 0; j < inner; j++) out[p + j] = out[p + j]! * sum[j]!;
      }
      continue;
    }
    for (let k = 0; k < len; k++) {
      const p = xb + k * inner;
      for (let j = 0; j < inner; j++) sum[j]! += Math.exp(x[p + j]! - mx[j]!);
    }
    for (let j = 0; j < inner; j++) sum[j] = mx[j]! + Math.log(sum[j]!);
    for (let k = 0; k < len; k++) {
      const p = k * inner;
      for (let j = 0; j < inner; j++) out[ob + p + j] = x[xb + p + j]! - sum[j]!;
    }
  }
}

/** One contiguous row. `out` may alias `x`. */
export function softmaxRow(
  x: FloatArray,
  xp: number,
  out: FloatArray,
  op: number,
  len: number,
  log: boolean,
): void {
  let m = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < len; i++) {
    const v = x[xp + i]!;
    if (v > m) m = v;
  }
  // A NaN never wins `v > m`; it still poisons the sum below, so the whole row becomes NaN.
  let s = 0;
  if (log) {
    for (let i = 0; i < len; i++) s += Math.exp(x[xp + i]! - m);
    const lse = m + Math.log(s);
    for (let i = 0; i < len; i++) out[op + i] = x[xp + i]! - lse;
  } else {
    // exp once per element: park it in `out` (x[i] is read before out[i] is written, so aliasing is fine).
    for (let i = 0; i < len; i++) {
      const e = Math.exp(x[xp + i]! - m);
      out[op + i] = e;
      s += e;
    }
    const inv = 1 / s;
    for (let i = 0; i < len; i++) out[op + i] = out[op + i]! * inv;
  }
}

/**
 * Gradient of softmax (dx = y·(dy − Σ dy·y)) or logSoftmax (dx = dy − exp(y)·Σ dy) over `dim`, from the
 * forward output `y`; the row sum accumulates in float64.
 */
export function softmaxBackwardKernel(
  y: FloatArray,
  yOff: number,
  dy: FloatArray,
  dyOff: number,
  shape: readonly number[],
  dim: number,
  dx: FloatArray,
  dxOff: number,
  log: boolean,
): void {
  const { outer, len, inner } = splitAround(shape, dim);
  if (outer * len * inner === 0) return;
  const sum = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    const base = o * len * inner;
    sum.fill(0);
    for (let k = 0; k < len; k++) {
      const p = base + k * inner;
      if (log) for (let j = 0; j < inner; j++) sum[j]! += dy[dyOff + p + j]!;
      else for (let j = 0; j < inner; j++) sum[j]! += dy[dyOff + p + j]! * y[yOff + p + j]!;
    }
    for (let k = 0; k < len; k++) {
      const p = base + k * inner;
      if (log) {
        for (let j = 0; j < inner; j++)
          dx[dxOff + p + j] = dy[dyOff + p + j]! - Math.exp(y[yOff + p + j]!) * sum[j]!;
      } else {
        for (let j = 0; j < inner; j++) dx[dxOff + p + j] = y[yOff + p + j]! * (dy[dyOff + p + j]! - sum[j]!);
      }
    }
  }
}
