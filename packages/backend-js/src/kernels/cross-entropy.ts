/**
 * Cross-entropy over logits [N, C] and int32 targets [N], with PyTorch 1.13's rules: class weights scale
 * each row's loss by w[target]; ignored rows contribute 0 and leave the mean's denominator
 * Σ w[target] (non-ignored rows); label smoothing mixes (1−ε)·nll with ε·(−Σ_c w_c·log p_c)/C, under
 * the same denominator.
 */
import type { CrossEntropyAttrs } from "@tessera/core";
import type { FloatArray } from "./types.js";

export interface CrossEntropyArgs {
  logits: FloatArray;
  logitsOff: number;
  N: number;
  C: number;
  target: Int32Array | Uint8Array | Float32Array | Float64Array | Uint16Array;
  targetOff: number;
  weight: FloatArray | null;
  weightOff: number;
  out: FloatArray;
  outOff: number;
}

export function crossEntropyKernel(args: CrossEntropyArgs, attrs: CrossEntropyAttrs): void {
  const { logits, N, C, target, weight, out } = args;
  const eps = attrs.labelSmoothing;
  let total = 0;
  let denom = 0;
  for (let n = 0; n < N; n++) {
    const t = target[args.targetOff + n]!;
    let loss = 0;
    if (t !== attrs.ignoreIndex) {
      if (!(t >= 0 && t < C)) {
        throw new RangeError(`crossEntropy: target ${t} at row ${n} is out of bounds for ${C} classes`);
      }
      const base = args.logitsOff + n * C;
      let m = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < C; c++) {
        const v = logits[base + c]!;
        if (v > m) m = v;
      }
      let s = 0;
      for (let c = 0; c < C; c++) s += Math.exp(logits[base + c]! - m);
      const lse = m + Math.log(s);
      const wt = weight ? weight[args.weightOff + t]! : 1;
      loss = -wt * (logits[base + t]! - lse);
      if (eps > 0) {
        let smooth = 0;
        if (weight)
          for (let c = 0; c < C; c++) smooth -= weight[args.weightOff + c]! * (logits[base + c]! - lse);
        else for (let c = 0; c < C; c++) smooth -= logits[base + c]! - lse;
        loss = (1 - eps) * loss + (eps * smooth) / C;
      }
      denom += wt;
    }
    if (attrs.reduction === "none") out[args.outOff + n] = loss;
    else total += loss;
  }
  if (attrs.reduction === "sum") out[args.outOff] = total;
  else if (attrs.reduction === "mean") out[args.outOff] = total / denom;
}
