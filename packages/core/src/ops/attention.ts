/**
 * Scaled dot-product attention: softmax(q·kᵀ·scale + mask)·v, torch.nn.functional.scaled_dot_product_attention
 * semantics plus nn.MultiheadAttention's key padding mask.
 *
 * Masks (all optional, combined by addition into one float mask):
 * - `attnMask`: bool, true = may attend (F.sdpa convention; note nn.MultiheadAttention's bool mask is the
 *   opposite), or float, added to the logits (-Inf forbids). Broadcastable to [..., Sq, Sk].
 * - `keyPaddingMask`: bool, true = ignore that key (nn.MultiheadAttention convention). Shape [B, Sk] where B
 *   is the first dim of q (for [B,H,Sq,D] inputs this masks key j of batch element b in every head), or
 *   [Sk] for all batch elements.
 * - `isCausal`: query i sees keys j ≤ i (top-left aligned, like torch's tril(ones(Sq, Sk))). May be
 *   combined with the masks above.
 * A query row whose keys are all masked yields NaN, as in PyTorch.
 *
 * Fused path: the backend kernel on [B,Sq,D] with the batch dims flattened and the masks as one float
 * [B,Sq,Sk] mask. Composite: matmul, add, softmax, matmul — softmax is a named step so weights can be
 * returned.
 */

import { type DType, isHalf } from "../dtype.js";
import { tidy } from "../engine.js";
import { broadcastShapes, fmtShape, numel, shapesEqual } from "../shape.js";
import { Tensor } from "../tensor.js";
import { traced } from "../trace.js";
import { softmax } from "./activation.js";
import { tensor, zeros } from "./creation.js";
import { sameBackend } from "./dispatch.js";
import { add, logicalNot, maskedFill, mul } from "./elementwise.js";
import { fusedKernel, requireFloat } from "./internal.js";
import { matmul } from "./linalg.js";

export interface AttentionOptions {
  /** bool (true = may attend) or float (added to the logits), broadcastable to [..., Sq, Sk]. */
  attnMask?: Tensor | null;
  /** bool [B, Sk] (B = q.shape[0]) or [Sk]; true = ignore that key. */
  keyPaddingMask?: Tensor | null;
  /** Query i attends to keys j ≤ i. */
  isCausal?: boolean;
  /** Logit scale; default 1/sqrt(D). */
  scale?: number;
  /** Attention dropout; only 0 is supported for now. */
  dropoutP?: number;
  /** Also return the post-softmax weights [..., Sq, Sk]. */
  returnWeights?: boolean;
}

export interface AttentionResult {
  /** [..., Sq, Dv] */
  output: Tensor;
  /** [..., Sq, Sk], post-softmax. */
  weights: Tensor;
}

/**
 * The additive float mask (0 where a key may be attended, -Inf where not, or the float `attnMask`'s
 * values) for `attnMask` and `keyPaddingMask`, or null when neither is given. `batchRank` is the rank
 * of the logits' batch dims, so a [B, Sk] key padding mask lines up with their first dim. Used by the
 * composite and by the gradient rule, which rebuilds the logits in backward.
 */
export function additiveAttentionMask(
  attnMask: Tensor | null | undefined,
  keyPaddingMask: Tensor | null | undefined,
  batchRank: number,
  dtype: DType,
  backend: string,
): Tensor | null {
  const toFloat = (m: Tensor, disallow: (m: Tensor) => Tensor): Tensor =>
    m.dtype === "bool"
      ? maskedFill(zeros(m.shape, { dtype, backend }), disallow(m), -Infinity)
      : m.cast(dtype);
  let mask: Tensor | null = null;
  if (attnMask) mask = toFloat(attnMask, logicalNot);
  if (keyPaddingMask) {
    const kp =
      keyPaddingMask.rank === 2
        ? keyPaddingMask.reshape([
            keyPaddingMask.shape[0]!,
            ...new Array<number>(Math.max(batchRank - 1, 0)).fill(1),
            1,
            keyPaddingMask.shape[1]!,
          ])
        : keyPaddingMask;
    const kpf = toFloat(kp, (m) => m);
    mask = mask ? add(mask, kpf) : kpf;
  }
  return mask;
}

/** The causal mask of an [Sq, Sk] logits matrix: -Inf above the diagonal (key j > query i), else 0. */
export function causalAttentionMask(sq: number, sk: number, dtype: DType, backend: string): Tensor {
  const m = new Float32Array(sq * sk);
  for (let i = 0; i < sq; i++) for (let j = i + 1; j < sk; j++) m[i * sk + j] = Number.NEGATIVE_INFINITY;
  return tensor(m, { shape: [sq, sk], dtype, backend });
}

