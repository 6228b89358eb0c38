/**
 * Scaled dot-product attention. The rule applies where the backend has the fused kernel; elsewhere
 * the core composite (matmul, add, softmax, matmul) is differentiated.
 *
 * Memory: when the weights were not requested the rule saves only q, k, v and the masks (O(S·D))
 * and recomputes the S×S softmax weights in backward, one extra q·kᵀ, like flash attention. When
 * they were requested they exist anyway, so they are saved instead of recomputed.
 *
 * With P the weights, dO the output gradient and dW the weights' gradient:
 *   dv = Pᵀ·dO,  dP = dO·vᵀ + dW,  dS = P·(dP − Σ_k dP·P),  dq = dS·k·scale,  dk = dSᵀ·q·scale,
 * and a float attnMask (added to the logits) receives dS, summed to its shape by the engine.
 *
 * Where the backend has the attentionBackward kernel and the weights were not returned (the kernel
 * takes no weights gradient), the kernel computes all of this from q, k, v and the masks instead.
 */
import {
  type AttentionOptions,
  additiveAttentionMask,
  attentionBackward,
  causalAttentionMask,
  isHalf,
  matmul,
  numel,
  softmax,
  sum,
  type Tensor,
  tidy,
} from "@tessera/core";
import { hasFused, inDtypeOf, registerGradRule } from "../registry.js";

type AttentionArgs = [Tensor, Tensor, Tensor, AttentionOptions?];

/** Whether backward runs the backend's kernel (with the forward kernel's size limits). */
function kernelBackward([q, k, , opts]: AttentionArgs): boolean {
  return (
    hasFused(q, "attentionBackward") &&
    !opts?.returnWeights &&
    q.shape[q.rank - 1]! > 0 &&
    numel(q.shape.slice(0, -1)) * k.shape[k.rank - 2]! > 0
  );
}

registerGradRule<AttentionArgs>("scaledDotProductAttention", {
  inputs: ([q, k, v, opts]) => [q, k, v, opts?.attnMask?.dtype === "bool" ? null : (opts?.attnMask ?? null)],
  outputs: (out) => {
    if (out && typeof out === "object" && "output" in out) {
      const r = out as { output: Tensor; weights: Tensor };
      return [r.output, r.weights];
    }
    return [out as Tensor];
  },
  applies: ([q]) => hasFused(q, "attention"),
  save: (args, out, needs) => {
    const [q, k, v, opts] = args;
    const weights = opts?.returnWeights ? (out as { weights: Tensor }).weights : null;
    return [
      q,
      k,
      needs[0] || needs[1] || needs[3] || kernelBackward(args) ? v : null,
      weights ? null : (opts?.attnMask ?? null),
      weights ? null : (opts?.keyPaddingMask ?? null),
      weights,
    ];
  },
  backward: (grads, ctx) => {
    const opts = ctx.args[3] ?? {};
    const [sq0, k0, v0, attnMask, keyPadding, savedWeights] = ctx.saved;
    if (kernelBackward(ctx.args)) {
      const { dq, dk, dv, dmask } = attentionBackward(
        sq0!,
        k0!,
        v0!,
        inDtypeOf(grads[0]!, sq0!),
        { attnMask, keyPaddingMask: keyPadding, isCausal: opts.isCausal ?? false, scale: opts.scale },
        { dmask: ctx.needs[3] },
      );
      return [ctx.needs[0] ? dq : null, ctx.needs[1] ? dk : null, ctx.needs[2] ? dv : null, dmask];
    }
    const dtype = isHalf(sq0!.dtype) ? "float32" : (sq0!.dtype as "float32" | "float64");
    const f = (t: Tensor) => (t.dtype === dtype ? t : t.cast(dtype));
    const q = f(sq0!);
    const k = f(k0!);
    const d = q.shape[q.rank - 1]!;
    const sq = q.shape[q.rank - 2]!;
    const sk = k.shape[k.rank - 2]!;
    const scale = opts.scale ?? 1 / Math.sqrt(d);
    const dOut = f(grads[0]!);
    const batchRank = dOut.rank - 2;

    let p: Tensor;
    if (savedWeights) p = f(savedWeights);
    else {
      let logits = matmul(q, k.mT).mul(scale);
      const mask = additiveAttentionMask(attnMask, keyPadding, batchRank, dtype, q.backendName);
      if (mask) logits = logits.add(mask);
      if (opts.isCausal) logits = logits.add(causalAttentionMask(sq, sk, dtype, q.backendName));
      p = softmax(logits, -1);
    }

    const needV = ctx.needs[2];
    const needS = ctx.needs[0] || ctx.needs[1] || ctx.needs[3];
    const dv = needV ? matmul(p.mT, dOut) : null;
    if (!needS) return [null, null, dv, null];
    // Nested tidies keep at most a few S×S temporaries alive at once.
    const ds = tidy(() => {
      let dp = matmul(dOut, f(ctx.saved[2]!).mT);
      if (grads[1]) dp = dp.add(f(grads[1]));
      const rowDot = tidy(() => sum(dp.mul(p), -1, true));
      return p.mul(tidy(() => dp.sub(rowDot)));
    });
    return [
      ctx.needs[0] ? matmul(ds, k).mul(scale) : null,
      ctx.needs[1] ? matmul(ds.mT, q).mul(scale) : null,
      dv,
      ctx.needs[3] ? ds : null,
    ];
  },
});
