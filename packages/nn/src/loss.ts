/**
 * Loss modules (PyTorch's `nn.CrossEntropyLoss`, `nn.MSELoss`, `nn.L1Loss`, `nn.SmoothL1Loss`,
 * `nn.BCEWithLogitsLoss`) wrapping core's loss ops, plus two losses PyTorch has no module for:
 * the VAE's KL term `klNormal` and Eigen et al.'s scale-invariant log loss for depth, each as a
 * function and a module. Every loss takes `reduction`: 'none', 'mean' (default) or 'sum'.
 */
import { noGrad } from "@tessera/autograd";
import {
  add,
  binaryCrossEntropyWithLogits,
  crossEntropy,
  div,
  exp,
  gt,
  isFloating,
  l1Loss,
  log,
  maximum,
  mean,
  mseLoss,
  mul,
  type Reduction,
  smoothL1Loss,
  sub,
  sum,
  type Tensor,
  tidy,
  where,
} from "@tessera/core";
import { formatFloat, Module } from "./module.js";

export interface LossModuleOptions {
  /** 'none' (one loss per element / sample), 'mean' (default) or 'sum'. */
  reduction?: Reduction;
}

function checkReduction(owner: string, r: unknown): Reduction {
  if (r !== "none" && r !== "mean" && r !== "sum") {
    throw new RangeError(`${owner}: reduction must be 'none', 'mean' or 'sum', got ${JSON.stringify(r)}`);
  }
  return r;
}

function shape(t: Tensor): string {
  return `[${t.shape.join(", ")}]`;
}

/** The module's own copy of a constructor tensor (a buffer, like PyTorch's), outside any graph. */
function ownCopy(t: Tensor | null | undefined): Tensor | null {
  return t ? noGrad(() => t.clone()) : null;
}

function reduceRows(loss: Tensor, reduction: Reduction): Tensor {
  if (reduction === "none") return loss;
  return reduction === "sum" ? sum(loss) : mean(loss);
}

// ---- PyTorch's losses ---------------------------------------------------------------------------

export interface CrossEntropyLossOptions extends LossModuleOptions {
  /** Per-class weight [C] (a buffer `weight`, copied). */
  weight?: Tensor | null;
  /** Targets equal to this index contribute nothing and leave the mean's denominator (default -100). */
  ignoreIndex?: number;
  /** ε in [0, 1]: the target is mixed with the uniform distribution, `(1−ε)·nll + ε·mean_c(−log p_c)` (default 0). */
  labelSmoothing?: number;
}

/**
 * Cross entropy of logits `[N, C]` / `[N, C, d1, …]` / `[C]` against int32 class indices
 * `[N, d1, …]` or float class probabilities shaped like the logits (PyTorch's
 * `nn.CrossEntropyLoss`). 'mean' divides by the summed weights of the non-ignored targets.
 *
 * @example
 * const ce = new CrossEntropyLoss({ labelSmoothing: 0.1 });
 * const loss = ce.forward(logits, labels); // logits [32, 10], labels int32 [32] → scalar
 */
export class CrossEntropyLoss extends Module {
  readonly weight: Tensor | null;
  readonly ignoreIndex: number;
  readonly labelSmoothing: number;
  readonly reduction: Reduction;

  constructor(opts: CrossEntropyLossOptions = {}) {
    super();
    this.reduction = checkReduction("CrossEntropyLoss", opts.reduction ?? "mean");
    this.ignoreIndex = opts.ignoreIndex ?? -100;
    if (!Number.isInteger(this.ignoreIndex))
      throw new RangeError(`CrossEntropyLoss: ignoreIndex must be an integer, got ${this.ignoreIndex}`);
    this.labelSmoothing = opts.labelSmoothing ?? 0;
    if (!(this.labelSmoothing >= 0 && this.labelSmoothing <= 1))
      throw new RangeError(`CrossEntropyLoss: labelSmoothing must be in [0, 1], got ${this.labelSmoothing}`);
    if (opts.weight && opts.weight.rank !== 1)
      throw new RangeError(`CrossEntropyLoss: weight must be [C] (one per class), got ${shape(opts.weight)}`);
    this.weight = this.registerBuffer("weight", ownCopy(opts.weight));
  }