function attention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  opts: AttentionOptions & { returnWeights: true },
): AttentionResult;
function attention(q: Tensor, k: Tensor, v: Tensor, opts?: AttentionOptions): Tensor;
function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor | AttentionResult {
  const op = "scaledDotProductAttention";
  const { attnMask, keyPaddingMask } = opts;
  sameBackend(op, { q, k, v, attnMask, keyPaddingMask });
  requireFloat(op, q, "q");
  const shapes = `(q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, v ${fmtShape(v.shape)})`;
  for (const [name, t] of [
    ["k", k],
    ["v", v],
  ] as const) {
    if (t.dtype !== q.dtype) throw new TypeError(`${op}: ${name} is ${t.dtype} but q is ${q.dtype}`);
  }
  if (q.rank < 2 || k.rank < 2 || v.rank < 2)
    throw new RangeError(`${op}: q, k and v need at least 2 dims ${shapes}`);
  const [sq, d] = q.shape.slice(-2) as [number, number];
  const [sk, dk] = k.shape.slice(-2) as [number, number];
  const [skv, dv] = v.shape.slice(-2) as [number, number];
  if (dk !== d) throw new RangeError(`${op}: q has head dim ${d} but k has ${dk} ${shapes}`);
  if (skv !== sk) throw new RangeError(`${op}: k has ${sk} keys but v has ${skv} ${shapes}`);
  const batch = broadcastShapes(
    broadcastShapes(q.shape.slice(0, -2), k.shape.slice(0, -2), op),
    v.shape.slice(0, -2),
    op,
  );
  const logitsShape = [...batch, sq, sk];
  if (attnMask) {
    if (attnMask.dtype !== "bool" && attnMask.dtype !== q.dtype) {
      throw new TypeError(`${op}: attnMask must be bool or ${q.dtype} like q, got ${attnMask.dtype}`);
    }
    let fits = false;
    try {
      fits = shapesEqual(broadcastShapes(attnMask.shape, logitsShape, op), logitsShape);
    } catch {}
    if (!fits) {
      throw new RangeError(
        `${op}: attnMask ${fmtShape(attnMask.shape)} does not broadcast to the logits ${fmtShape(logitsShape)}`,
      );
    }
  }
  if (keyPaddingMask) {
    const kp = keyPaddingMask.shape;
    const ok =
      keyPaddingMask.dtype === "bool" &&
      ((kp.length === 1 && kp[0] === sk) ||
        (kp.length === 2 && batch.length >= 1 && kp[0] === batch[0] && kp[1] === sk));
    if (!ok) {
      throw new RangeError(
        `${op}: keyPaddingMask must be bool [${batch[0] ?? "B"}, ${sk}] or [${sk}], got ${keyPaddingMask.dtype} ${fmtShape(kp)} ${shapes}`,
      );
    }
  }
  if (opts.dropoutP !== undefined && opts.dropoutP !== 0) {
    throw new RangeError(
      `${op}: dropoutP ${opts.dropoutP} is not supported yet; apply dropout to the returned weights instead`,
    );
  }
  const scale = opts.scale ?? 1 / Math.sqrt(d);
  if (!Number.isFinite(scale)) throw new RangeError(`${op}: scale must be finite, got ${scale}`);
  const causal = opts.isCausal ?? false;
  const wantWeights = opts.returnWeights ?? false;

  const kernel = fusedKernel(q.backend, "attention");
  const result = tidy(() => {
    const mask = additiveAttentionMask(attnMask, keyPaddingMask, batch.length, q.dtype, q.backendName);
    if (kernel && numel(logitsShape) > 0 && d > 0) {
      const b = numel(batch);
      const flat = (t: Tensor, rows: number, cols: number) =>
        t
          .expand([...batch, rows, cols])
          .reshape([b, rows, cols])
          .contiguous();
      const out = Tensor.empty([b, sq, dv], q.dtype, q.backend);
      const weights = wantWeights ? Tensor.empty([b, sq, sk], q.dtype, q.backend) : null;
      kernel(
        flat(q, sq, d).kernelView,
        flat(k, sk, d).kernelView,
        flat(v, sk, dv).kernelView,
        mask ? flat(mask.expand(logitsShape), sq, sk).kernelView : null,
        { scale, causal },
        out.kernelView,
        weights?.kernelView ?? null,
      );
      return { output: out.reshape([...batch, sq, dv]), weights: weights?.reshape(logitsShape) ?? null };
    }
    // Half inputs compute in float32 (logits rounded to bf16 would visibly skew the weights).
    const half = isHalf(q.dtype);
    const f32 = (t: Tensor) => (half ? t.cast("float32") : t);
    let logits = mul(matmul(f32(q), f32(k).mT), scale);
    if (mask) logits = add(logits, f32(mask));
    if (causal) logits = add(logits, f32(causalAttentionMask(sq, sk, q.dtype, q.backendName)));
    const weights = softmax(logits, -1);
    const output = matmul(weights, f32(v));
    const back = (t: Tensor) => (half ? t.cast(q.dtype) : t);
    return { output: back(output), weights: wantWeights ? back(weights) : null };
  });
  if (wantWeights) return { output: result.output, weights: result.weights! };
  return result.output;
}

/**
 * softmax(q·kᵀ·scale + masks)·v for q [..., Sq, D], k [..., Sk, D], v [..., Sk, Dv] (batch dims broadcast).
 * Returns the output [..., Sq, Dv]; with `returnWeights: true` returns `{ output, weights }`.
 */
export const scaledDotProductAttention = traced("scaledDotProductAttention", attention);
