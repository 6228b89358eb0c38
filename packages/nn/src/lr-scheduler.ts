/**
 * Learning-rate schedulers (torch.optim.lr_scheduler): StepLR, CosineAnnealingLR, LambdaLR,
 * WarmupCosineLR (linear warmup then cosine decay), OneCycleLR and ReduceLROnPlateau. Each sets
 * `lr` in the optimizer's parameter groups; call `step()` once per epoch (or per batch for
 * OneCycleLR / WarmupCosineLR) after `optimizer.step()`.
 *
 * Every epoch-based scheduler computes the learning rate in closed form from the base learning
 * rates and the step count (torch's `_get_closed_form_lr`), where torch's `step()` updates the
 * current value recursively. For a scheduler that alone drives an optimizer the two agree to
 * rounding (~1e-16 relative, checked against torch 1.13); the difference shows only when something
 * else also changes `lr` between steps (chaining two schedulers on one optimizer), which these
 * schedulers do not support: the last one to step wins.
 */
import type { Optimizer, ParamGroupBase } from "./optimizer.js";

/** Any optimizer (its groups have `lr`). */
// biome-ignore lint/suspicious/noExplicitAny: schedulers work with every optimizer's hyperparameters.
type AnyOptimizer = Optimizer<any>;

/** A JSON-able snapshot of a scheduler (non-finite numbers are stored as strings). */
export type SchedulerStateDict = Record<string, number | string | boolean | null | (number | string)[]>;

function encodeNumber(x: number): number | string {
  return Number.isFinite(x) ? x : String(x);
}

function decodeNumber(x: unknown, what: string): number {
  if (typeof x === "number") return x;
  if (x === "Infinity" || x === "-Infinity" || x === "NaN") return Number(x);
  throw new TypeError(`loadStateDict: ${what} must be a number, got ${JSON.stringify(x)}`);
}

function perGroup(name: string, value: number | readonly number[], groups: number, op: string): number[] {
  if (typeof value === "number") return new Array<number>(groups).fill(value);
  if (value.length !== groups) {
    throw new RangeError(`${op}: ${name} has ${value.length} values for ${groups} parameter groups`);
  }
  return [...value];
}

/**
 * The base of the epoch-based schedulers: it records each group's base learning rate (its
 * `initialLr`, set from `lr` by the first scheduler) and sets `lr = lrAt(epoch, base)` at
 * construction (epoch 0) and at every `step()`.
 *
 * @example
 * import { LambdaLR, SGD } from "@tessera/nn";
 * import { zeros } from "@tessera/core";
 *
 * const opt = new SGD([zeros([2])], { lr: 0.1 });
 * const sched = new LambdaLR(opt, (epoch) => 1 / (1 + epoch));
 * sched.step();
 * sched.getLastLr(); // [0.05]
 */
export abstract class LRScheduler {
  /** The number of `step()` calls so far (torch's `last_epoch`; 0 right after construction). */
  lastEpoch = -1;
  /** Each group's learning rate at the start of the schedule. */
  readonly baseLrs: number[];
  protected lastLr: number[] = [];

  constructor(readonly optimizer: AnyOptimizer) {
    const groups = optimizer.paramGroups as ParamGroupBase[];
    for (const g of groups) g.initialLr ??= g.lr;
    this.baseLrs = groups.map((g) => g.initialLr!);
  }

  /** The class name used in messages. */
  get typeName(): string {
    return this.constructor.name;
  }

  /** The learning rate of group `group` at step `epoch`. */
  protected abstract lrAt(epoch: number, group: number): number;

  /** Sets the learning rates of step 0; subclasses call it at the end of their constructor. */
  protected initialStep(): void {
    this.step();
  }

  /** Advances one step and sets every group's `lr`. */
  step(): void {
    this.lastEpoch++;
    this.applyLrs();
  }

  protected applyLrs(): void {
    const groups = this.optimizer.paramGroups as ParamGroupBase[];
    this.lastLr = groups.map((g, i) => {
      g.lr = this.lrAt(this.lastEpoch, i);
      return g.lr;
    });
  }

