/**
 * Loss functions with torch.nn.functional semantics (PyTorch 1.13): crossEntropy, mseLoss, l1Loss,
 * smoothL1Loss, binaryCrossEntropyWithLogits. Every loss takes `reduction` 'none' | 'mean' | 'sum'
 * (default 'mean'). crossEntropy with class-index targets runs the backend's fused kernel when it has one.
 */
import type { CrossEntropyAttrs } from "../backend.js";
import { isFloating } from "../dtype.js";
import { tidy } from "../engine.js";
import { fmtShape, shapesEqual } from "../shape.js";
import { Tensor } from "../tensor.js";
import { traced } from "../trace.js";
import { logSoftmax } from "./activation.js";
import { sameBackend } from "./dispatch.js";
import { abs, add, div, exp, log1p, lt, mul, ne, neg, relu, sub, where } from "./elementwise.js";
import { fusedKernel, requireFloat, withContiguous } from "./internal.js";
import { gather, indexSelect } from "./manipulation.js";
import { mean, sum } from "./reduce.js";

export type Reduction = "none" | "mean" | "sum";

export interface CrossEntropyOptions {
  /** Per-class rescaling weight [C]. */
  weight?: Tensor | null;
  /** Targets equal to this class index are skipped and excluded from the mean (default -100). */
  ignoreIndex?: number;
  /** ε in [0, 1]: loss = (1−ε)·nll + ε·mean_c(−log p_c) (class-weighted like PyTorch). */
  labelSmoothing?: number;
  reduction?: Reduction;
}

function checkReduction(op: string, r: unknown): Reduction {
  if (r !== "none" && r !== "mean" && r !== "sum") {
    throw new RangeError(`${op}: reduction must be 'none', 'mean' or 'sum', got '${String(r)}'`);
  }
  return r;
}

function reduceLoss(loss: Tensor, reduction: Reduction): Tensor {
  if (reduction === "none") return loss;
  return reduction === "sum" ? sum(loss) : mean(loss);
}

/**
 * Cross entropy between `logits` [N,C] / [N,C,d1,…] / [C] (classes on dim 1, or dim 0 unbatched) and
 * either int32 class indices [N,d1,…] / [] or float class probabilities of the logits' shape.
 * With indices, 'mean' divides by the summed weights of the non-ignored targets (NaN when all are
 * ignored, like PyTorch); with probabilities it divides by the number of samples N·d1·….
 * 'none' returns one loss per sample, shaped like the target (indices) or the logits without the class dim.
 */
export const crossEntropy = traced(
  "crossEntropy",
  function crossEntropy(logits: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
    const op = "crossEntropy";
    const weight = opts.weight ?? null;
    sameBackend(op, { logits, target, weight });
    requireFloat(op, logits, "logits");
    const reduction = checkReduction(op, opts.reduction ?? "mean");
    const ignoreIndex = opts.ignoreIndex ?? -100;
    const eps = opts.labelSmoothing ?? 0;
    if (!(eps >= 0 && eps <= 1)) throw new RangeError(`${op}: labelSmoothing must be in [0, 1], got ${eps}`);
    if (!Number.isInteger(ignoreIndex))
      throw new RangeError(`${op}: ignoreIndex must be an integer, got ${ignoreIndex}`);
    if (logits.rank === 0) throw new RangeError(`${op}: logits must have a class dim, got a 0-d tensor`);
    const classDim = logits.rank === 1 ? 0 : 1;
    const C = logits.shape[classDim]!;
    const sampleShape = logits.shape.filter((_, i) => i !== classDim);
    if (weight && (weight.rank !== 1 || weight.shape[0] !== C || weight.dtype !== logits.dtype)) {
      throw new RangeError(
        `${op}: weight must be ${logits.dtype} [${C}] (one per class), got ${weight.dtype} ${fmtShape(weight.shape)}`,
      );
    }
    const probTarget = isFloating(target.dtype);
    if (probTarget) {
      if (!shapesEqual(target.shape, logits.shape) || target.dtype !== logits.dtype) {
        throw new RangeError(
          `${op}: probability targets must match logits ${logits.dtype} ${fmtShape(logits.shape)}, got ${target.dtype} ${fmtShape(target.shape)}`,
        );
      }
    } else if (target.dtype !== "int32") {
      throw new TypeError(
        `${op}: target must be int32 class indices or float probabilities, got ${target.dtype}`,
      );
    } else if (!shapesEqual(target.shape, sampleShape)) {
      throw new RangeError(
        `${op}: target ${fmtShape(target.shape)} must be logits ${fmtShape(logits.shape)} without the class dim ${classDim}, i.e. ${fmtShape(sampleShape)}`,
      );
    }

    // Canonical [N', C]: classes last, every other dim flattened into samples.
    const rows = (t: Tensor): Tensor => {
      if (t.rank === 1) return t.reshape([1, C]);
      const perm = [0, ...t.shape.slice(2).map((_, i) => i + 2), 1];
      return t.permute(perm).reshape([-1, C]);
    };
    const attrs: CrossEntropyAttrs = { ignoreIndex, labelSmoothing: eps, reduction };
    const kernel = probTarget ? undefined : fusedKernel(logits.backend, op);
    return tidy(() => {
      const x2 = rows(logits);
      if (kernel) {
        const n = x2.shape[0]!;
        return withContiguous([x2, target.reshape([n]), weight], ([xc, tc, wc]) => {
          const out = Tensor.empty(reduction === "none" ? [n] : [], logits.dtype, logits.backend);
          kernel(xc!.kernelView, tc!.kernelView, wc?.kernelView ?? null, attrs, out.kernelView);
          return reduction === "none" ? out.reshape(sampleShape) : out;
        });
      }
      const lsm = logSoftmax(x2, 1);
      if (probTarget) {
        let p = rows(target);
        if (eps > 0) p = add(mul(p, 1 - eps), eps / C);
        const wl = weight ? mul(lsm, weight) : lsm;
        const per = neg(sum(mul(wl, p), 1));
        return reduction === "none" ? per.reshape(sampleShape) : reduceLoss(per, reduction);
      }
      const t = target.reshape([-1]);
      const valid = ne(t, ignoreIndex);
      const safe = where(valid, t, 0);
      const picked = gather(lsm, 1, safe.reshape([-1, 1])).reshape([-1]);
      const w = weight ? where(valid, indexSelect(weight, 0, safe), 0) : valid.cast(logits.dtype);
      let loss = where(valid, neg(mul(picked, w)), 0);
      if (eps > 0) {
        const smooth = where(valid, neg(sum(weight ? mul(lsm, weight) : lsm, 1)), 0);
        loss = add(mul(loss, 1 - eps), mul(smooth, eps / C));
      }
      if (reduction === "none") return loss.reshape(sampleShape);
      if (reduction === "sum") return sum(loss);
      return div(sum(loss), sum(w));
    });
  },
);

