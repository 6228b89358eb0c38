/**
 * Resampling of [N, C, H, W] planes: legacy nearest and bilinear without antialiasing. The source
 * indices and weights per axis are core's (nearestSourceIndices, bilinearTaps), the ones the composite
 * and the gradient rule use; the kernel only gathers and blends, in float64.
 */
import { bilinearTaps, type InterpolateAttrs, nearestSourceIndices } from "@tessera/core";
import type { FloatArray } from "./types.js";

export interface InterpolateArgs {
  x: FloatArray;
  xOff: number;
  xShape: readonly number[];
  out: FloatArray;
  outShape: readonly number[];
}

export function interpolateKernel(args: InterpolateArgs, attrs: InterpolateAttrs): void {
  const { x, out } = args;
  const [N, C, H, W] = args.xShape as [number, number, number, number];
  const [, , Ho, Wo] = args.outShape as [number, number, number, number];
  const planes = N * C;
  if (planes * Ho * Wo === 0) return;
  if (attrs.mode === "nearest") {
    const ys = nearestSourceIndices(H, Ho, attrs.scale[0]);
    const xs = nearestSourceIndices(W, Wo, attrs.scale[1]);
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
  const ay = bilinearTaps(H, Ho, attrs.scale[0], attrs.alignCorners);
  const ax = bilinearTaps(W, Wo, attrs.scale[1], attrs.alignCorners);
  let o = 0;
  for (let p = 0; p < planes; p++) {
    const xb = args.xOff + p * H * W;
    for (let oy = 0; oy < Ho; oy++) {
      const r0 = xb + ay.lo[oy]! * W;
      const r1 = xb + ay.hi[oy]! * W;
      const h0 = ay.w0[oy]!;
      const h1 = ay.w1[oy]!;
      for (let ox = 0; ox < Wo; ox++, o++) {
        const c0 = ax.lo[ox]!;
        const c1 = ax.hi[ox]!;
        const w0 = ax.w0[ox]!;
        const w1 = ax.w1[ox]!;
        out[o] = h0 * (w0 * x[r0 + c0]! + w1 * x[r0 + c1]!) + h1 * (w0 * x[r1 + c0]! + w1 * x[r1 + c1]!);
      }
    }
  }
}
