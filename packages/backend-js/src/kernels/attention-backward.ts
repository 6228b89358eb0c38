/**
 * The gradients of scaled-dot-product attention, materialised one batch element at a time: the
 * weights P (Sq×Sk) are recomputed from q, k, the mask and the causal flag exactly as the forward
 * computes them, then, with dO the output gradient,
 *   dv = Pᵀ·dO,  dP = dO·vᵀ,  dS = P·(dP − Σ_k dP·P),  dq = dS·k·scale,  dk = dSᵀ·q·scale,
 * and dS itself is the gradient w.r.t. the additive mask (the logits). Memory is O(Sq·Sk) per call.
 */
import { gemm } from "./matmul.js";
import { softmaxRow } from "./softmax.js";
import type { FloatArray } from "./types.js";

export interface AttentionBackwardArgs {
  q: FloatArray;
  qOff: number;
  k: FloatArray;
  kOff: number;
  v: FloatArray;
  vOff: number;
  mask: FloatArray | null;
  maskOff: number;
  dout: FloatArray;
  doutOff: number;
  B: number;
  Sq: number;
  Sk: number;
  D: number;
  Dv: number;
  scale: number;
  causal: boolean;
  dq: FloatArray;
  dqOff: number;
  dk: FloatArray;
  dkOff: number;
  dv: FloatArray;
  dvOff: number;
  dmask: FloatArray | null;
  dmaskOff: number;
}

export function attentionBackwardKernel(args: AttentionBackwardArgs): void {
  const { q, k, v, mask, dout, B, Sq, Sk, D, Dv, scale, causal, dq, dk, dv, dmask } = args;
  const P = new Float64Array(Sq * Sk);
  const dS = new Float64Array(Sq * Sk);
  for (let b = 0; b < B; b++) {
    const qb = args.qOff + b * Sq * D;
    const kb = args.kOff + b * Sk * D;
    const vb = args.vOff + b * Sk * Dv;
    const ob = args.doutOff + b * Sq * Dv;
    const mb = args.maskOff + b * Sq * Sk;
    // P = softmax(q·kᵀ·scale + mask, causal keys j > i at -Inf); a fully masked row is NaN, as forward.
    gemm(Sq, Sk, D, q, qb, D, 1, k, kb, 1, D, P, 0, Sk, false);
    for (let i = 0; i < Sq; i++) {
      const row = i * Sk;
      for (let j = 0; j < Sk; j++) {
        let s = P[row + j]! * scale;
        if (mask) s += mask[mb + row + j]!;
        if (causal && j > i) s = Number.NEGATIVE_INFINITY;
        P[row + j] = s;
      }
      softmaxRow(P, row, P, row, Sk, false);
    }
    // dv = Pᵀ·dO
    gemm(Sk, Dv, Sq, P, 0, 1, Sk, dout, ob, Dv, 1, dv, args.dvOff + b * Sk * Dv, Dv, false);
    // dS = P·(dP − Σ dP·P) with dP = dO·vᵀ
    gemm(Sq, Sk, Dv, dout, ob, Dv, 1, v, vb, 1, Dv, dS, 0, Sk, false);
    for (let i = 0; i < Sq; i++) {
      const row = i * Sk;
      let dot = 0;
      for (let j = 0; j < Sk; j++) dot += dS[row + j]! * P[row + j]!;
      for (let j = 0; j < Sk; j++) dS[row + j] = P[row + j]! * (dS[row + j]! - dot);
    }
    if (dmask) {
      const mp = args.dmaskOff + b * Sq * Sk;
      for (let i = 0; i < Sq * Sk; i++) dmask[mp + i] = dS[i]!;
    }
    for (let i = 0; i < Sq * Sk; i++) dS[i] = dS[i]! * scale;
    // dq = dS·k·scale, dk = dSᵀ·q·scale
    gemm(Sq, D, Sk, dS, 0, Sk, 1, k, kb, D, 1, dq, args.dqOff + b * Sq * D, D, false);
    gemm(Sk, D, Sq, dS, 0, 1, Sk, q, qb, D, 1, dk, args.dkOff + b * Sk * D, D, false);
  }
}
