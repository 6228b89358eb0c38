/**
 * Batched matmul. Float32/float64 run a packed, cache-blocked GEMM (the GotoBLAS loop nest): B is packed
 * into KC×NR column panels and A into MR×KC row panels, both as Float64Array so the micro-kernel reads
 * doubles without conversion and one monomorphic kernel serves both dtypes. The 4×8 micro-kernel keeps
 * its 32 accumulators in locals with k innermost over contiguous panel memory; accumulating in float64
 * is more accurate than the float32 BLAS convention at no cost in JS, where every number is a double.
 * Panels are zero-padded to whole MR/NR tiles so the kernel never branches on edges inside the k loop.
 * Tiny products and int32 take a straightforward loop.
 */
import { broadcastShapes, broadcastStrides, contiguousStrides } from "@tessera/core";
import type { FloatArray, NumArray } from "./types.js";

const MR = 4;
const NR = 8;
/** k-block: an MR×KC A panel plus a KC×NR B panel (24 KiB of doubles) stay in L1 across the k loop. */
const KC = 256;
/** m-block: the packed A block (MC×KC doubles, 128 KiB) stays in L2 while B panels stream past it. */
const MC = 64;
/** n-block: bounds the packed B block (KC×NC doubles, 2 MiB). */
const NC = 1024;

// Packing buffers grow to the largest block seen and are reused by every call (kernels are synchronous).
const packA = new Float64Array(MC * KC);
let packB = new Float64Array(KC * NR * 16);
const edge = new Float64Array(MR * NR);

function micro(
  ap: Float64Array,
  ai: number,
  bp: Float64Array,
  bi: number,
  kc: number,
  c: FloatArray,
  co: number,
  ldc: number,
  mr: number,
  nr: number,
): void {
  let c00 = 0,
    c01 = 0,
    c02 = 0,
    c03 = 0,
    c04 = 0,
    c05 = 0,
    c06 = 0,
    c07 = 0;
  let c10 = 0,
    c11 = 0,
    c12 = 0,
    c13 = 0,
    c14 = 0,
    c15 = 0,
    c16 = 0,
    c17 = 0;
  let c20 = 0,
    c21 = 0,
    c22 = 0,
    c23 = 0,
    c24 = 0,
    c25 = 0,
    c26 = 0,
    c27 = 0;
  let c30 = 0,
    c31 = 0,
    c32 = 0,
    c33 = 0,
    c34 = 0,
    c35 = 0,
    c36 = 0,
    c37 = 0;
  for (let p = 0; p < kc; p++, ai += 4, bi += 8) {
    const a0 = ap[ai]!;
    const a1 = ap[ai + 1]!;
    const a2 = ap[ai + 2]!;
    const a3 = ap[ai + 3]!;
    const b0 = bp[bi]!;
    c00 += a0 * b0;
    c10 += a1 * b0;
    c20 += a2 * b0;
    c30 += a3 * b0;
    const b1 = bp[bi + 1]!;
    c01 += a0 * b1;
    c11 += a1 * b1;
    c21 += a2 * b1;
    c31 += a3 * b1;
    const b2 = bp[bi + 2]!;
    c02 += a0 * b2;
    c12 += a1 * b2;
    c22 += a2 * b2;
    c32 += a3 * b2;
    const b3 = bp[bi + 3]!;
    c03 += a0 * b3;
    c13 += a1 * b3;
    c23 += a2 * b3;
    c33 += a3 * b3;
    const b4 = bp[bi + 4]!;
    c04 += a0 * b4;
    c14 += a1 * b4;
    c24 += a2 * b4;
    c34 += a3 * b4;
    const b5 = bp[bi + 5]!;
    c05 += a0 * b5;
    c15 += a1 * b5;
    c25 += a2 * b5;
    c35 += a3 * b5;
    const b6 = bp[bi + 6]!;
    c06 += a0 * b6;
    c16 += a1 * b6;
    c26 += a2 * b6;
    c36 += a3 * b6;
    const b7 = bp[bi + 7]!;
    c07 += a0 * b7;
    c17 += a1 * b7;
    c27 += a2 * b7;
    c37 += a3 * b7;
  }
  if (mr === MR && nr === NR) {
    const r0 = co;
    c[r0] += c00;
    c[r0 + 1] += c01;
    c[r0 + 2] += c02;
    c[r0 + 3] += c03;
    c[r0 + 4] += c04;
    c[r0 + 5] += c05;
    c[r0 + 6] += c06;
    c[r0 + 7] += c07;
    const r1 = co + 1 * ldc;
    c[r1] += c10;
    c[r1 + 1] += c11;
    c[r1 + 2] += c12;
    c[r1 + 3] += c13;
    c[r1 + 4] += c14;
    c[r1 + 5] += c15;
    c[r1 + 6] += c16;
    c[r1 + 7] += c17;
    const r2 = co + 2 * ldc;
    c[r2] += c20;
    c[r2 + 1] += c21;
    c[r2 + 2] += c22;
    c[r2 + 3] += c23;
    c[r2 + 4] += c24;
    c[r2 + 5] += c25;
    c[r2 + 6] += c26;
    c[r2 + 7] += c27;
    const r3 = co + 3 * ldc;
    c[r3] += c30;
    c[r3 + 1] += c31;
    c[r3 + 2] += c32;
    c[r3 + 3] += c33;
    c[r3 + 4] += c34;
    c[r3 + 5] += c35;
    c[r3 + 6] += c36;
    c[r3 + 7] += c37;
    return;
  }
  const t = edge;
  t[0] = c00;
  t[1] = c01;
  t[2] = c02;
  t[3] = c03;
  t[4] = c04;
  t[5] = c05;
  t[6] = c06;
  t[7] = c07;
  t[8] = c10;
  t[9] = c11;
  t[10] = c12;
  t[11] = c13;
  t[12] = c14;
  t[13] = c15;
  t[14] = c16;
  t[15] = c17;
  t[16] = c20;
  t[17] = c21;
  t[18] = c22;
  t[19] = c23;
  t[20] = c24;
  t[21] = c25;
  t[22] = c26;
  t[23] = c27;
  t[24] = c30;
  t[25] = c31;
  t[26] = c32;
  t[27] = c33;
  t[28] = c34;
  t[29] = c35;
  t[30] = c36;
  t[31] = c37;
  for (let i = 0; i < mr; i++) for (let j = 0; j < nr; j++) c[co + i * ldc + j] += t[i * NR + j]!;
}

