/**
 * Scaled-dot-product attention with online softmax (flash-attention style, on the CPU): queries are
 * processed in blocks of TQ rows, keys in tiles of TK; a tile's logits come from the packed GEMM, then
 * each row rescales its running max, denominator and output accumulator. Memory is O(TQ·(TK+Dv)), so
 * the Sq×Sk matrix exists only when the caller asks for `weights` (then one tile spans all keys).
 * Masking follows PyTorch: the float mask is added, `causal` sets logits of keys j > i to -Inf, and a
 * row with every key masked yields NaN (0/0) in the output and in the weights.
 */
import { gemm } from "./matmul.js";
import type { FloatArray } from "./types.js";

const TQ = 64;
const TK = 128;

let scores = new Float64Array(TQ * TK);
let acc = new Float64Array(TQ * 64);
const rowMax = new Float64Array(TQ);
const rowSum = new Float64Array(TQ);

export interface AttentionArgs {
  q: FloatArray;
  qOff: number;
  k: FloatArray;
  kOff: number;
  v: FloatArray;
  vOff: number;
  mask: FloatArray | null;
  maskOff: number;
  B: number;
  Sq: number;
  Sk: number;
  D: number;
  Dv: number;
  scale: number;
  causal: boolean;
  out: FloatArray;
  outOff: number;
  weights: FloatArray | null;
  weightsOff: number;
}

export function attentionKernel(args: AttentionArgs): void {
  const { q, k, v, mask, B, Sq, Sk, D, Dv, scale, causal, out, weights } = args;
  if (B * Sq === 0) return;
  if (Sk === 0) {
    // Softmax over no keys is empty and the weighted sum of no values is 0 (PyTorch's composite gives 0).
    out.fill(0, args.outOff, args.outOff + B * Sq * Dv);
    return;
  }
  const tkMax = weights ? Sk : Math.min(TK, Sk);
  if (scores.length < TQ * tkMax) scores = new Float64Array(TQ * tkMax);
  if (acc.length < TQ * Dv) acc = new Float64Array(TQ * Dv);
  const S = scores;
  const A = acc;
  for (let b = 0; b < B; b++) {
    const qb = args.qOff + b * Sq * D;
    const kb = args.kOff + b * Sk * D;
    const vb = args.vOff + b * Sk * Dv;
    const mb = args.maskOff + b * Sq * Sk;
    for (let i0 = 0; i0 < Sq; i0 += TQ) {
      const tq = Math.min(TQ, Sq - i0);
      rowMax.fill(Number.NEGATIVE_INFINITY);
      rowSum.fill(0);
      A.fill(0, 0, tq * Dv);
      for (let j0 = 0; j0 < Sk; j0 += tkMax) {
        // Every key of this tile and later ones lies above the diagonal for every query of the block.
        if (causal && j0 > i0 + tq - 1) break;
        const tk = Math.min(tkMax, Sk - j0);
        gemm(tq, tk, D, q, qb + i0 * D, D, 1, k, kb + j0 * D, 1, D, S, 0, tk, false);
        for (let r = 0; r < tq; r++) {
          const i = i0 + r;
          const sr = r * tk;
          let mt = Number.NEGATIVE_INFINITY;
          const mrow = mb + i * Sk + j0;
          for (let c = 0; c < tk; c++) {
            let s = S[sr + c]! * scale;
            if (mask) s += mask[mrow + c]!;
            if (causal && j0 + c > i) s = Number.NEGATIVE_INFINITY;
            S[sr + c] = s;
            if (s > mt) mt = s;
          }
          const mOld = rowMax[r]!;
          const mNew = Math.max(mt, mOld);
          if (mNew === Number.NEGATIVE_INFINITY) {
            // Nothing unmasked yet: the tile contributes nothing (exp(-Inf - -Inf) would be NaN).
            S.fill(0, sr, sr + tk);
            continue;
          }
          let l = 0;
          for (let c = 0; c < tk; c++) {
            const p = Math.exp(S[sr + c]! - mNew);
            S[sr + c] = p;
            l += p;
          }
          if (mNew !== mOld) {
            const corr = Math.exp(mOld - mNew);
            rowSum[r] = rowSum[r]! * corr + l;
            for (let d = 0, p = r * Dv; d < Dv; d++, p++) A[p] = A[p]! * corr;
            rowMax[r] = mNew;
          } else rowSum[r] = rowSum[r]! + l;
        }
        gemm(tq, Dv, tk, S, 0, tk, 1, v, vb + j0 * Dv, Dv, 1, A, 0, Dv, true);
        if (weights) {
          // One tile spans every key here, so rowSum is final.
          for (let r = 0; r < tq; r++) {
            const inv = 1 / rowSum[r]!;
            const wp = args.weightsOff + (b * Sq + i0 + r) * Sk;
            for (let c = 0; c < tk; c++) weights[wp + c] = S[r * tk + c]! * inv;
          }
        }
      }
      for (let r = 0; r < tq; r++) {
        const inv = 1 / rowSum[r]!;
        const op = args.outOff + (b * Sq + i0 + r) * Dv;
        for (let d = 0; d < Dv; d++) out[op + d] = A[r * Dv + d]! * inv;
      }
    }
  }
}
