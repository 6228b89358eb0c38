/**
 * The backward kernels of fused ops as core functions, for autograd's gradient rules: each checks its
 * operands, makes them contiguous, allocates the gradients and runs `backend.fused.<name>`.
 *
 * They have no composite: a rule calls one only where the backend has the kernel
 * (`backend.fused.softmaxBackward`…) and differentiates with core ops elsewhere, so calling one on a
 * backend without the kernel is an error. They are not traced: rules run inside backward, which
 * records nothing (gradients of gradients are not supported).
 */
import type { FusedBackwardKernelName, FusedKernels } from "../backend.js";
import { tidy } from "../engine.js";
import { broadcastShapes, fmtShape, normalizeDim, numel, shapesEqual } from "../shape.js";
import { Tensor } from "../tensor.js";
import type { GeluOptions } from "./activation.js";
import { type AttentionOptions, additiveAttentionMask } from "./attention.js";
import { zeros } from "./creation.js";
import { sameBackend } from "./dispatch.js";
import { fusedKernel, requireFloat, withContiguous } from "./internal.js";

function backwardKernel<K extends FusedBackwardKernelName>(op: K, t: Tensor): FusedKernels[K] {
  const k = fusedKernel(t.backend, op);
  if (!k) {
    throw new Error(
      `${op}: backend '${t.backendName}' has no fused ${op} kernel; differentiate the composite instead`,
    );
  }
  return k;
}

/** `dy` must match `like` (the forward input or output) in backend, dtype and shape. */
function checkGradOf(op: string, like: Tensor, name: string, dy: Tensor): void {
  sameBackend(op, { [name]: like, dy });
  requireFloat(op, like, name);
  if (dy.dtype !== like.dtype) throw new TypeError(`${op}: dy is ${dy.dtype} but ${name} is ${like.dtype}`);
  if (!shapesEqual(dy.shape, like.shape)) {
    throw new RangeError(`${op}: dy has shape ${fmtShape(dy.shape)} but ${name} has ${fmtShape(like.shape)}`);
  }
}

// ---- softmax ---------------------------------------------------------------------------------

function softmaxLikeBackward(
  op: "softmaxBackward" | "logSoftmaxBackward",
  y: Tensor,
  dy: Tensor,
  dim: number,
): Tensor {
  checkGradOf(op, y, "y", dy);
  const d = normalizeDim(dim, y.rank, op);
  const kernel = backwardKernel(op, y);
  if (y.size === 0) return Tensor.empty(y.shape, y.dtype, y.backend);
  return withContiguous([y, dy], ([yc, dyc]) => {
    const dx = Tensor.empty(y.shape, y.dtype, y.backend);
    kernel(yc!.kernelView, dyc!.kernelView, d, dx.kernelView);
    return dx;
  });
}

/** Gradient of softmax along `dim` from its output `y` and output gradient `dy`: y·(dy − Σ dy·y). */
export function softmaxBackward(y: Tensor, dy: Tensor, dim: number): Tensor {
  return softmaxLikeBackward("softmaxBackward", y, dy, dim);
}

/** Gradient of logSoftmax along `dim` from its output `y` and output gradient `dy`: dy − exp(y)·Σ dy. */
export function logSoftmaxBackward(y: Tensor, dy: Tensor, dim: number): Tensor {
  return softmaxLikeBackward("logSoftmaxBackward", y, dy, dim);
}

// ---- layer norm ------------------------------------------------------------------------------

export interface LayerNormGrads {
  dx: Tensor;
  /** [...normalizedShape], summed over the leading dims; null unless asked for. */
  dweight: Tensor | null;
  dbias: Tensor | null;
}

/**
 * Gradients of `layerNorm(x, normalizedShape, weight, bias, eps)` from the output gradient `dy`
 * (the bias itself is not needed). `want` asks for the weight and bias gradients.
 */