/**
 * Packs a rows×kc block of a strided matrix into `width`-wide panels, k-major inside a panel (zero
 * padding beyond `rows`). The loop order follows the source layout so reads stay sequential:
 * rows-outer when elements of a row are adjacent in k (stride along k is 1), k-outer otherwise.
 */
function packPanels(
  dst: Float64Array,
  width: number,
  src: NumArray,
  off: number,
  rowStride: number,
  kStride: number,
  rows: number,
  kc: number,
): void {
  const panels = Math.ceil(rows / width);
  for (let pnl = 0; pnl < panels; pnl++) {
    const base = pnl * width * kc;
    const r0 = pnl * width;
    const n = Math.min(width, rows - r0);
    if (n < width) for (let q = base, end = base + width * kc; q < end; q++) dst[q] = 0;
    if (kStride === 1) {
      for (let r = 0; r < n; r++) {
        let s = off + (r0 + r) * rowStride;
        for (let p = 0, q = base + r; p < kc; p++, q += width, s++) dst[q] = src[s]!;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        let s = off + p * kStride + r0 * rowStride;
        for (let r = 0, q = base + p * width; r < n; r++, q++, s += rowStride) dst[q] = src[s]!;
      }
    }
  }
}

/**
 * C[M,N] (row stride ldc) = (accumulate ? C : 0) + A·B, where A[i,k] = a[aOff + i·rsA + k·csA] and
 * B[k,j] = b[bOff + k·rsB + j·csB]: a transposed operand is just swapped strides.
 */