  /** The learning rates this scheduler set last, one per group. */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  /** The scheduler's position (JSON-able); the optimizer's own state dict holds the group `lr`s. */
  stateDict(): SchedulerStateDict {
    return {
      scheduler: this.typeName,
      lastEpoch: this.lastEpoch,
      baseLrs: [...this.baseLrs],
      lastLr: [...this.lastLr],
    };
  }

  /** Restores a `stateDict()` of the same scheduler class. */
  loadStateDict(sd: SchedulerStateDict): void {
    if (sd.scheduler !== this.typeName) {
      throw new Error(
        `${this.typeName}.loadStateDict: the state dict was written by ${String(sd.scheduler)}`,
      );
    }
    const base = sd.baseLrs as number[];
    if (!Array.isArray(base) || base.length !== this.baseLrs.length) {
      throw new RangeError(
        `${this.typeName}.loadStateDict: baseLrs has ${Array.isArray(base) ? base.length : 0} values for ${this.baseLrs.length} parameter groups`,
      );
    }
    this.lastEpoch = decodeNumber(sd.lastEpoch, "lastEpoch");
    this.baseLrs.splice(0, this.baseLrs.length, ...base.map((x) => decodeNumber(x, "baseLrs")));
    this.lastLr = ((sd.lastLr as number[]) ?? []).map((x) => decodeNumber(x, "lastLr"));
  }
}

/**
 * Multiplies the learning rate by `gamma` every `stepSize` steps: `lr = base · gamma^floor(epoch / stepSize)`.
 *
 * @example
 * import { SGD, StepLR } from "@tessera/nn";
 * import { zeros } from "@tessera/core";
 *
 * const opt = new SGD([zeros([2])], { lr: 0.1 });
 * const sched = new StepLR(opt, 30, { gamma: 0.1 }); // 0.1 for 30 epochs, then 0.01, …
 * for (let epoch = 0; epoch < 100; epoch++) {
 *   // train…
 *   sched.step();
 * }
 */
export class StepLR extends LRScheduler {
  readonly gamma: number;

  constructor(
    optimizer: AnyOptimizer,
    readonly stepSize: number,
    opts: { gamma?: number } = {},
  ) {
    super(optimizer);
    if (!(Number.isInteger(stepSize) && stepSize > 0)) {
      throw new RangeError(`StepLR: stepSize must be a positive integer, got ${stepSize}`);
    }
    this.gamma = opts.gamma ?? 0.1;
    this.initialStep();
  }

  protected lrAt(epoch: number, group: number): number {
    return this.baseLrs[group]! * this.gamma ** Math.floor(epoch / this.stepSize);
  }
}

/**
 * Cosine annealing from the base learning rate to `etaMin` over `tMax` steps (SGDR without restarts):
 * `lr = etaMin + (base − etaMin)·(1 + cos(π·epoch/tMax))/2`. Past `tMax` the cosine continues (the
 * rate rises again), as in torch. Closed form, see the module comment.
 *
 * @example
 * import { CosineAnnealingLR, SGD } from "@tessera/nn";
 * import { zeros } from "@tessera/core";
 *
 * const opt = new SGD([zeros([2])], { lr: 0.1 });
 * const sched = new CosineAnnealingLR(opt, 50, { etaMin: 1e-4 });
 */
export class CosineAnnealingLR extends LRScheduler {
  readonly etaMin: number;

  constructor(
    optimizer: AnyOptimizer,
    readonly tMax: number,
    opts: { etaMin?: number } = {},
  ) {
    super(optimizer);
    if (!(tMax > 0)) throw new RangeError(`CosineAnnealingLR: tMax must be > 0, got ${tMax}`);
    this.etaMin = opts.etaMin ?? 0;
    this.initialStep();
  }

  protected lrAt(epoch: number, group: number): number {
    const base = this.baseLrs[group]!;
    return this.etaMin + ((base - this.etaMin) * (1 + Math.cos((Math.PI * epoch) / this.tMax))) / 2;
  }
}

/**
 * `lr = base · lrLambda(epoch, group)`. The function is not part of `stateDict()`.
 *
 * @example
 * import { LambdaLR, SGD } from "@tessera/nn";
 * import { zeros } from "@tessera/core";
 *
 * const opt = new SGD([zeros([2])], { lr: 0.1 });
 * const sched = new LambdaLR(opt, (epoch) => 0.95 ** epoch);
 */
