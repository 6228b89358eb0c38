/**
 * conv2d as im2col + GEMM per (image, group), and convTranspose2d as GEMM + col2im: the packed GEMM does
 * the arithmetic, the reshuffles are linear passes. A 1×1, stride-1, unpadded conv2d skips im2col and
 * multiplies the input planes directly.
 */
import type { ConvAttrs, ConvTransposeAttrs } from "@tessera/core";
import { gemm } from "./matmul.js";
import type { FloatArray } from "./types.js";

/**
 * The column buffer holds at most this many doubles (8 MiB); larger problems are processed in bands of
 * output (conv2d) or input (convTranspose2d) rows, so memory stays bounded for big images.
 */
const COL_LIMIT = 1 << 20;

let colBuf = new Float64Array(1024);

function cols(size: number): Float64Array {
  if (colBuf.length < size) colBuf = new Float64Array(size);
  return colBuf;
}

export interface ConvArgs {
  x: FloatArray;
  xOff: number;
  /** [N, C, H, W] */
  xShape: readonly number[];
  w: FloatArray;
  wOff: number;
  /** conv2d: [O, C/g, kh, kw]; convTranspose2d: [C, O/g, kh, kw] */
  wShape: readonly number[];
  bias: FloatArray | null;
  biasOff: number;
  out: FloatArray;
  /** [N, O, Ho, Wo] */
  outShape: readonly number[];
}

export function conv2dKernel(args: ConvArgs, attrs: ConvAttrs): void {
  const { x, w, out } = args;
  const [N, C, H, W] = args.xShape as [number, number, number, number];
  const [O, , kh, kw] = args.wShape as [number, number, number, number];
  const [, , Ho, Wo] = args.outShape as [number, number, number, number];
  const [sh, sw] = attrs.stride;
  const [ph, pw] = attrs.padding;
  const [dh, dw] = attrs.dilation;
  const g = attrs.groups;
  const Cg = C / g;
  const Og = O / g;
  const Kc = Cg * kh * kw;
  const P = Ho * Wo;
  if (N * O * P === 0) return;
  const direct = kh === 1 && kw === 1 && sh === 1 && sw === 1 && ph === 0 && pw === 0;
  const band = Math.max(1, Math.min(Ho, Math.floor(COL_LIMIT / Math.max(Kc * Wo, 1))));
  const col = direct ? null : cols(Kc * band * Wo);
  for (let n = 0; n < N; n++) {
    for (let gi = 0; gi < g; gi++) {
      const xg = args.xOff + (n * C + gi * Cg) * H * W;
      const og = (n * O + gi * Og) * P;
      const wg = args.wOff + gi * Og * Kc;
      if (col === null) {
        gemm(Og, P, Kc, w, wg, Kc, 1, x, xg, H * W, 1, out, og, P, false);
        continue;
      }
      for (let oy0 = 0; oy0 < Ho; oy0 += band) {
        const rows = Math.min(band, Ho - oy0);
        const L = rows * Wo;
        im2col(x, xg, H, W, Cg, kh, kw, sh, sw, ph, pw, dh, dw, oy0, rows, Wo, col);
        gemm(Og, L, Kc, w, wg, Kc, 1, col, 0, L, 1, out, og + oy0 * Wo, P, false);
      }
    }
  }
  addBias(args, N, O, P);
}

function im2col(
  x: FloatArray,
  xg: number,
  H: number,
  W: number,
  Cg: number,
  kh: number,
  kw: number,
  sh: number,
  sw: number,
  ph: number,
  pw: number,
  dh: number,
  dw: number,
  oy0: number,
  rows: number,
  Wo: number,
  col: Float64Array,
): void {
  const L = rows * Wo;
  for (let c = 0; c < Cg; c++) {
    const plane = xg + c * H * W;
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        let q = ((c * kh + ky) * kw + kx) * L;
        const xoff = kx * dw - pw;
        for (let oy = oy0; oy < oy0 + rows; oy++) {
          const iy = oy * sh - ph + ky * dh;
          if (iy < 0 || iy >= H) {
            col.fill(0, q, q + Wo);
            q += Wo;
            continue;
          }
          const row = plane + iy * W;
          for (let ox = 0, ix = xoff; ox < Wo; ox++, ix += sw, q++)
            col[q] = ix >= 0 && ix < W ? x[row + ix]! : 0;
        }
      }
    }
  }
}

export function convTranspose2dKernel(args: ConvArgs, attrs: ConvTransposeAttrs): void {
  const { x, w, out } = args;
  const [N, C, H, W] = args.xShape as [number, number, number, number];
  const [, Og, kh, kw] = args.wShape as [number, number, number, number];
  const [, O, Ho, Wo] = args.outShape as [number, number, number, number];
  const [sh, sw] = attrs.stride;
  const [ph, pw] = attrs.padding;
  const [dh, dw] = attrs.dilation;
  const g = attrs.groups;
  const Cg = C / g;
  const R = Og * kh * kw;
  const P = H * W;
  const Po = Ho * Wo;
  out.fill(0, 0, N * O * Po);
  if (N * O * Po === 0) return;
  const band = Math.max(1, Math.min(H, Math.floor(COL_LIMIT / Math.max(R * W, 1))));
  const col = cols(R * band * W);
  for (let n = 0; n < N; n++) {
    for (let gi = 0; gi < g; gi++) {
      const xg = args.xOff + (n * C + gi * Cg) * P;
      const wg = args.wOff + gi * Cg * R;
      const ob = (n * O + gi * Og) * Po;
      for (let iy0 = 0; iy0 < H; iy0 += band) {
        const rows = Math.min(band, H - iy0);
        const L = rows * W;
        // col[R, L] = W_gᵀ · x_g (input rows iy0..iy0+rows), W_g stored [Cg, R]: the transpose is a stride swap.
        gemm(R, L, Cg, w, wg, 1, R, x, xg + iy0 * W, P, 1, col, 0, L, false);
        col2im(col, L, out, ob, Og, kh, kw, sh, sw, ph, pw, dh, dw, iy0, rows, W, Ho, Wo);
      }
    }
  }
  addBias(args, N, O, Po);
}

/** Scatter-adds col[(o,ky,kx), (iy,ix)] for input rows iy0..iy0+rows into out planes [Og, Ho, Wo]. */
function col2im(
  col: Float64Array,
  L: number,
  out: FloatArray,
  ob: number,
  Og: number,
  kh: number,
  kw: number,
  sh: number,
  sw: number,
  ph: number,
  pw: number,
  dh: number,
  dw: number,
  iy0: number,
  rows: number,
  W: number,
  Ho: number,
  Wo: number,
): void {
  const Po = Ho * Wo;
  for (let o = 0; o < Og; o++) {
    const plane = ob + o * Po;
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        let q = ((o * kh + ky) * kw + kx) * L;
        for (let iy = iy0; iy < iy0 + rows; iy++) {
          const oy = iy * sh - ph + ky * dh;
          if (oy < 0 || oy >= Ho) {
            q += W;
            continue;
          }
          const row = plane + oy * Wo;
          for (let ix = 0, ox = kx * dw - pw; ix < W; ix++, ox += sw, q++) {
            if (ox >= 0 && ox < Wo) out[row + ox]! += col[q]!;
          }
        }
      }
    }
  }
}

function addBias(args: ConvArgs, N: number, O: number, P: number): void {
  const { bias, out } = args;
  if (!bias) return;
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      const b = bias[args.biasOff + o]!;
      const base = (n * O + o) * P;
      for (let p = 0; p < P; p++) out[base + p]! += b;
    }
  }
}