export function gemm(
  M: number,
  N: number,
  K: number,
  a: NumArray,
  aOff: number,
  rsA: number,
  csA: number,
  b: NumArray,
  bOff: number,
  rsB: number,
  csB: number,
  c: NumArray,
  cOff: number,
  ldc: number,
  accumulate: boolean,
): void {
  if (M === 0 || N === 0) return;
  if (!accumulate) for (let i = 0; i < M; i++) (c as FloatArray).fill(0, cOff + i * ldc, cOff + i * ldc + N);
  if (K === 0) return;
  if (M * N * K <= 512 || M === 1 || N === 1 || !(c instanceof Float32Array || c instanceof Float64Array)) {
    smallGemm(M, N, K, a, aOff, rsA, csA, b, bOff, rsB, csB, c, cOff, ldc);
    return;
  }
  for (let jc = 0; jc < N; jc += NC) {
    const nc = Math.min(NC, N - jc);
    const nPanels = Math.ceil(nc / NR);
    for (let pc = 0; pc < K; pc += KC) {
      const kc = Math.min(KC, K - pc);
      if (packB.length < nPanels * NR * kc) packB = new Float64Array(nPanels * NR * kc);
      packPanels(packB, NR, b, bOff + pc * rsB + jc * csB, csB, rsB, nc, kc);
      for (let ic = 0; ic < M; ic += MC) {
        const mc = Math.min(MC, M - ic);
        const mPanels = Math.ceil(mc / MR);
        packPanels(packA, MR, a, aOff + ic * rsA + pc * csA, rsA, csA, mc, kc);
        for (let jp = 0; jp < nPanels; jp++) {
          const j = jc + jp * NR;
          const nr = Math.min(NR, N - j);
          for (let ip = 0; ip < mPanels; ip++) {
            const i = ic + ip * MR;
            micro(
              packA,
              ip * MR * kc,
              packB,
              jp * NR * kc,
              kc,
              c,
              cOff + i * ldc + j,
              ldc,
              Math.min(MR, M - i),
              nr,
            );
          }
        }
      }
    }
  }
}

/** C += A·B with a float64 row accumulator: matrix-vector products, tiny blocks and int32. */
function smallGemm(
  M: number,
  N: number,
  K: number,
  a: NumArray,
  aOff: number,
  rsA: number,
  csA: number,
  b: NumArray,
  bOff: number,
  rsB: number,
  csB: number,
  c: NumArray,
  cOff: number,
  ldc: number,
): void {
  if (N === 1) {
    for (let i = 0; i < M; i++) {
      let s = 0;
      for (let k = 0, pa = aOff + i * rsA, pb = bOff; k < K; k++, pa += csA, pb += rsB) s += a[pa]! * b[pb]!;
      c[cOff + i * ldc]! += s;
    }
    return;
  }
  const acc = new Float64Array(N);
  for (let i = 0; i < M; i++) {
    acc.fill(0);
    for (let k = 0; k < K; k++) {
      const av = a[aOff + i * rsA + k * csA]!;
      for (let j = 0, pb = bOff + k * rsB; j < N; j++, pb += csB) acc[j]! += av * b[pb]!;
    }
    const row = cOff + i * ldc;
    for (let j = 0; j < N; j++) c[row + j]! += acc[j]!;
  }
}

export interface MatmulArgs {
  a: NumArray;
  aOffset: number;
  aShape: readonly number[];
  b: NumArray;
  bOffset: number;
  bShape: readonly number[];
  transA: boolean;
  transB: boolean;
  out: NumArray;
  outShape: readonly number[];
}

export function matmulKernel(args: MatmulArgs): void {
  const { a, b, out, aShape, bShape, transA, transB } = args;
  const ra = aShape.length;
  const rb = bShape.length;
  const M = transA ? aShape[ra - 1]! : aShape[ra - 2]!;
  const K = transA ? aShape[ra - 2]! : aShape[ra - 1]!;
  const N = transB ? bShape[rb - 2]! : bShape[rb - 1]!;
  const batchA = aShape.slice(0, -2);
  const batchB = bShape.slice(0, -2);
  const batch = broadcastShapes(batchA, batchB, "matmul");
  const sa = broadcastStrides(
    batchA,
    contiguousStrides(batchA).map((s) => s * M * K),
    batch,
  );
  const sb = broadcastStrides(
    batchB,
    contiguousStrides(batchB).map((s) => s * K * N),
    batch,
  );
  let nb = 1;
  for (const d of batch) nb *= d;
  // Strides of A as [M,K] and B as [K,N] whatever the transposition.
  const rsA = transA ? 1 : K;
  const csA = transA ? M : 1;
  const rsB = transB ? 1 : N;
  const csB = transB ? K : 1;
  const idx = new Array<number>(batch.length).fill(0);
  for (let bi = 0; bi < nb; bi++) {
    let offA = args.aOffset;
    let offB = args.bOffset;
    for (let d = 0; d < batch.length; d++) {
      offA += idx[d]! * sa[d]!;
      offB += idx[d]! * sb[d]!;
    }
    gemm(M, N, K, a, offA, rsA, csA, b, offB, rsB, csB, out, bi * M * N, N, false);
    for (let d = batch.length - 1; d >= 0; d--) {
      if (++idx[d]! < batch[d]!) break;
      idx[d] = 0;
    }
  }
}