export class LambdaLR extends LRScheduler {
  constructor(
    optimizer: AnyOptimizer,
    readonly lrLambda: (epoch: number, group: number) => number,
  ) {
    super(optimizer);
    this.initialStep();
  }

  protected lrAt(epoch: number, group: number): number {
    return this.baseLrs[group]! * this.lrLambda(epoch, group);
  }
}

export interface WarmupCosineOptions {
  /** Steps of linear warmup from `warmupStartFactor · base` to `base`. */
  warmupSteps: number;
  /** The step at which the cosine reaches `minLr` (warmup included); the rate stays there afterwards. */
  totalSteps: number;
  /** The final learning rate (default 0), the same for every group. */
  minLr?: number;
  /** The fraction of the base rate the warmup starts from (default 0). */
  warmupStartFactor?: number;
}

/**
 * Linear warmup followed by cosine decay, the usual transformer schedule. With `t` the step:
 *
 *     t < warmupSteps:  lr = base · (f + (1 − f) · t / warmupSteps)        f = warmupStartFactor
 *     otherwise:        lr = minLr + (base − minLr) · (1 + cos(π · min(1, (t − warmupSteps) / (totalSteps − warmupSteps)))) / 2
 *
 * Up to `totalSteps` this equals torch's `SequentialLR([LinearLR(start_factor=f, total_iters=warmupSteps),
 * CosineAnnealingLR(T_max=totalSteps − warmupSteps, eta_min=minLr)], milestones=[warmupSteps])`
 * (torch's LinearLR needs f > 0; here 0 is allowed); past it the rate stays at `minLr` where torch's
 * cosine would rise again.
 *
 * @example
 * import { AdamW, WarmupCosineLR } from "@tessera/nn";
 * import { zeros } from "@tessera/core";
 *
 * const opt = new AdamW([zeros([2])], { lr: 3e-4 });
 * const sched = new WarmupCosineLR(opt, { warmupSteps: 100, totalSteps: 1000, minLr: 1e-6 });
 * // per batch: opt.step(); sched.step();
 */
export class WarmupCosineLR extends LRScheduler {
  readonly warmupSteps: number;
  readonly totalSteps: number;
  readonly minLr: number;
  readonly warmupStartFactor: number;

  constructor(optimizer: AnyOptimizer, opts: WarmupCosineOptions) {
    super(optimizer);
    const { warmupSteps, totalSteps } = opts;
    if (!(Number.isInteger(warmupSteps) && warmupSteps >= 0)) {
      throw new RangeError(`WarmupCosineLR: warmupSteps must be an integer >= 0, got ${warmupSteps}`);
    }
    if (!(Number.isInteger(totalSteps) && totalSteps > warmupSteps)) {
      throw new RangeError(
        `WarmupCosineLR: totalSteps must be an integer > warmupSteps (${warmupSteps}), got ${totalSteps}`,
      );
    }
    this.warmupSteps = warmupSteps;
    this.totalSteps = totalSteps;
    this.minLr = opts.minLr ?? 0;
    this.warmupStartFactor = opts.warmupStartFactor ?? 0;
    if (!(this.warmupStartFactor >= 0 && this.warmupStartFactor <= 1)) {
      throw new RangeError(
        `WarmupCosineLR: warmupStartFactor must be in [0, 1], got ${this.warmupStartFactor}`,
      );
    }
    this.initialStep();
  }

  protected lrAt(epoch: number, group: number): number {
    const base = this.baseLrs[group]!;
    if (epoch < this.warmupSteps) {
      const f = this.warmupStartFactor;
      return base * (f + ((1 - f) * epoch) / this.warmupSteps);
    }
    const progress = Math.min(1, (epoch - this.warmupSteps) / (this.totalSteps - this.warmupSteps));
    return this.minLr + ((base - this.minLr) * (1 + Math.cos(Math.PI * progress))) / 2;
  }
}