  override forward(input: Tensor, target: Tensor): Tensor {
    return crossEntropy(input, target, {
      weight: this.weight,
      ignoreIndex: this.ignoreIndex,
      labelSmoothing: this.labelSmoothing,
      reduction: this.reduction,
    });
  }
}

/**
 * Mean squared error `(input − target)²` (PyTorch's `nn.MSELoss`); shapes must match.
 *
 * @example
 * const loss = new MSELoss().forward(pred, target); // scalar
 */
export class MSELoss extends Module {
  readonly reduction: Reduction;

  constructor(opts: LossModuleOptions = {}) {
    super();
    this.reduction = checkReduction("MSELoss", opts.reduction ?? "mean");
  }

  override forward(input: Tensor, target: Tensor): Tensor {
    return mseLoss(input, target, { reduction: this.reduction });
  }
}

/**
 * Mean absolute error `|input − target|` (PyTorch's `nn.L1Loss`); shapes must match.
 *
 * @example
 * const perPixel = new L1Loss({ reduction: "none" }).forward(pred, target); // pred's shape
 */
export class L1Loss extends Module {
  readonly reduction: Reduction;

  constructor(opts: LossModuleOptions = {}) {
    super();
    this.reduction = checkReduction("L1Loss", opts.reduction ?? "mean");
  }

  override forward(input: Tensor, target: Tensor): Tensor {
    return l1Loss(input, target, { reduction: this.reduction });
  }
}

export interface SmoothL1LossOptions extends LossModuleOptions {
  /** Where the loss turns from quadratic to linear (default 1; 0 is L1). */
  beta?: number;
}

/**
 * Huber-style loss (PyTorch's `nn.SmoothL1Loss`): `0.5·d²/β` where `|d| < β`, else `|d| − 0.5·β`,
 * with `d = input − target`.
 *
 * @example
 * const loss = new SmoothL1Loss({ beta: 0.5 }).forward(boxes, targets);
 */
export class SmoothL1Loss extends Module {
  readonly reduction: Reduction;
  readonly beta: number;

  constructor(opts: SmoothL1LossOptions = {}) {
    super();
    this.reduction = checkReduction("SmoothL1Loss", opts.reduction ?? "mean");
    this.beta = opts.beta ?? 1;
    if (!(this.beta >= 0)) throw new RangeError(`SmoothL1Loss: beta must be >= 0, got ${this.beta}`);
  }

  override forward(input: Tensor, target: Tensor): Tensor {
    return smoothL1Loss(input, target, { beta: this.beta, reduction: this.reduction });
  }
}

export interface BCEWithLogitsLossOptions extends LossModuleOptions {
  /** Per-element weight, broadcast to the input (a buffer `weight`, copied). */
  weight?: Tensor | null;
  /** Weight of the positive term per class, broadcast along the last dim (a buffer `pos_weight`, copied). */
  posWeight?: Tensor | null;
}

/**
 * Sigmoid + binary cross entropy in one numerically stable step (PyTorch's `nn.BCEWithLogitsLoss`):
 * `−w·(p·y·log σ(x) + (1 − y)·log(1 − σ(x)))` with `p = posWeight`. Targets are probabilities shaped like the input.
 *
 * @example
 * const bce = new BCEWithLogitsLoss({ posWeight: tensor([3]) }); // positives 3× rarer than negatives
 * const loss = bce.forward(logits, labels); // labels float 0/1, logits' shape
 */
export class BCEWithLogitsLoss extends Module {
  readonly reduction: Reduction;
  readonly weight: Tensor | null;
  readonly posWeight: Tensor | null;

  constructor(opts: BCEWithLogitsLossOptions = {}) {
    super();
    this.reduction = checkReduction("BCEWithLogitsLoss", opts.reduction ?? "mean");
    this.weight = this.registerBuffer("weight", ownCopy(opts.weight));
    this.posWeight = this.registerBuffer("pos_weight", ownCopy(opts.posWeight));
  }

  override forward(input: Tensor, target: Tensor): Tensor {
    return binaryCrossEntropyWithLogits(input, target, {
      weight: this.weight,
      posWeight: this.posWeight,
      reduction: this.reduction,
    });
  }
}

