/**
 * GradScaler: dynamic loss scaling for float16 training (torch.amp.GradScaler). float16 gradients
 * of small losses underflow to zero; scaling the loss by S before backward keeps them in range,
 * and the gradients are divided by S again before the optimizer step. A step whose gradients hold
 * an inf or NaN (S was too large) is skipped and S shrinks; after `growthInterval` clean steps S
 * grows again. bfloat16 has float32's range and needs no scaler.
 */
import "@tessera/autograd";
import { noGrad } from "@tessera/autograd";
import { assign, isHalf, keep, mul, stack, sum, type Tensor, tidy } from "@tessera/core";
import type { Optimizer } from "./optimizer.js";

// biome-ignore lint/suspicious/noExplicitAny: a scaler steps optimizers of any hyperparameters.
type AnyOptimizer = Optimizer<any>;

export interface GradScalerOptions {
  /** The first scale (default 2^16). */
  initScale?: number;
  /** The factor the scale grows by after `growthInterval` steps without inf/NaN (default 2). */
  growthFactor?: number;
  /** The factor the scale shrinks by after a step with inf/NaN (default 0.5). */
  backoffFactor?: number;
  /** Clean steps between two growths (default 2000). */
  growthInterval?: number;
  /** false: every method is a pass-through (`scale` returns the loss, `step` steps); default true. */
  enabled?: boolean;
}

/** `stateDict()`: PyTorch's keys, so a torch scaler's state loads as is (empty when disabled). */
export interface GradScalerState {
  scale?: number;
  growth_factor?: number;
  backoff_factor?: number;
  growth_interval?: number;
  _growth_tracker?: number;
}

/** Where one optimizer is in the current iteration. */
interface OptimizerState {
  stage: "unscaled" | "stepped";
  /** NaN when any unscaled gradient is inf or NaN, else 0 (0-d, float32; read once). */
  check: Tensor | null;
  foundInf?: boolean;
}

/**
 * Dynamic loss scaling, with PyTorch's semantics: `scale(loss)` before backward, `step(optimizer)`
 * instead of `optimizer.step()` (it unscales the gradients unless `unscale_` already did, and skips
 * the step when one is inf or NaN), then `update()` once per iteration. Call `unscale_(optimizer)`
 * yourself before clipping gradients. The inf/NaN check is one reduction per parameter and one
 * read per optimizer; `step` reads synchronously (`stepAsync` for backends without sync reads).
 *
 * @example
 * import { autocast } from "@tessera/core";
 * import { AdamW, GradScaler, clipGradNorm } from "@tessera/nn";
 *
 * const scaler = new GradScaler();
 * const loss = autocast({ dtype: "float16" }, () => lossOf(model, batch));
 * scaler.scale(loss).backward();
 * scaler.unscale_(opt); // only when clipping
 * clipGradNorm(model.parameters(), 1);
 * scaler.step(opt); // false: skipped, a gradient was inf/NaN
 * scaler.update();
 * opt.zeroGrad();
 */
export class GradScaler {
  private scaleValue: number;
  private growthTracker = 0;
  private growthFactor: number;
  private backoffFactor: number;
  private growthInterval: number;
  private readonly enabled: boolean;
  private readonly states = new Map<AnyOptimizer, OptimizerState>();

  constructor(opts: GradScalerOptions = {}) {
    this.enabled = opts.enabled ?? true;
    this.scaleValue = Math.fround(opts.initScale ?? 2 ** 16);
    this.growthFactor = opts.growthFactor ?? 2;
    this.backoffFactor = opts.backoffFactor ?? 0.5;
    this.growthInterval = opts.growthInterval ?? 2000;
    check(this.scaleValue > 0 && Number.isFinite(this.scaleValue), "initScale", opts.initScale, "> 0");
    check(this.growthFactor > 1, "growthFactor", opts.growthFactor, "> 1");
    check(this.backoffFactor > 0 && this.backoffFactor < 1, "backoffFactor", opts.backoffFactor, "in (0, 1)");
    check(
      Number.isInteger(this.growthInterval) && this.growthInterval > 0,
      "growthInterval",
      opts.growthInterval,
      "a positive integer",
    );
  }

  /** Whether the scaler scales (false: every method passes through). */
  isEnabled(): boolean {
    return this.enabled;
  }

  /** The current scale (1 when disabled). */
  getScale(): number {
    return this.enabled ? this.scaleValue : 1;
  }

  /**
   * `loss · scale`, in float32 (a half loss is widened first so the product cannot overflow).
   * Disabled: the loss itself.
   */
  scale(loss: Tensor): Tensor {
    if (!this.enabled) return loss;
    return tidy(() => mul(isHalf(loss.dtype) ? loss.cast("float32") : loss, this.scaleValue));
  }

