/**
 * Batch-level mixup and cutmix, the data-efficient ViT (DeiT) recipe, as timm's `Mixup` does it:
 * each sample is paired with the batch reversed (sample i with B−1−i), one mixing weight λ per batch,
 * and the targets become probability rows `λ·y_i + (1−λ)·y_pair` (label-smoothed one-hots), which
 * `crossEntropy` takes as soft targets.
 *
 *   images [B,C,H,W] float32, labels [B] int32 → images [B,C,H,W], targets [B,K] float32 (rows sum to 1)
 *
 * The images are mixed with core ops on their own backend (nothing is read back); the random draws
 * (λ, the cutmix box, the mixup/cutmix switch) come from the `Rng` given, so a fixed seed gives the
 * same batch.
 */
import { add, flip, mul, oneHot, type Tensor, tensor, tidy, where } from "@tessera/core";
import type { Rng } from "./rng.js";

/** Options shared by `mixup` and `cutmix`. */
export interface MixOptions {
  /** Beta(α, α) concentration for λ; timm/DeiT use 0.8 (mixup) and 1.0 (cutmix). */
  alpha: number;
  numClasses: number;
  rng: Rng;
  /** Label smoothing ε folded into the targets: on = 1 − ε + ε/K, off = ε/K. */
  labelSmoothing?: number;
}

/** Options of `mixupCutmix`, timm's `Mixup(mixup_alpha, cutmix_alpha, prob, switch_prob, …)`. */
export interface MixupCutmixOptions {
  mixupAlpha: number;
  cutmixAlpha: number;
  /** Chance of cutmix rather than mixup when both alphas are positive (default 0.5). */
  switchProb?: number;
  /** Chance a batch is mixed at all (default 1). */
  prob?: number;
  numClasses: number;
  rng: Rng;
  labelSmoothing?: number;
}

/** A mixed batch: the images and their soft targets. */
export interface MixedBatch {
  images: Tensor;
  targets: Tensor;
}

/**
 * Mixup: `x = λ·x + (1−λ)·x_reversed` with λ ~ Beta(α, α).
 *
 * @example
 * ```ts
 * import { mixup, Rng } from "@tessera/data";
 * const { images, targets } = mixup(batch.image, batch.label, { alpha: 0.8, numClasses: 10, rng: new Rng(0) });
 * ```
 */
export function mixup(images: Tensor, labels: Tensor, opts: MixOptions): MixedBatch {
  checkBatch("mixup", images, labels, opts.numClasses, opts.labelSmoothing);
  checkAlpha("mixup", "alpha", opts.alpha);
  const lam = opts.rng.beta(opts.alpha);
  return blend(images, labels, lam, opts.numClasses, opts.labelSmoothing ?? 0);
}

/**
 * CutMix: a box of area ≈ (1−λ)·H·W (λ ~ Beta(α, α), centre uniform, clipped at the borders) is
 * pasted from the reversed batch; λ is then corrected to the box's true area, as timm does, so the
 * targets match the pixels.
 *
 * @example
 * ```ts
 * import { cutmix, Rng } from "@tessera/data";
 * const { images, targets } = cutmix(batch.image, batch.label, { alpha: 1, numClasses: 10, rng: new Rng(0) });
 * ```
 */
export function cutmix(images: Tensor, labels: Tensor, opts: MixOptions): MixedBatch {
  checkBatch("cutmix", images, labels, opts.numClasses, opts.labelSmoothing);
  checkAlpha("cutmix", "alpha", opts.alpha);
  return paste(
    images,
    labels,
    opts.rng.beta(opts.alpha),
    opts.rng,
    opts.numClasses,
    opts.labelSmoothing ?? 0,
  );
}

/**
 * timm's `Mixup` with both modes: with probability `prob` the batch is mixed, by cutmix with
 * probability `switchProb` and mixup otherwise (only one of them when the other's alpha is 0);
 * an unmixed batch still gets (smoothed) one-hot targets.
 *
 * @example
 * ```ts
 * import { mixupCutmix, Rng } from "@tessera/data";
 * const rng = Rng.derive(seed, epoch, step);
 * const { images, targets } = mixupCutmix(x, y, { mixupAlpha: 0.8, cutmixAlpha: 1, numClasses: 10, rng, labelSmoothing: 0.1 });
 * ```
 */