// ---- VAE: KL(N(mu, σ²) ‖ N(0, 1)) -----------------------------------------------------------------

export interface KlNormalOptions {
  /**
   * 'mean' (default): the per-sample KL (summed over the last, latent, dim) averaged over every
   * other dim — the batch; 'sum': summed over everything; 'none': the per-sample KL, shaped like
   * `mu` without its last dim.
   */
  reduction?: Reduction;
}

/**
 * KL divergence of the diagonal Gaussian N(mu, exp(logvar)) from N(0, 1), the VAE's regulariser:
 * `KL = −½·Σ_latent (1 + logvar − mu² − exp(logvar))` per sample, summed over the last dim of
 * `mu` / `logvar` (same shape, e.g. `[B, latent]`), then reduced over the batch (see `reduction`).
 *
 * @example
 * const mu = randn([8, 16]);
 * const logvar = randn([8, 16]);
 * const kl = klNormal(mu, logvar); // scalar: mean over the 8 samples of each one's summed KL
 * klNormal(zeros([8, 16]), zeros([8, 16])).itemSync(); // 0: N(0, 1) is the prior itself
 */
export function klNormal(mu: Tensor, logvar: Tensor, opts: KlNormalOptions = {}): Tensor {
  const reduction = checkReduction("klNormal", opts.reduction ?? "mean");
  if (!isFloating(mu.dtype) || !isFloating(logvar.dtype)) {
    throw new TypeError(
      `klNormal: mu and logvar must be floating point, got ${mu.dtype} and ${logvar.dtype}`,
    );
  }
  if (mu.rank === 0 || mu.rank !== logvar.rank || mu.shape.some((d, i) => d !== logvar.shape[i])) {
    throw new RangeError(
      `klNormal: mu and logvar must have the same shape with a latent last dim, got mu ${shape(mu)} and logvar ${shape(logvar)}`,
    );
  }
  return tidy(() => {
    const inner = sub(sub(add(logvar, 1), mul(mu, mu)), exp(logvar)); // 1 + logvar − mu² − σ²
    const perSample = mul(sum(inner, -1), -0.5);
    return reduceRows(perSample, reduction);
  });
}

/**
 * `klNormal` as a module: `forward(mu, logvar)`.
 *
 * @example
 * const kl = new KLNormalLoss();
 * const loss = kl.forward(mu, logvar); // mean over the batch of the per-sample KL
 */
export class KLNormalLoss extends Module {
  readonly reduction: Reduction;

  constructor(opts: KlNormalOptions = {}) {
    super();
    this.reduction = checkReduction("KLNormalLoss", opts.reduction ?? "mean");
  }

  override forward(mu: Tensor, logvar: Tensor): Tensor {
    return klNormal(mu, logvar, { reduction: this.reduction });
  }
}

// ---- depth: scale-invariant log loss (Eigen et al. 2014) --------------------------------------------

export interface ScaleInvariantLogLossOptions {
  /** Weight of the scale term: 0 is the plain log MSE, 1 fully scale invariant (default 0.5, Eigen et al.). */
  lambda?: number;
  /** Added to prediction and target inside the logs, so a zero prediction stays finite (default 1e-6). */
  eps?: number;
  /** Bool, shaped like `pred`: true where the target is valid. Default: every pixel. */
  mask?: Tensor | null;
  /**
   * 'mean' (default): averaged over the images that have at least one valid pixel (0 when none
   * has); 'sum': summed over images; 'none': one loss per image `[B]` (0 for an image without
   * valid pixels).
   */
  reduction?: Reduction;
}

/**
 * Eigen, Puhrsch & Fergus (2014), "Depth map prediction from a single image using a multi-scale
 * deep network", eq. 4, per image: with `d = log(pred + eps) − log(target + eps)` over the n valid
 * pixels, `D = mean(d²) − λ·mean(d)²`. Dim 0 of `pred` / `target` (same shape, rank ≥ 2, e.g.
 * `[B, 1, H, W]`) is the batch; every other dim belongs to one image.
 *
 * @example
 * const valid = gt(depthGt, 0); // missing depth is 0 in the ground truth
 * const loss = scaleInvariantLogLoss(depthPred, depthGt, { mask: valid });
 */