function pairwise(op: string, x: Tensor, y: Tensor, reduction: Reduction | undefined): Reduction {
  sameBackend(op, { input: x, target: y });
  requireFloat(op, x);
  if (!shapesEqual(x.shape, y.shape) || x.dtype !== y.dtype) {
    throw new RangeError(
      `${op}: target ${y.dtype} ${fmtShape(y.shape)} must match input ${x.dtype} ${fmtShape(x.shape)} (broadcasting a loss target is almost always a bug)`,
    );
  }
  return checkReduction(op, reduction ?? "mean");
}

export interface LossOptions {
  reduction?: Reduction;
}

/** Mean squared error (x − y)². */
export const mseLoss = traced(
  "mseLoss",
  function mseLoss(x: Tensor, y: Tensor, opts: LossOptions = {}): Tensor {
    const reduction = pairwise("mseLoss", x, y, opts.reduction);
    return tidy(() => {
      const d = sub(x, y);
      return reduceLoss(mul(d, d), reduction);
    });
  },
);

/** Mean absolute error |x − y|. */
export const l1Loss = traced("l1Loss", function l1Loss(x: Tensor, y: Tensor, opts: LossOptions = {}): Tensor {
  const reduction = pairwise("l1Loss", x, y, opts.reduction);
  return tidy(() => reduceLoss(abs(sub(x, y)), reduction));
});

export interface SmoothL1Options extends LossOptions {
  /** Where the loss turns from quadratic to linear (default 1; 0 gives l1Loss). */
  beta?: number;
}

/** Huber-style loss: 0.5·d²/β where |d| < β, else |d| − 0.5·β, with d = x − y. */
export const smoothL1Loss = traced(
  "smoothL1Loss",
  function smoothL1Loss(x: Tensor, y: Tensor, opts: SmoothL1Options = {}): Tensor {
    const op = "smoothL1Loss";
    const reduction = pairwise(op, x, y, opts.reduction);
    const beta = opts.beta ?? 1;
    if (!(beta >= 0)) throw new RangeError(`${op}: beta must be >= 0, got ${beta}`);
    return tidy(() => {
      const d = abs(sub(x, y));
      if (beta === 0) return reduceLoss(d, reduction);
      const quad = div(mul(mul(d, d), 0.5), beta);
      return reduceLoss(where(lt(d, beta), quad, sub(d, 0.5 * beta)), reduction);
    });
  },
);

export interface BceWithLogitsOptions extends LossOptions {
  /** Per-element rescaling weight, broadcast to the input. */
  weight?: Tensor | null;
  /** Weight of positive examples, broadcast along the last (class) dim. */
  posWeight?: Tensor | null;
}

/**
 * Binary cross entropy on logits, in the stable form
 * (1 − y)·x + (1 + (posWeight − 1)·y)·(log1p(exp(−|x|)) + max(−x, 0)).
 */
export const binaryCrossEntropyWithLogits = traced(
  "binaryCrossEntropyWithLogits",
  function binaryCrossEntropyWithLogits(x: Tensor, y: Tensor, opts: BceWithLogitsOptions = {}): Tensor {
    const op = "binaryCrossEntropyWithLogits";
    const reduction = pairwise(op, x, y, opts.reduction);
    const { weight, posWeight } = opts;
    sameBackend(op, { input: x, weight, posWeight });
    return tidy(() => {
      const softplusNeg = add(log1p(exp(neg(abs(x)))), relu(neg(x))); // log(1 + e^−x)
      const logWeight = posWeight ? add(mul(sub(posWeight, 1), y), 1) : null;
      let loss = add(mul(sub(1, y), x), logWeight ? mul(logWeight, softplusNeg) : softplusNeg);
      if (weight) loss = mul(loss, weight);
      if (!shapesEqual(loss.shape, x.shape)) {
        throw new RangeError(
          `${op}: weight/posWeight must broadcast to input ${fmtShape(x.shape)}, got ${fmtShape(loss.shape)}`,
        );
      }
      return reduceLoss(loss, reduction);
    });
  },
);
