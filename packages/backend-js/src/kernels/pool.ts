/**
 * 2-D pooling over [N, C, H, W] planes with PyTorch's window rules: max pooling treats padding as -Inf
 * and propagates NaN; average pooling clips each window to the padded input for the divisor
 * (countIncludePad) or to the real input otherwise; adaptive windows are [⌊i·H/o⌋, ⌈(i+1)·H/o⌉).
 */
import type { PoolAttrs } from "@tessera/core";
import type { FloatArray } from "./types.js";

export interface PoolArgs {
  x: FloatArray;
  xOff: number;
  xShape: readonly number[];
  out: FloatArray;
  outShape: readonly number[];
}

export function maxPool2dKernel(args: PoolArgs, attrs: PoolAttrs): void {
  const { x, out } = args;
  const [N, C, H, W] = args.xShape as [number, number, number, number];
  const [, , Ho, Wo] = args.outShape as [number, number, number, number];
  const [kh, kw] = attrs.kernel;
  const [sh, sw] = attrs.stride;
  const [ph, pw] = attrs.padding;
  const [dh, dw] = attrs.dilation;
  let o = 0;
  for (let plane = 0; plane < N * C; plane++) {
    const xb = args.xOff + plane * H * W;
    for (let oy = 0; oy < Ho; oy++) {
      const y0 = oy * sh - ph;
      for (let ox = 0; ox < Wo; ox++, o++) {
        const x0 = ox * sw - pw;
        let m = Number.NEGATIVE_INFINITY;
        for (let ky = 0; ky < kh; ky++) {
          const iy = y0 + ky * dh;
          if (iy < 0 || iy >= H) continue;
          const row = xb + iy * W;
          for (let kx = 0; kx < kw; kx++) {
            const ix = x0 + kx * dw;
            if (ix < 0 || ix >= W) continue;
            const v = x[row + ix]!;
            // Once NaN, `m` stays NaN: neither test below can replace it.
            if (v > m || Number.isNaN(v)) m = v;
          }
        }
        out[o] = m;
      }
    }
  }
}

export function avgPool2dKernel(args: PoolArgs, attrs: PoolAttrs): void {
  const { x, out } = args;
  const [N, C, H, W] = args.xShape as [number, number, number, number];
  const [, , Ho, Wo] = args.outShape as [number, number, number, number];
  const [kh, kw] = attrs.kernel;
  const [sh, sw] = attrs.stride;
  const [ph, pw] = attrs.padding;
  let o = 0;
  for (let plane = 0; plane < N * C; plane++) {
    const xb = args.xOff + plane * H * W;
    for (let oy = 0; oy < Ho; oy++) {
      let y0 = oy * sh - ph;
      let y1 = Math.min(y0 + kh, H + ph);
      const hPad = y1 - y0;
      y0 = Math.max(y0, 0);
      y1 = Math.min(y1, H);
      for (let ox = 0; ox < Wo; ox++, o++) {
        let x0 = ox * sw - pw;
        let x1 = Math.min(x0 + kw, W + pw);
        const poolSize = hPad * (x1 - x0);
        x0 = Math.max(x0, 0);
        x1 = Math.min(x1, W);
        if (y0 >= y1 || x0 >= x1) {
          out[o] = 0;
          continue;
        }
        let s = 0;
        for (let iy = y0; iy < y1; iy++) {
          const row = xb + iy * W;
          for (let ix = x0; ix < x1; ix++) s += x[row + ix]!;
        }
        out[o] = s / (attrs.countIncludePad ? poolSize : (y1 - y0) * (x1 - x0));
      }
    }
  }
}

export function adaptiveAvgPool2dKernel(args: PoolArgs): void {
  const { x, out } = args;
  const [N, C, H, W] = args.xShape as [number, number, number, number];
  const [, , Ho, Wo] = args.outShape as [number, number, number, number];
  let o = 0;
  for (let plane = 0; plane < N * C; plane++) {
    const xb = args.xOff + plane * H * W;
    for (let oy = 0; oy < Ho; oy++) {
      const y0 = Math.floor((oy * H) / Ho);
      const y1 = Math.ceil(((oy + 1) * H) / Ho);
      for (let ox = 0; ox < Wo; ox++, o++) {
        const x0 = Math.floor((ox * W) / Wo);
        const x1 = Math.ceil(((ox + 1) * W) / Wo);
        let s = 0;
        for (let iy = y0; iy < y1; iy++) {
          const row = xb + iy * W;
          for (let ix = x0; ix < x1; ix++) s += x[row + ix]!;
        }
        out[o] = s / ((y1 - y0) * (x1 - x0));
      }
    }
  }
}
