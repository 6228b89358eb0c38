/**
 * The PyTorch-style surface on Tensor: requiresGrad, grad, gradFn, isLeaf, backward, retainGrad,
 * registerHook, detach. Attached to core's Tensor when this package is imported.
 */
import { fmtShape, isFloating, Tensor, untraced } from "@tessera/core";
import { runBackward } from "./backward.js";
import { edgeOf, ensureMeta, type GradHook, metaOf, ownedRef, requiresGradOf } from "./graph.js";

/** What `tensor.gradFn` shows: the op that produced the tensor. */
export interface GradFn {
  readonly name: string;
}

export interface BackwardOptions {
  /** Keep the graph's saved tensors so backward can run through it again. */
  retainGraph?: boolean;
}

/** A registered hook; `remove()` unregisters it. */
export interface HookHandle {
  remove(): void;
}

declare module "@tessera/core" {
  interface Tensor {
    /** Whether gradients flow to this tensor. Settable on leaves; only floating tensors can require grad. */
    requiresGrad: boolean;
    /** Sets requiresGrad in place and returns this tensor (torch's requires_grad_). */
    requiresGrad_(requiresGrad?: boolean): this;
    /** The accumulated gradient of a leaf (or of a non-leaf after retainGrad()); owned by the tensor. */
    grad: Tensor | null;
    /** The op that produced this tensor, or null for leaves and constants. */
    readonly gradFn: GradFn | null;
    /** True for tensors not produced by a recorded op (user-created tensors and parameters). */
    readonly isLeaf: boolean;
    /** Computes gradients of this tensor w.r.t. the leaves that require grad, accumulating into `.grad`. */
    backward(gradient?: Tensor | null, opts?: BackwardOptions): void;
    /** Keeps the gradient of this non-leaf in `.grad` during backward. */
    retainGrad(): void;
    /** Calls `fn` with this tensor's gradient during backward; a returned tensor replaces the gradient. */
    registerHook(fn: GradHook): HookHandle;
    /** A view of the same memory that is cut from the graph. */
    detach(): Tensor;
  }
}

function setRequiresGrad(t: Tensor, value: boolean): void {
  const m = metaOf(t);
  if (m?.gradFn) {
    if (value) return;
    throw new Error(
      "requiresGrad: cannot change it on a non-leaf tensor (the result of a recorded op); use detach() to cut it from the graph",
    );
  }
  if (value && !isFloating(t.dtype)) {
    throw new TypeError(
      `requiresGrad: only floating-point tensors can require gradients, got ${t.dtype} (shape ${fmtShape(t.shape)})`,
    );
  }
  if (!value && !m) return;
  ensureMeta(t).requiresGrad = value;
}

Object.defineProperties(Tensor.prototype, {
  requiresGrad: {
    get(this: Tensor) {
      return requiresGradOf(this);
    },
    set(this: Tensor, v: boolean) {
      setRequiresGrad(this, v);
    },
    configurable: true,
  },
  grad: {
    get(this: Tensor) {
      return metaOf(this)?.grad ?? null;
    },
    set(this: Tensor, g: Tensor | null) {
      const m = ensureMeta(this);
      if (g && (g.rank !== this.rank || g.shape.some((d, i) => d !== this.shape[i]))) {
        throw new RangeError(
          `grad: assigned gradient has shape ${fmtShape(g.shape)} but the tensor has shape ${fmtShape(this.shape)}`,
        );
      }
      const prev = m.grad;
      m.grad = g ? ownedRef(g) : null;
      prev?.dispose();
    },
    configurable: true,
  },
  gradFn: {
    get(this: Tensor) {
      return metaOf(this)?.gradFn ?? null;
    },
    configurable: true,
  },
  isLeaf: {
    get(this: Tensor) {
      return !metaOf(this)?.gradFn;
    },
    configurable: true,
  },
});

Tensor.prototype.requiresGrad_ = function (this: Tensor, requiresGrad = true) {
  setRequiresGrad(this, requiresGrad);
  return this;
};

Tensor.prototype.backward = function (this: Tensor, gradient?: Tensor | null, opts: BackwardOptions = {}) {
  this.assertAlive("backward");
  runBackward([this], [gradient], { retainGraph: opts.retainGraph ?? false, accumulate: true });
};

Tensor.prototype.retainGrad = function (this: Tensor) {
  const m = metaOf(this);
  if (!m || (!m.gradFn && !m.requiresGrad)) {
    throw new Error("retainGrad: the tensor does not require grad, so it will never have a gradient");
  }
  if (m.gradFn) m.gradFn.retain(m.slot, this);
};

Tensor.prototype.registerHook = function (this: Tensor, fn: GradHook): HookHandle {
  const e = edgeOf(this);
  if (!e) throw new Error("registerHook: the tensor does not require grad, so no gradient will reach it");
  return { remove: e.node.addHook(e.slot, fn) };
};

Tensor.prototype.detach = function (this: Tensor) {
  return untraced(() => this.asStrided(this.shape, this.strides, this.offset));
};