  /**
   * Divides the gradients of `optimizer`'s parameters by the scale, in place, and records whether
   * any is inf or NaN. At most once per optimizer between two `update()`s, and before `step`.
   */
  unscale_(optimizer: AnyOptimizer): void {
    if (!this.enabled) return;
    const prev = this.states.get(optimizer);
    if (prev?.stage === "unscaled")
      throw new Error("GradScaler.unscale_: already called on this optimizer since the last update()");
    if (prev?.stage === "stepped")
      throw new Error("GradScaler.unscale_: called after step(); call update() first");
    // 1/scale in double, then float32, as torch does.
    const inv = Math.fround(1 / this.scaleValue);
    const grads: Tensor[] = [];
    optimizer.paramGroups.forEach((group, gi) => {
      group.params.forEach((p: Tensor, pi: number) => {
        const g = p.grad;
        if (!g) return;
        if (g.dtype === "float16") {
          throw new TypeError(
            `GradScaler.unscale_: parameter ${pi} of group ${gi} has a float16 gradient; keep parameters in float32 and let autocast cast them`,
          );
        }
        grads.push(g);
      });
    });
    const checkTensor = noGrad(() =>
      tidy(() => {
        const checks = grads.map((g) => {
          const unscaled = mul(g, inv);
          assign(g, unscaled);
          // x·0 is 0 for finite x and NaN for ±inf and NaN: one sum per parameter finds any.
          return sum(mul(unscaled, 0)).cast("float32");
        });
        return checks.length === 0 ? null : keep(sum(stack(checks)));
      }),
    );
    this.states.set(optimizer, { stage: "unscaled", check: checkTensor });
  }

  /**
   * Unscales (unless `unscale_` did) and runs `optimizer.step()` unless a gradient is inf or NaN.
   * Returns false when the step was skipped.
   */
  step(optimizer: AnyOptimizer): boolean {
    if (!this.enabled) {
      optimizer.step();
      return true;
    }
    const s = this.prepareStep(optimizer);
    return this.finishStep(optimizer, s, s.check ? (s.check.itemSync() as number) : 0);
  }

  /** `step` with an asynchronous read of the inf/NaN check. */
  async stepAsync(optimizer: AnyOptimizer): Promise<boolean> {
    if (!this.enabled) {
      optimizer.step();
      return true;
    }
    const s = this.prepareStep(optimizer);
    return this.finishStep(optimizer, s, s.check ? await s.check.item() : 0);
  }

  private prepareStep(optimizer: AnyOptimizer): OptimizerState {
    if (this.states.get(optimizer)?.stage === "stepped")
      throw new Error("GradScaler.step: already called on this optimizer since the last update()");
    if (!this.states.has(optimizer)) this.unscale_(optimizer);
    return this.states.get(optimizer)!;
  }

  private finishStep(optimizer: AnyOptimizer, s: OptimizerState, checkValue: number): boolean {
    s.check?.dispose();
    s.check = null;
    s.foundInf = Number.isNaN(checkValue);
    s.stage = "stepped";
    if (s.foundInf) return false;
    optimizer.step();
    return true;
  }

  /**
   * Adjusts the scale once per iteration: × backoffFactor when any optimizer found inf/NaN this
   * iteration, × growthFactor after `growthInterval` clean iterations in a row. `newScale` sets it
   * outright instead.
   */
  update(newScale?: number): void {
    if (!this.enabled) return;
    if (newScale !== undefined) {
      check(newScale > 0 && Number.isFinite(newScale), "update: newScale", newScale, "> 0");
      this.scaleValue = Math.fround(newScale);
    } else {
      if (this.states.size === 0) {
        throw new Error(
          "GradScaler.update: no inf/NaN checks were recorded; call step(optimizer) (or unscale_) before update()",
        );
      }
      let found = false;
      for (const s of this.states.values()) {
        if (s.foundInf === undefined) s.foundInf = Number.isNaN(s.check ? (s.check.itemSync() as number) : 0);
        found ||= s.foundInf;
      }
      if (found) {
        this.scaleValue = Math.fround(this.scaleValue * this.backoffFactor);
        this.growthTracker = 0;
      } else if (++this.growthTracker === this.growthInterval) {
        const grown = Math.fround(this.scaleValue * this.growthFactor);
        if (Number.isFinite(grown)) this.scaleValue = grown;
        this.growthTracker = 0;
      }
    }
    for (const s of this.states.values()) s.check?.dispose();
    this.states.clear();
  }

  /** The scale, factors, interval and growth tracker under PyTorch's keys; `{}` when disabled. */
  stateDict(): GradScalerState {
    if (!this.enabled) return {};
    return {
      scale: this.scaleValue,
      growth_factor: this.growthFactor,
      backoff_factor: this.backoffFactor,
      growth_interval: this.growthInterval,
      _growth_tracker: this.growthTracker,
    };
  }

  /** Restores `stateDict()` (a torch GradScaler's state too). */
  loadStateDict(sd: GradScalerState): void {
    if (!this.enabled) return;
    if (sd.scale === undefined) {
      throw new Error("GradScaler.loadStateDict: the state dict is empty (written by a disabled scaler)");
    }
    const num = (v: unknown, name: string): number => {
      if (typeof v !== "number" || !Number.isFinite(v))
        throw new TypeError(
          `GradScaler.loadStateDict: ${name} must be a finite number, got ${JSON.stringify(v)}`,
        );
      return v;
    };
    this.scaleValue = Math.fround(num(sd.scale, "scale"));
    this.growthFactor = num(sd.growth_factor ?? this.growthFactor, "growth_factor");
    this.backoffFactor = num(sd.backoff_factor ?? this.backoffFactor, "backoff_factor");
    this.growthInterval = num(sd.growth_interval ?? this.growthInterval, "growth_interval");
    this.growthTracker = num(sd._growth_tracker ?? 0, "_growth_tracker");
  }
}

function check(ok: boolean, name: string, value: unknown, want: string): void {
  if (!ok) throw new RangeError(`GradScaler: ${name} must be ${want}, got ${JSON.stringify(value)}`);
}
