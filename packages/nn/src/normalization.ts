/** Normalisation layers: LayerNorm (and the batch and group norms below it). */
import { noGrad } from "@tessera/autograd";
import {
  assign,
  div,
  empty,
  fmtShape,
  layerNorm,
  mul,
  rsqrt,
  type Tensor,
  tensor,
  tidy,
} from "@tessera/core";
import * as init from "./init.js";
import { formatFloat, Module } from "./module.js";

export interface LayerNormOptions {
  /** Added to the variance inside the square root (default 1e-5, PyTorch's). */
  eps?: number;
  /** Learnable per-element weight (initialised to 1) and bias (to 0); default true. */
  elementwiseAffine?: boolean;
  /** With `elementwiseAffine`, also learn the bias (default true; PyTorch ≥ 2.1's `bias`). */
  bias?: boolean;
}

/**
 * Normalises over the trailing `normalizedShape` dims with the biased variance, then scales and
 * shifts (PyTorch's `nn.LayerNorm`; keys `weight`, `bias`).
 *
 * @example
 * const norm = new LayerNorm(64);
 * const y = norm.forward(randn([8, 197, 64])); // each token: mean 0, variance 1, then affine
 */
export class LayerNorm extends Module {
  readonly normalizedShape: readonly number[];
  readonly eps: number;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;

  constructor(normalizedShape: number | readonly number[], opts: LayerNormOptions = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === "number" ? [normalizedShape] : [...normalizedShape];
    for (const d of this.normalizedShape) {
      if (!Number.isInteger(d) || d < 0)
        throw new RangeError(
          `LayerNorm: normalizedShape must hold non-negative integers, got [${this.normalizedShape}]`,
        );
    }
    this.eps = opts.eps ?? 1e-5;
    const affine = opts.elementwiseAffine ?? true;
    this.weight = this.registerParameter("weight", affine ? init.ones(empty(this.normalizedShape)) : null);
    const bias = affine && (opts.bias ?? true);
    this.bias = this.registerParameter("bias", bias ? init.zeros(empty(this.normalizedShape)) : null);
  }

  override forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }

  override extraRepr(): string {
    return `(${this.normalizedShape.join(", ")}${this.normalizedShape.length === 1 ? "," : ""}), eps=${formatFloat(this.eps)}, elementwise_affine=${this.weight ? "True" : "False"}`;
  }
}

const pyBool = (b: boolean) => (b ? "True" : "False");

export interface BatchNormOptions {
  /** Added to the variance inside the square root (default 1e-5). */
  eps?: number;
  /**
   * Weight of the new batch statistic in the running averages (default 0.1):
   * `running = (1 − momentum)·running + momentum·batch`. `null` gives the cumulative average
   * (momentum 1/numBatchesTracked), as in PyTorch.
   */
  momentum?: number | null;
  /** Learnable per-channel weight (initialised to 1) and bias (to 0); default true. */
  affine?: boolean;
  /** Keep running statistics for eval mode (default true); false always normalises with batch statistics. */
  trackRunningStats?: boolean;
}

/**
 * Batch normalisation over `[N, C, H, W]` (PyTorch's `nn.BatchNorm2d`; keys `weight`, `bias`,
 * `running_mean`, `running_var`, `num_batches_tracked`). In training mode each channel is normalised
 * with the batch mean and the biased batch variance, and the running statistics are updated in place
 * with the unbiased variance; in eval mode the running statistics are used.
 * `num_batches_tracked` is int32 here (PyTorch's is int64; `loadStateDict` converts).
 *
 * @example
 * const bn = new BatchNorm2d(16);
 * const y = bn.forward(randn([8, 16, 32, 32])); // train mode: batch statistics, running stats updated
 * bn.eval();
 * bn.forward(randn([1, 16, 32, 32])); // running statistics
 */
export class BatchNorm2d extends Module {
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  readonly numBatchesTracked: Tensor | null;

  constructor(
    readonly numFeatures: number,
    opts: BatchNormOptions = {},
  ) {
    super();
    if (!Number.isInteger(numFeatures) || numFeatures < 1) {
      throw new RangeError(`BatchNorm2d: numFeatures must be a positive integer, got ${numFeatures}`);
    }
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum === undefined ? 0.1 : opts.momentum;
    this.affine = opts.affine ?? true;
    this.trackRunningStats = opts.trackRunningStats ?? true;
    const c = [numFeatures];
    this.weight = this.registerParameter("weight", this.affine ? init.ones(empty(c)) : null);
    this.bias = this.registerParameter("bias", this.affine ? init.zeros(empty(c)) : null);
    const track = this.trackRunningStats;
    this.runningMean = this.registerBuffer("running_mean", track ? init.zeros(empty(c)) : null);
    this.runningVar = this.registerBuffer("running_var", track ? init.ones(empty(c)) : null);
    this.numBatchesTracked = this.registerBuffer(
      "num_batches_tracked",
      track ? tensor(new Int32Array(1), { shape: [], dtype: "int32" }) : null,
    );
  }

  /** Running mean 0, running variance 1, no batches tracked. */
  resetRunningStats(): void {
    if (this.runningMean) init.zeros(this.runningMean);
    if (this.runningVar) init.ones(this.runningVar);
    if (this.numBatchesTracked) init.zeros(this.numBatchesTracked);
  }

  /** Resets the running statistics and sets weight 1, bias 0 (PyTorch's `reset_parameters`). */
  resetParameters(): void {
    this.resetRunningStats();
    if (this.weight) init.ones(this.weight);
    if (this.bias) init.zeros(this.bias);
  }