export interface OneCycleOptions {
  /** The fraction of the steps spent increasing the rate (default 0.3). */
  pctStart?: number;
  /** `'cos'` (default) or `'linear'` annealing. */
  annealStrategy?: "cos" | "linear";
  /** Also cycle the momentum (SGD's `momentum`, Adam's `betas[0]`) inversely to the rate (default true, as in torch). */
  cycleMomentum?: boolean;
  /** Momentum at the peak learning rate (default 0.85). */
  baseMomentum?: number | readonly number[];
  /** Momentum at the start and end (default 0.95). */
  maxMomentum?: number | readonly number[];
  /** The initial rate is `maxLr / divFactor` (default 25). */
  divFactor?: number;
  /** The final rate is `maxLr / divFactor / finalDivFactor` (default 1e4). */
  finalDivFactor?: number;
  /** Three phases (up, back down to the initial rate, then to the final rate) instead of two (default false). */
  threePhase?: boolean;
}

interface Phase {
  endStep: number;
  lr: [keyof Anchors, keyof Anchors];
  momentum: ["maxMomentum" | "baseMomentum", "maxMomentum" | "baseMomentum"];
}

interface Anchors {
  initialLr: number[];
  maxLr: number[];
  minLr: number[];
}

/**
 * The 1cycle policy (Smith & Topin), torch 1.13's `OneCycleLR`: the rate rises from `maxLr/divFactor`
 * to `maxLr` over the first `pctStart` of `totalSteps`, then anneals to `maxLr/(divFactor·finalDivFactor)`;
 * with `cycleMomentum` the momentum (SGD's `momentum`, Adam's `betas[0]`) moves the opposite way between
 * `maxMomentum` and `baseMomentum`. Call `step()` after every batch; stepping past `totalSteps` throws.
 * Its base rates are its own (`maxLr/divFactor`), not the optimizer's `lr`.
 *
 * @example
 * import { OneCycleLR, SGD } from "@tessera/nn";
 * import { zeros } from "@tessera/core";
 *
 * const opt = new SGD([zeros([2])], { lr: 0.1, momentum: 0.9 });
 * const sched = new OneCycleLR(opt, 1.0, 1000); // per batch: opt.step(); sched.step();
 */
export class OneCycleLR extends LRScheduler {
  readonly totalSteps: number;
  readonly annealStrategy: "cos" | "linear";
  readonly cycleMomentum: boolean;
  private readonly anchors: Anchors;
  private readonly momenta: { maxMomentum: number[]; baseMomentum: number[] };
  private readonly phases: Phase[];
  private readonly useBeta1: boolean;

  constructor(
    optimizer: AnyOptimizer,
    maxLr: number | readonly number[],
    totalSteps: number,
    opts: OneCycleOptions = {},
  ) {
    super(optimizer);
    const op = "OneCycleLR";
    const n = optimizer.paramGroups.length;
    if (!(Number.isInteger(totalSteps) && totalSteps > 0)) {
      throw new RangeError(`${op}: totalSteps must be a positive integer, got ${totalSteps}`);
    }
    const pctStart = opts.pctStart ?? 0.3;
    if (!(pctStart >= 0 && pctStart <= 1))
      throw new RangeError(`${op}: pctStart must be in [0, 1], got ${pctStart}`);
    const anneal = opts.annealStrategy ?? "cos";
    if (anneal !== "cos" && anneal !== "linear") {
      throw new RangeError(`${op}: annealStrategy must be 'cos' or 'linear', got ${JSON.stringify(anneal)}`);
    }
    this.totalSteps = totalSteps;
    this.annealStrategy = anneal;
    const divFactor = opts.divFactor ?? 25;
    const finalDivFactor = opts.finalDivFactor ?? 1e4;
    const max = perGroup("maxLr", maxLr, n, op);
    const initial = max.map((x) => x / divFactor);
    this.anchors = { maxLr: max, initialLr: initial, minLr: initial.map((x) => x / finalDivFactor) };
    this.baseLrs.splice(0, n, ...initial);
    for (const [i, g] of (optimizer.paramGroups as ParamGroupBase[]).entries()) g.initialLr = initial[i]!;
    this.phases = opts.threePhase
      ? [
          {
            endStep: pctStart * totalSteps - 1,
            lr: ["initialLr", "maxLr"],
            momentum: ["maxMomentum", "baseMomentum"],
          },
          {
            endStep: 2 * pctStart * totalSteps - 2,
            lr: ["maxLr", "initialLr"],
            momentum: ["baseMomentum", "maxMomentum"],
          },
          { endStep: totalSteps - 1, lr: ["initialLr", "minLr"], momentum: ["maxMomentum", "maxMomentum"] },
        ]
      : [
          {
            endStep: pctStart * totalSteps - 1,
            lr: ["initialLr", "maxLr"],
            momentum: ["maxMomentum", "baseMomentum"],
          },
          { endStep: totalSteps - 1, lr: ["maxLr", "minLr"], momentum: ["baseMomentum", "maxMomentum"] },
        ];
    this.cycleMomentum = opts.cycleMomentum ?? true;
    const defaults = optimizer.defaults as Record<string, unknown>;
    this.useBeta1 = "betas" in defaults;
    if (this.cycleMomentum && !this.useBeta1 && !("momentum" in defaults)) {
      throw new Error(
        `${op}: cycleMomentum needs an optimizer with momentum or betas (pass cycleMomentum: false)`,
      );
    }
    this.momenta = {
      maxMomentum: perGroup("maxMomentum", opts.maxMomentum ?? 0.95, n, op),
      baseMomentum: perGroup("baseMomentum", opts.baseMomentum ?? 0.85, n, op),
    };
    this.initialStep();
  }