export function layerNormBackward(
  x: Tensor,
  weight: Tensor | null,
  dy: Tensor,
  normalizedShape: number | readonly number[],
  eps: number,
  want: { dweight?: boolean; dbias?: boolean } = {},
): LayerNormGrads {
  const op = "layerNormBackward";
  checkGradOf(op, x, "x", dy);
  sameBackend(op, { x, weight });
  const ns = typeof normalizedShape === "number" ? [normalizedShape] : [...normalizedShape];
  if (ns.length === 0 || ns.length > x.rank || !shapesEqual(x.shape.slice(x.rank - ns.length), ns)) {
    throw new RangeError(
      `${op}: normalizedShape ${fmtShape(ns)} must be non-empty and equal the trailing dims of x ${fmtShape(x.shape)}`,
    );
  }
  if (weight && (weight.dtype !== x.dtype || !shapesEqual(weight.shape, ns))) {
    throw new RangeError(
      `${op}: weight is ${weight.dtype} ${fmtShape(weight.shape)}, expected ${x.dtype} ${fmtShape(ns)}`,
    );
  }
  if (!(eps >= 0)) throw new RangeError(`${op}: eps must be >= 0, got ${eps}`);
  const kernel = backwardKernel(op, x);
  const backend = x.backendName;
  if (x.size === 0) {
    // No rows: the weight and bias gradients are empty sums.
    return {
      dx: Tensor.empty(x.shape, x.dtype, x.backend),
      dweight: want.dweight ? zeros(ns, { dtype: x.dtype, backend }) : null,
      dbias: want.dbias ? zeros(ns, { dtype: x.dtype, backend }) : null,
    };
  }
  return withContiguous([x, weight, dy], ([xc, wc, dyc]) => {
    const dx = Tensor.empty(x.shape, x.dtype, x.backend);
    const dweight = want.dweight ? Tensor.empty(ns, x.dtype, x.backend) : null;
    const dbias = want.dbias ? Tensor.empty(ns, x.dtype, x.backend) : null;
    kernel(
      xc!.kernelView,
      wc?.kernelView ?? null,
      dyc!.kernelView,
      numel(ns),
      eps,
      dx.kernelView,
      dweight?.kernelView ?? null,
      dbias?.kernelView ?? null,
    );
    return { dx, dweight, dbias };
  });
}

// ---- gelu ------------------------------------------------------------------------------------

/** Gradient of `gelu(x, opts)` from the output gradient `dy`: dy·gelu'(x). */
export function geluBackward(x: Tensor, dy: Tensor, opts: GeluOptions = {}): Tensor {
  const op = "geluBackward";
  checkGradOf(op, x, "x", dy);
  const approximate = opts.approximate ?? "none";
  if (approximate !== "none" && approximate !== "tanh") {
    throw new RangeError(`${op}: approximate must be 'none' or 'tanh', got '${String(approximate)}'`);
  }
  const kernel = backwardKernel(op, x);
  if (x.size === 0) return Tensor.empty(x.shape, x.dtype, x.backend);
  return withContiguous([x, dy], ([xc, dyc]) => {
    const dx = Tensor.empty(x.shape, x.dtype, x.backend);
    kernel(xc!.kernelView, dyc!.kernelView, approximate, dx.kernelView);
    return dx;
  });
}

// ---- attention -------------------------------------------------------------------------------

export interface AttentionGrads {
  /** [...batch, Sq, D], at the broadcast batch shape of q, k and v (sum down to an input's shape). */
  dq: Tensor;
  /** [...batch, Sk, D] */
  dk: Tensor;
  /** [...batch, Sk, Dv] */
  dv: Tensor;
  /** [...batch, Sq, Sk]: the gradient w.r.t. the logits, hence w.r.t. a float attnMask; null unless asked for. */
  dmask: Tensor | null;
}