  override forward(x: Tensor): Tensor {
    const C = this.numFeatures;
    if (x.rank !== 4) {
      throw new RangeError(
        `BatchNorm2d: expected 4D input [N,C,H,W] (got ${x.rank}D input ${fmtShape(x.shape)})`,
      );
    }
    if (x.shape[1] !== C) {
      throw new RangeError(
        `BatchNorm2d: expected ${C} channels (numFeatures), got input ${fmtShape(x.shape)}`,
      );
    }
    const perChannel = [1, C, 1, 1];
    const useBatchStats = this.training || !this.runningMean || !this.runningVar;
    return tidy(() => {
      let y: Tensor;
      if (useBatchStats) {
        const n = x.size / C;
        if (this.training && n <= 1) {
          throw new RangeError(
            `BatchNorm2d: expected more than 1 value per channel when training, got input ${fmtShape(x.shape)}`,
          );
        }
        const mean = x.mean([0, 2, 3], true); // [1,C,1,1]
        const diff = x.sub(mean);
        const variance = diff.mul(diff).mean([0, 2, 3], true); // biased, for normalising
        y = diff.mul(rsqrt(variance.add(this.eps)));
        if (this.training) this.updateRunningStats(mean, variance, n);
      } else {
        const scale = rsqrt(this.runningVar!.add(this.eps)).reshape(perChannel);
        y = x.sub(this.runningMean!.reshape(perChannel)).mul(scale);
      }
      if (this.weight) y = y.mul(this.weight.reshape(perChannel));
      if (this.bias) y = y.add(this.bias.reshape(perChannel));
      return y;
    });
  }

  /** In place, outside the graph: running ← (1 − f)·running + f·batch, with the unbiased batch variance. */
  private updateRunningStats(mean: Tensor, biasedVar: Tensor, n: number): void {
    const rm = this.runningMean;
    const rv = this.runningVar;
    const nbt = this.numBatchesTracked;
    if (!rm || !rv) return;
    noGrad(() => {
      if (nbt) assign(nbt, nbt.add(1));
      // The cumulative average needs the count, which lives on the device: keep the factor a tensor.
      const f: Tensor | number = this.momentum === null ? (nbt ? div(1, nbt) : 1) : this.momentum;
      const keep = typeof f === "number" ? 1 - f : f.neg().add(1);
      const unbiased = biasedVar.mul(n / (n - 1));
      assign(rm, mul(mean.reshape([-1]), f).add(mul(rm, keep)));
      assign(rv, mul(unbiased.reshape([-1]), f).add(mul(rv, keep)));
    });
  }

  override extraRepr(): string {
    const m = this.momentum === null ? "None" : formatFloat(this.momentum);
    return `${this.numFeatures}, eps=${formatFloat(this.eps)}, momentum=${m}, affine=${pyBool(this.affine)}, track_running_stats=${pyBool(this.trackRunningStats)}`;
  }
}

export interface GroupNormOptions {
  /** Added to the variance inside the square root (default 1e-5). */
  eps?: number;
  /** Learnable per-channel weight (initialised to 1) and bias (to 0); default true. */
  affine?: boolean;
}

/**
 * Group normalisation (PyTorch's `nn.GroupNorm`; keys `weight`, `bias`): the channels of `[N, C, *]`
 * are split into `numGroups` groups, each normalised over its channels and spatial positions with the
 * biased variance, then scaled and shifted per channel. The same in train and eval mode.
 *
 * @example
 * const gn = new GroupNorm(4, 32);
 * const y = gn.forward(randn([2, 32, 8, 8])); // per sample, per group of 8 channels: mean 0, variance 1
 */
export class GroupNorm extends Module {
  readonly eps: number;
  readonly affine: boolean;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;

  constructor(
    readonly numGroups: number,
    readonly numChannels: number,
    opts: GroupNormOptions = {},
  ) {
    super();
    for (const [k, v] of [
      ["numGroups", numGroups],
      ["numChannels", numChannels],
    ] as const) {
      if (!Number.isInteger(v) || v < 1)
        throw new RangeError(`GroupNorm: ${k} must be a positive integer, got ${v}`);
    }
    if (numChannels % numGroups !== 0) {
      throw new RangeError(
        `GroupNorm: numChannels ${numChannels} must be divisible by numGroups ${numGroups}`,
      );
    }
    this.eps = opts.eps ?? 1e-5;
    this.affine = opts.affine ?? true;
    this.weight = this.registerParameter("weight", this.affine ? init.ones(empty([numChannels])) : null);
    this.bias = this.registerParameter("bias", this.affine ? init.zeros(empty([numChannels])) : null);
  }

  override forward(x: Tensor): Tensor {
    const C = this.numChannels;
    if (x.rank < 2 || x.shape[1] !== C) {
      throw new RangeError(`GroupNorm: expected input [N, ${C}, *], got ${fmtShape(x.shape)}`);
    }
    const N = x.shape[0]!;
    const G = this.numGroups;
    return tidy(() => {
      // [N, C, *] → [N, G, (C/G)·∏*]: each group is one row of a layer norm without affine.
      const rowLen = x.size / Math.max(N * G, 1);
      const grouped = x.reshape([N, G, rowLen]);
      let y = layerNorm(grouped, [rowLen], null, null, this.eps).reshape(x.shape);
      const perChannel = [C, ...x.shape.slice(2).map(() => 1)];
      if (this.weight) y = y.mul(this.weight.reshape(perChannel));
      if (this.bias) y = y.add(this.bias.reshape(perChannel));
      return y;
    });
  }

  override extraRepr(): string {
    return `${this.numGroups}, ${this.numChannels}, eps=${formatFloat(this.eps)}, affine=${pyBool(this.affine)}`;
  }
}
