/**
 * Resampling of [N, C, H, W] planes. `nearest` is PyTorch's legacy mode (src = ⌊dst·scale⌋ in float32,
 * with its exact shortcuts for equal and doubled sizes); `bilinear` has no antialiasing, and with
 * alignCorners=false uses src = (dst + 0.5)·scale − 0.5 clamped at 0, where `scale` is what core passes
 * (in/out, or 1/scale_factor). alignCorners=true maps corners to corners: scale = (in−1)/(out−1).
 */
import type { InterpolateAttrs } from "@tessera/core";
import type { FloatArray } from "./types.js";

export interface InterpolateArgs {
  x: FloatArray;
  xOff: number;
  xShape: readonly number[];
  out: FloatArray;
  outShape: readonly number[];
}

function nearestIndex(dst: number, inSize: number, outSize: number, scale: number): number {
  if (outSize === inSize) return dst;
  if (outSize === 2 * inSize) return dst >> 1;
  return Math.min(Math.floor(Math.fround(dst * Math.fround(scale))), inSize - 1);
}

/** Per destination index along one axis: lower source index, upper source index, weight of the upper. */
function linearAxis(inSize: number, outSize: number, scale: number, alignCorners: boolean) {
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const wHi = new Float64Array(outSize);
  const s = alignCorners ? (outSize > 1 ? (inSize - 1) / (outSize - 1) : 0) : scale;
  for (let d = 0; d < outSize; d++) {
    if (outSize === inSize) {
      // PyTorch's shortcut for an unchanged axis (whatever the scale): both taps on the pixel itself,
      // so a neighbour's Inf never meets a zero weight (a non-finite pixel still blends to NaN, as in torch).
      lo[d] = hi[d] = d;
      wHi[d] = 0;
      continue;
    }
    let src = alignCorners ? s * d : s * (d + 0.5) - 0.5;
    if (src < 0) src = 0;
    const i0 = Math.min(Math.floor(src), inSize - 1);
    lo[d] = i0;
    hi[d] = i0 < inSize - 1 ? i0 + 1 : i0;
    wHi[d] = Math.min(src - i0, 1);
  }
  return { lo, hi, wHi };
}

export function interpolateKernel(args: InterpolateArgs, attrs: InterpolateAttrs): void {
  const { x, out } = args;
  const [N, C, H, W] = args.xShape as [number, number, number, number];
  const [, , Ho, Wo] = args.outShape as [number, number, number, number];
  const planes = N * C;
  if (planes * Ho * Wo === 0) return;
  if (attrs.mode === "nearest") {
    const ys = new Int32Array(Ho);
    const xs = new Int32Array(Wo);
    for (let d = 0; d < Ho; d++) ys[d] = nearestIndex(d, H, Ho, attrs.scale[0]);
    for (let d = 0; d < Wo; d++) xs[d] = nearestIndex(d, W, Wo, attrs.scale[1]);
    let o = 0;
    for (let p = 0; p < planes; p++) {
      const xb = args.xOff + p * H * W;
      for (let oy = 0; oy < Ho; oy++) {
        const row = xb + ys[oy]! * W;
        for (let ox = 0; ox < Wo; ox++, o++) out[o] = x[row + xs[ox]!]!;
      }
    }
    return;
  }
  const ay = linearAxis(H, Ho, attrs.scale[0], attrs.alignCorners);
  const ax = linearAxis(W, Wo, attrs.scale[1], attrs.alignCorners);
  let o = 0;
  for (let p = 0; p < planes; p++) {
    const xb = args.xOff + p * H * W;
    for (let oy = 0; oy < Ho; oy++) {
      const r0 = xb + ay.lo[oy]! * W;
      const r1 = xb + ay.hi[oy]! * W;
      const h1 = ay.wHi[oy]!;
      const h0 = 1 - h1;
      for (let ox = 0; ox < Wo; ox++, o++) {
        const c0 = ax.lo[ox]!;
        const c1 = ax.hi[ox]!;
        const w1 = ax.wHi[ox]!;
        const w0 = 1 - w1;
        out[o] = h0 * (w0 * x[r0 + c0]! + w1 * x[r0 + c1]!) + h1 * (w0 * x[r1 + c0]! + w1 * x[r1 + c1]!);
      }
    }
  }
}