/**
 * Gradients of `scaledDotProductAttention(q, k, v, opts)` from the output gradient `dout`
 * [...batch, Sq, Dv]. The kernel recomputes the weights from q, k and the masks; `dropoutP` and
 * `returnWeights` do not apply (a rule with a gradient for the weights differentiates with core ops).
 */
export function attentionBackward(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  dout: Tensor,
  opts: AttentionOptions = {},
  want: { dmask?: boolean } = {},
): AttentionGrads {
  const op = "attentionBackward";
  const { attnMask, keyPaddingMask } = opts;
  sameBackend(op, { q, k, v, dout, attnMask, keyPaddingMask });
  requireFloat(op, q, "q");
  for (const [name, t] of [
    ["k", k],
    ["v", v],
    ["dout", dout],
  ] as const) {
    if (t.dtype !== q.dtype) throw new TypeError(`${op}: ${name} is ${t.dtype} but q is ${q.dtype}`);
  }
  const shapes = `(q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, v ${fmtShape(v.shape)})`;
  if (q.rank < 2 || k.rank < 2 || v.rank < 2)
    throw new RangeError(`${op}: q, k and v need at least 2 dims ${shapes}`);
  const [sq, d] = q.shape.slice(-2) as [number, number];
  const [sk, dk] = k.shape.slice(-2) as [number, number];
  const [skv, dv] = v.shape.slice(-2) as [number, number];
  if (dk !== d || skv !== sk) throw new RangeError(`${op}: q, k and v do not fit together ${shapes}`);
  const batch = broadcastShapes(
    broadcastShapes(q.shape.slice(0, -2), k.shape.slice(0, -2), op),
    v.shape.slice(0, -2),
    op,
  );
  if (!shapesEqual(dout.shape, [...batch, sq, dv])) {
    throw new RangeError(
      `${op}: dout has shape ${fmtShape(dout.shape)}, expected the output's ${fmtShape([...batch, sq, dv])} ${shapes}`,
    );
  }
  const scale = opts.scale ?? 1 / Math.sqrt(d);
  if (!Number.isFinite(scale)) throw new RangeError(`${op}: scale must be finite, got ${scale}`);
  const kernel = backwardKernel(op, q);
  const logitsShape = [...batch, sq, sk];
  const b = numel(batch);
  return tidy(() => {
    const shaped = (t: Tensor, shape: number[]) => t.reshape([...batch, ...shape]);
    const dq = Tensor.empty([b, sq, d], q.dtype, q.backend);
    const dkT = Tensor.empty([b, sk, d], q.dtype, q.backend);
    const dvT = Tensor.empty([b, sk, dv], q.dtype, q.backend);
    const dmask = want.dmask ? Tensor.empty([b, sq, sk], q.dtype, q.backend) : null;
    if (numel(logitsShape) === 0) {
      // No logits: the output was 0 or empty and depends on nothing.
      for (const t of [dq, dkT, dvT]) if (t.size > 0) t.backend.fill(t.kernelView, 0);
    } else {
      const flat = (t: Tensor, rows: number, cols: number) =>
        t
          .expand([...batch, rows, cols])
          .reshape([b, rows, cols])
          .contiguous();
      const mask = additiveAttentionMask(attnMask, keyPaddingMask, batch.length, q.dtype, q.backendName);
      kernel(
        flat(q, sq, d).kernelView,
        flat(k, sk, d).kernelView,
        flat(v, sk, dv).kernelView,
        mask ? flat(mask.expand(logitsShape), sq, sk).kernelView : null,
        flat(dout, sq, dv).kernelView,
        { scale, causal: opts.isCausal ?? false },
        dq.kernelView,
        dkT.kernelView,
        dvT.kernelView,
        dmask?.kernelView ?? null,
      );
    }
    return {
      dq: shaped(dq, [sq, d]),
      dk: shaped(dkT, [sk, d]),
      dv: shaped(dvT, [sk, dv]),
      dmask: dmask ? shaped(dmask, [sq, sk]) : null,
    };
  });
}