export function mixupCutmix(images: Tensor, labels: Tensor, opts: MixupCutmixOptions): MixedBatch {
  const { mixupAlpha, cutmixAlpha, rng, numClasses } = opts;
  const switchProb = opts.switchProb ?? 0.5;
  const prob = opts.prob ?? 1;
  const smoothing = opts.labelSmoothing ?? 0;
  checkBatch("mixupCutmix", images, labels, numClasses, smoothing);
  if (!(mixupAlpha >= 0) || !(cutmixAlpha >= 0) || mixupAlpha + cutmixAlpha === 0) {
    throw new RangeError(
      `mixupCutmix: mixupAlpha and cutmixAlpha must be ≥ 0 and not both 0, got ${mixupAlpha} and ${cutmixAlpha}`,
    );
  }
  for (const [name, p] of [
    ["switchProb", switchProb],
    ["prob", prob],
  ] as const) {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`mixupCutmix: ${name} must be in [0, 1], got ${p}`);
  }
  // The draw order is timm's _params_per_batch: mix?, then cutmix-or-mixup?, then λ.
  if (!(rng.random() < prob)) return blend(images, labels, 1, numClasses, smoothing);
  const useCutmix = mixupAlpha > 0 && cutmixAlpha > 0 ? rng.random() < switchProb : cutmixAlpha > 0;
  const lam = rng.beta(useCutmix ? cutmixAlpha : mixupAlpha);
  return useCutmix
    ? paste(images, labels, lam, rng, numClasses, smoothing)
    : blend(images, labels, lam, numClasses, smoothing);
}

/**
 * The cutmix box for an `height`×`width` image and weight λ (timm's `rand_bbox` plus its area
 * correction): rows [top, bottom), columns [left, right), and the corrected λ = 1 − box area / image area.
 *
 * @example
 * ```ts
 * import { cutmixBox, Rng } from "@tessera/data";
 * const box = cutmixBox(28, 28, 0.7, new Rng(0)); // { top, bottom, left, right, lam }
 * ```
 */
export function cutmixBox(
  height: number,
  width: number,
  lam: number,
  rng: Rng,
): { top: number; bottom: number; left: number; right: number; lam: number } {
  const ratio = Math.sqrt(1 - lam);
  const cutH = Math.trunc(height * ratio);
  const cutW = Math.trunc(width * ratio);
  const cy = rng.int(height);
  const cx = rng.int(width);
  const top = clip(cy - (cutH >> 1), 0, height);
  const bottom = clip(cy + (cutH >> 1), 0, height);
  const left = clip(cx - (cutW >> 1), 0, width);
  const right = clip(cx + (cutW >> 1), 0, width);
  return { top, bottom, left, right, lam: 1 - ((bottom - top) * (right - left)) / (height * width) };
}

/** λ·x + (1−λ)·x_reversed, and the matching targets. */
function blend(
  images: Tensor,
  labels: Tensor,
  lam: number,
  numClasses: number,
  smoothing: number,
): MixedBatch {
  return tidy("mixup", () => {
    const mixed = lam === 1 ? images.clone() : add(mul(images, lam), mul(flip(images, 0), 1 - lam));
    return { images: mixed, targets: targets(labels, lam, numClasses, smoothing) };
  });
}

/** Pastes the cutmix box from the reversed batch and weights the targets by the box's true area. */
function paste(
  images: Tensor,
  labels: Tensor,
  lam: number,
  rng: Rng,
  numClasses: number,
  smoothing: number,
): MixedBatch {
  const [, , H, W] = images.shape as [number, number, number, number];
  const box = cutmixBox(H, W, lam, rng);
  const mask = new Uint8Array(H * W);
  for (let y = box.top; y < box.bottom; y++) mask.fill(1, y * W + box.left, y * W + box.right);
  return tidy("cutmix", () => {
    const inBox = tensor(mask, { shape: [1, 1, H, W], dtype: "bool", backend: images.backendName });
    // `where` copies the pasted pixels exactly (a float lerp with a 0/1 mask would round).
    const mixed = where(inBox, flip(images, 0), images);
    return { images: mixed, targets: targets(labels, box.lam, numClasses, smoothing) };
  });
}

/** λ·smooth(onehot(y)) + (1−λ)·smooth(onehot(y_reversed)) as float32 [B, K]. */
function targets(labels: Tensor, lam: number, numClasses: number, smoothing: number): Tensor {
  const off = smoothing / numClasses;
  const on = 1 - smoothing + off;
  const y = add(mul(oneHot(labels, numClasses).cast("float32"), on - off), off);
  return lam === 1 ? y : add(mul(y, lam), mul(flip(y, 0), 1 - lam));
}

function checkBatch(op: string, images: Tensor, labels: Tensor, numClasses: number, smoothing = 0): void {
  if (images.rank !== 4)
    throw new RangeError(`${op}: images must be [B,C,H,W], got [${images.shape.join(",")}]`);
  if (labels.rank !== 1 || labels.shape[0] !== images.shape[0]) {
    throw new RangeError(
      `${op}: labels must be [B] = [${images.shape[0]}] to match images [${images.shape.join(",")}], got [${labels.shape.join(",")}]`,
    );
  }
  if (labels.dtype !== "int32")
    throw new TypeError(`${op}: labels must be int32 class indices, got ${labels.dtype}`);
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new RangeError(`${op}: numClasses must be a positive integer, got ${numClasses}`);
  }
  if (!(smoothing >= 0 && smoothing < 1))
    throw new RangeError(`${op}: labelSmoothing must be in [0, 1), got ${smoothing}`);
}

function checkAlpha(op: string, name: string, alpha: number): void {
  if (!(alpha > 0) || !Number.isFinite(alpha))
    throw new RangeError(`${op}: ${name} must be a positive number, got ${alpha}`);
}

function clip(v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), hi);
}