export function scaleInvariantLogLoss(
  pred: Tensor,
  target: Tensor,
  opts: ScaleInvariantLogLossOptions = {},
): Tensor {
  const op = "scaleInvariantLogLoss";
  const reduction = checkReduction(op, opts.reduction ?? "mean");
  const lambda = opts.lambda ?? 0.5;
  const eps = opts.eps ?? 1e-6;
  const mask = opts.mask ?? null;
  if (!Number.isFinite(lambda)) throw new RangeError(`${op}: lambda must be a finite number, got ${lambda}`);
  if (!(eps >= 0)) throw new RangeError(`${op}: eps must be >= 0, got ${eps}`);
  if (!isFloating(pred.dtype) || pred.dtype !== target.dtype) {
    throw new TypeError(
      `${op}: pred and target must share a floating dtype, got ${pred.dtype} and ${target.dtype}`,
    );
  }
  const same = (a: Tensor) => a.rank === pred.rank && a.shape.every((d, i) => d === pred.shape[i]);
  if (pred.rank < 2 || !same(target)) {
    throw new RangeError(
      `${op}: pred and target must have the same shape [B, …] (rank >= 2, dim 0 the batch), got pred ${shape(pred)} and target ${shape(target)}`,
    );
  }
  if (mask && (mask.dtype !== "bool" || !same(mask))) {
    throw new RangeError(
      `${op}: mask must be bool ${shape(pred)} like pred, got ${mask.dtype} ${shape(mask)}`,
    );
  }
  return tidy(() => {
    const dims = pred.shape.slice(1).map((_, i) => i + 1);
    // Masked pixels read 1 in both, so d = 0 there and no log(0) reaches the gradient.
    const p = mask ? where(mask, pred, 1) : pred;
    const t = mask ? where(mask, target, 1) : target;
    const d = eps > 0 ? sub(log(add(p, eps)), log(add(t, eps))) : sub(log(p), log(t));
    const n = mask ? sum(mask.cast(pred.dtype), dims) : null; // valid pixels per image [B]
    const count = pred.size / pred.shape[0]!;
    const meanOf = (x: Tensor) => (n ? div(sum(x, dims), maximum(n, 1)) : div(sum(x, dims), count));
    const md = meanOf(d);
    const perImage = sub(meanOf(mul(d, d)), mul(mul(md, md), lambda)); // [B]
    if (reduction !== "mean" || !n) return reduceRows(perImage, reduction);
    return div(sum(perImage), maximum(sum(gt(n, 0).cast(pred.dtype)), 1));
  });
}

/**
 * `scaleInvariantLogLoss` as a module: `forward(pred, target, mask?)`.
 *
 * @example
 * const silog = new ScaleInvariantLogLoss({ lambda: 0.85 });
 * const loss = silog.forward(pred, target, gt(target, 0));
 */
export class ScaleInvariantLogLoss extends Module {
  readonly lambda: number;
  readonly eps: number;
  readonly reduction: Reduction;

  constructor(opts: Omit<ScaleInvariantLogLossOptions, "mask"> = {}) {
    super();
    this.reduction = checkReduction("ScaleInvariantLogLoss", opts.reduction ?? "mean");
    this.lambda = opts.lambda ?? 0.5;
    this.eps = opts.eps ?? 1e-6;
    if (!Number.isFinite(this.lambda))
      throw new RangeError(`ScaleInvariantLogLoss: lambda must be a finite number, got ${this.lambda}`);
    if (!(this.eps >= 0)) throw new RangeError(`ScaleInvariantLogLoss: eps must be >= 0, got ${this.eps}`);
  }

  override forward(pred: Tensor, target: Tensor, mask?: Tensor | null): Tensor {
    return scaleInvariantLogLoss(pred, target, {
      lambda: this.lambda,
      eps: this.eps,
      mask,
      reduction: this.reduction,
    });
  }

  override extraRepr(): string {
    return `lambda=${formatFloat(this.lambda)}, eps=${formatFloat(this.eps)}`;
  }
}