  private anneal(start: number, end: number, pct: number): number {
    return this.annealStrategy === "cos"
      ? end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1)
      : (end - start) * pct + start;
  }

  /** The phase of `epoch` and how far into it (torch's loop, including its float phase ends). */
  private locate(epoch: number): { phase: Phase; pct: number } {
    let start = 0;
    for (const [i, phase] of this.phases.entries()) {
      if (epoch <= phase.endStep || i === this.phases.length - 1) {
        return { phase, pct: (epoch - start) / (phase.endStep - start) };
      }
      start = phase.endStep;
    }
    throw new Error("unreachable");
  }

  protected lrAt(epoch: number, group: number): number {
    const { phase, pct } = this.locate(epoch);
    return this.anneal(this.anchors[phase.lr[0]][group]!, this.anchors[phase.lr[1]][group]!, pct);
  }

  protected override applyLrs(): void {
    if (this.lastEpoch > this.totalSteps) {
      throw new RangeError(
        `OneCycleLR: stepped ${this.lastEpoch} times, more than totalSteps (${this.totalSteps})`,
      );
    }
    super.applyLrs();
    if (!this.cycleMomentum) return;
    const { phase, pct } = this.locate(this.lastEpoch);
    for (const [i, g] of (this.optimizer.paramGroups as Array<Record<string, unknown>>).entries()) {
      const m = this.anneal(this.momenta[phase.momentum[0]][i]!, this.momenta[phase.momentum[1]][i]!, pct);
      if (this.useBeta1) g.betas = [m, (g.betas as number[])[1]!];
      else g.momentum = m;
    }
  }
}

export interface ReduceLROnPlateauOptions {
  /** `'min'` (default): the metric should fall; `'max'`: it should rise. */
  mode?: "min" | "max";
  /** The factor the rate is multiplied by (default 0.1; must be < 1). */
  factor?: number;
  /** Steps without improvement tolerated before reducing (default 10). */
  patience?: number;
  /** What counts as an improvement (default 1e-4). */
  threshold?: number;
  /** `'rel'` (default): better than `best·(1 ∓ threshold)`; `'abs'`: better than `best ∓ threshold`. */
  thresholdMode?: "rel" | "abs";
  /** Steps to wait after a reduction before counting again (default 0). */
  cooldown?: number;
  /** Lower bound of the rate, one for all groups or one per group (default 0). */
  minLr?: number | readonly number[];
  /** Reductions smaller than this are skipped (default 1e-8). */
  eps?: number;
}

/**
 * Reduces the learning rate by `factor` when a metric has stopped improving for `patience` steps,
 * torch 1.13's `ReduceLROnPlateau`. Call `step(metric)` after each evaluation.
 *
 * @example
 * import { ReduceLROnPlateau, SGD } from "@tessera/nn";
 * import { zeros } from "@tessera/core";
 *
 * const opt = new SGD([zeros([2])], { lr: 0.1 });
 * const sched = new ReduceLROnPlateau(opt, { patience: 2, factor: 0.5 });
 * for (const valLoss of [1.0, 0.9, 0.9, 0.9, 0.9]) sched.step(valLoss);
 * sched.getLastLr(); // [0.05]
 */
