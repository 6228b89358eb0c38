/**
 * Core's two in-place ops, both for training state: `assign` (torch's `copy_`, used by optimizers,
 * `loadStateDict` and running statistics) and the Adam / AdamW parameter update (the optimizers in
 * @tessera/nn call it once per parameter per step; fused kernel when the backend has one, else a
 * composite whose results are copied back into param, m and v).
 */
import type { AdamAttrs } from "../backend.js";
import { isHalf } from "../dtype.js";
import { tidy } from "../engine.js";
import { broadcastShapes, fmtShape, shapesEqual } from "../shape.js";
import type { Tensor } from "../tensor.js";
import { traced } from "../trace.js";
import { broadcastView, sameBackend } from "./dispatch.js";
import { add, div, mul, sqrt, sub } from "./elementwise.js";
import { fusedKernel, requireFloat } from "./internal.js";

export interface AdamUpdateOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** true: AdamW (decay applied to the parameter); false (default): Adam (L2 term added to the gradient). */
  decoupled?: boolean;
  /** 1-based step count including this update (for the bias corrections). */
  step: number;
}

/**
 * One Adam/AdamW step, in place on `param`, `m` (first moment) and `v` (second moment), like torch 1.13's
 * single-tensor implementation:
 *   AdamW: p ← p·(1 − lr·wd);  Adam: g ← g + wd·p
 *   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
 *   p ← p − (lr / (1−β1^t)) · m / (sqrt(v) / sqrt(1−β2^t) + eps)
 * `grad` is read only. All four tensors share a shape and a floating dtype.
 */
export const adamUpdate = traced(
  "adamUpdate",
  function adamUpdate(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, opts: AdamUpdateOptions): void {
    const op = "adamUpdate";
    sameBackend(op, { param, grad, m, v });
    requireFloat(op, param, "param");
    for (const [name, t] of [
      ["grad", grad],
      ["m", m],
      ["v", v],
    ] as const) {
      if (!shapesEqual(t.shape, param.shape) || t.dtype !== param.dtype) {
        throw new RangeError(
          `${op}: ${name} is ${t.dtype} ${fmtShape(t.shape)} but param is ${param.dtype} ${fmtShape(param.shape)}`,
        );
      }
    }
    const attrs: AdamAttrs = {
      lr: opts.lr,
      beta1: opts.beta1 ?? 0.9,
      beta2: opts.beta2 ?? 0.999,
      eps: opts.eps ?? 1e-8,
      weightDecay: opts.weightDecay ?? 0,
      decoupled: opts.decoupled ?? false,
      step: opts.step,
    };
    if (!(attrs.lr >= 0)) throw new RangeError(`${op}: lr must be >= 0, got ${attrs.lr}`);
    for (const b of ["beta1", "beta2"] as const) {
      if (!(attrs[b] >= 0 && attrs[b] < 1))
        throw new RangeError(`${op}: ${b} must be in [0, 1), got ${attrs[b]}`);
    }
    if (!(attrs.eps >= 0)) throw new RangeError(`${op}: eps must be >= 0, got ${attrs.eps}`);
    if (!(attrs.weightDecay >= 0))
      throw new RangeError(`${op}: weightDecay must be >= 0, got ${attrs.weightDecay}`);
    if (!Number.isInteger(attrs.step) || attrs.step < 1) {
      throw new RangeError(
        `${op}: step must be a positive integer (1 for the first update), got ${attrs.step}`,
      );
    }
    if (param.size === 0) return;
    // Autograd refuses a backward that would read a tensor this update changed after it was saved.
    param.storage.version++;
    m.storage.version++;
    v.storage.version++;

    const kernel = fusedKernel(param.backend, op);
    // The kernel updates contiguous buffers in place; views with gaps go through the composite.
    if (kernel && param.isContiguous && m.isContiguous && v.isContiguous) {
      const g = grad.contiguous();
      try {
        kernel(param.kernelView, g.kernelView, m.kernelView, v.kernelView, attrs);
      } finally {
        g.dispose();
      }
      return;
    }
    const { lr, beta1, beta2, eps, weightDecay, decoupled, step } = attrs;
    tidy(() => {
      // Half-precision state is updated in float32 and rounded once when written back.
      const f32 = (t: Tensor) => (isHalf(t.dtype) ? t.cast("float32") : t);
      let g = f32(grad);
      let p = f32(param);
      const mf = f32(m);
      const vf = f32(v);
      if (weightDecay !== 0) {
        if (decoupled) p = mul(p, 1 - lr * weightDecay);
        else g = add(g, mul(p, weightDecay));
      }
      const m1 = add(mul(mf, beta1), mul(g, 1 - beta1));
      const v1 = add(mul(vf, beta2), mul(mul(g, g), 1 - beta2));
      const denom = add(div(sqrt(v1), Math.sqrt(1 - beta2 ** step)), eps);
      const p1 = sub(p, mul(div(m1, denom), lr / (1 - beta1 ** step)));
      const backend = param.backend;
      backend.copy(m1.kernelView, m.kernelView);
      backend.copy(v1.kernelView, v.kernelView);
      backend.copy(p1.kernelView, param.kernelView);
    });
  },
);

/**
 * Copies `src` into `dst` in place, like torch's `dst.copy_(src)`: `src` broadcasts to `dst`'s shape
 * and is converted to `dst`'s dtype (float→int truncates toward zero). `dst` may be a view; writing
 * through it changes the tensor it views. Not recorded by autograd: call it on leaves (parameters,
 * buffers, optimizer state) outside the graph.
 *
 * @example
 * const w = zeros([2, 3]);
 * assign(w, tensor([1, 2, 3])); // every row of w is now [1, 2, 3]
 */
export const assign = traced("assign", function assign(dst: Tensor, src: Tensor): void {
  const op = "assign";
  sameBackend(op, { dst, src });
  dst.assertAlive(op);
  src.assertAlive(op);
  const target = broadcastShapes(src.shape, dst.shape, op);
  if (!shapesEqual(target, dst.shape)) {
    throw new RangeError(
      `${op}: src of shape ${fmtShape(src.shape)} does not broadcast to dst's shape ${fmtShape(dst.shape)}`,
    );
  }
  if (dst.size === 0) return;
  const s = broadcastView(src, dst.shape);
  // Overlapping source and destination (a tensor assigned a view of itself) goes through a copy.
  const from = src.storage === dst.storage ? s.clone() : s;
  try {
    dst.storage.version++;
    dst.backend.copy(from.kernelView, dst.kernelView);
  } finally {
    if (from !== s) from.dispose();
    s.dispose();
  }
});