export class ReduceLROnPlateau {
  readonly mode: "min" | "max";
  readonly factor: number;
  readonly patience: number;
  readonly threshold: number;
  readonly thresholdMode: "rel" | "abs";
  readonly cooldown: number;
  readonly minLrs: number[];
  readonly eps: number;
  /** The best metric so far (±Infinity before the first). */
  best: number;
  numBadEpochs = 0;
  cooldownCounter = 0;
  lastEpoch = 0;
  private lastLr: number[];

  constructor(
    readonly optimizer: AnyOptimizer,
    opts: ReduceLROnPlateauOptions = {},
  ) {
    const op = "ReduceLROnPlateau";
    this.mode = opts.mode ?? "min";
    this.factor = opts.factor ?? 0.1;
    this.patience = opts.patience ?? 10;
    this.threshold = opts.threshold ?? 1e-4;
    this.thresholdMode = opts.thresholdMode ?? "rel";
    this.cooldown = opts.cooldown ?? 0;
    this.eps = opts.eps ?? 1e-8;
    if (this.mode !== "min" && this.mode !== "max")
      throw new RangeError(`${op}: mode must be 'min' or 'max', got ${JSON.stringify(this.mode)}`);
    if (this.thresholdMode !== "rel" && this.thresholdMode !== "abs") {
      throw new RangeError(
        `${op}: thresholdMode must be 'rel' or 'abs', got ${JSON.stringify(this.thresholdMode)}`,
      );
    }
    if (!(this.factor < 1)) throw new RangeError(`${op}: factor must be < 1, got ${this.factor}`);
    this.minLrs = perGroup("minLr", opts.minLr ?? 0, optimizer.paramGroups.length, op);
    this.best = this.mode === "min" ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
    this.lastLr = (optimizer.paramGroups as ParamGroupBase[]).map((g) => g.lr);
  }

  private isBetter(a: number): boolean {
    const { best, threshold } = this;
    if (this.mode === "min")
      return this.thresholdMode === "rel" ? a < best * (1 - threshold) : a < best - threshold;
    return this.thresholdMode === "rel" ? a > best * (threshold + 1) : a > best + threshold;
  }

  /** Records `metric` (e.g. the validation loss) and reduces the rate if it has plateaued. */
  step(metric: number): void {
    if (typeof metric !== "number")
      throw new TypeError(`ReduceLROnPlateau.step: metric must be a number, got ${typeof metric}`);
    this.lastEpoch++;
    if (this.isBetter(metric)) {
      this.best = metric;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs++;
    }
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.numBadEpochs = 0;
    }
    if (this.numBadEpochs > this.patience) {
      for (const [i, g] of (this.optimizer.paramGroups as ParamGroupBase[]).entries()) {
        const newLr = Math.max(g.lr * this.factor, this.minLrs[i]!);
        if (g.lr - newLr > this.eps) g.lr = newLr;
      }
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this.lastLr = (this.optimizer.paramGroups as ParamGroupBase[]).map((g) => g.lr);
  }

  /** The learning rates after the last step, one per group. */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  /** The counters and best metric (JSON-able: ±Infinity is stored as a string). */
  stateDict(): SchedulerStateDict {
    return {
      scheduler: "ReduceLROnPlateau",
      best: encodeNumber(this.best),
      numBadEpochs: this.numBadEpochs,
      cooldownCounter: this.cooldownCounter,
      lastEpoch: this.lastEpoch,
      lastLr: [...this.lastLr],
    };
  }

  /** Restores a `stateDict()`; the configuration (mode, factor, …) stays the constructor's. */
  loadStateDict(sd: SchedulerStateDict): void {
    if (sd.scheduler !== "ReduceLROnPlateau") {
      throw new Error(
        `ReduceLROnPlateau.loadStateDict: the state dict was written by ${String(sd.scheduler)}`,
      );
    }
    this.best = decodeNumber(sd.best, "best");
    this.numBadEpochs = decodeNumber(sd.numBadEpochs, "numBadEpochs");
    this.cooldownCounter = decodeNumber(sd.cooldownCounter, "cooldownCounter");
    this.lastEpoch = decodeNumber(sd.lastEpoch, "lastEpoch");
    this.lastLr = ((sd.lastLr as number[]) ?? []).map((x) => decodeNumber(x, "lastLr"));
  }
}
