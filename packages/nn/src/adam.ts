/**
 * Adam and AdamW (torch 1.13's `torch.optim.Adam` / `AdamW`, single-tensor path). The update is
 * core's `adamUpdate`, which runs the backend's fused kernel when it has one; AMSGrad, which
 * divides by the running maximum of the second moment, is a composite of core ops.
 */
import {
  adamUpdate,
  add,
  assign,
  div,
  isHalf,
  maximum,
  mul,
  neg,
  sqrt,
  sub,
  type Tensor,
  zerosLike,
} from "@tessera/core";
import { Optimizer, type OptimizerParams, type ParamGroup, type ParamState } from "./optimizer.js";

export interface AdamOptions {
  /** Learning rate (default 1e-3). */
  lr?: number;
  /** Decay rates of the first and second moment (default [0.9, 0.999]). */
  betas?: [number, number];
  /** Added to the denominator after the bias correction (default 1e-8). */
  eps?: number;
  /** Adam: L2 penalty added to the gradient (default 0). AdamW: decoupled decay `p ← p·(1 − lr·wd)` (default 1e-2). */
  weightDecay?: number;
  /** Divide by the running maximum of the second moment (AMSGrad; default false). */
  amsgrad?: boolean;
  /** Maximise the objective instead of minimising it. */
  maximize?: boolean;
}

/** Adam's hyperparameters, as every parameter group holds them. */
export type AdamHyperparameters = Required<AdamOptions>;

/**
 * Adam (Kingma & Ba), torch 1.13's update with the step counted per parameter (t = 1 at the first):
 *
 *     g += weightDecay · p                                  (Adam; AdamW decays p instead)
 *     m = β1·m + (1−β1)·g;   v = β2·v + (1−β2)·g²
 *     p −= lr/(1−β1^t) · m / (sqrt(v)/sqrt(1−β2^t) + eps)   (amsgrad: max of all v so far instead of v)
 *
 * State per parameter: `exp_avg` (m), `exp_avg_sq` (v), `max_exp_avg_sq` (amsgrad) and the step count.
 *
 * @example
 * import { Adam, Linear } from "@tessera/nn";
 * import { randn } from "@tessera/core";
 *
 * const net = new Linear(3, 1);
 * const opt = new Adam(net.parameters(), { lr: 1e-2 });
 * opt.zeroGrad();
 * const y = net.forward(randn([16, 3]));
 * y.mul(y).mean().backward();
 * opt.step();
 */
export class Adam extends Optimizer<AdamHyperparameters> {
  protected readonly stateKeys = ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"] as const;
  /** AdamW decays the parameter instead of adding the L2 term to the gradient. */
  protected get decoupled(): boolean {
    return false;
  }

  constructor(params: OptimizerParams<AdamHyperparameters>, opts: AdamOptions = {}) {
    super(params, {
      lr: opts.lr ?? 1e-3,
      betas: opts.betas ?? [0.9, 0.999],
      eps: opts.eps ?? 1e-8,
      weightDecay: opts.weightDecay ?? 0,
      amsgrad: opts.amsgrad ?? false,
      maximize: opts.maximize ?? false,
    });
  }

  protected checkGroup(g: ParamGroup<AdamHyperparameters>, i: number): void {
    this.checkHyper(g.lr >= 0, i, "lr", g.lr, ">= 0");
    this.checkHyper(g.eps >= 0, i, "eps", g.eps, ">= 0");
    const b = g.betas;
    this.checkHyper(Array.isArray(b) && b.length === 2, i, "betas", b, "a pair [beta1, beta2]");
    this.checkHyper(b[0] >= 0 && b[0] < 1, i, "betas[0]", b[0], "in [0, 1)");
    this.checkHyper(b[1] >= 0 && b[1] < 1, i, "betas[1]", b[1], "in [0, 1)");
    this.checkHyper(g.weightDecay >= 0, i, "weightDecay", g.weightDecay, ">= 0");
  }

  protected updateParam(
    p: Tensor,
    g: Tensor,
    group: ParamGroup<AdamHyperparameters>,
    state: ParamState,
  ): void {
    const { lr, betas, eps, weightDecay, amsgrad, maximize } = group;
    const [beta1, beta2] = betas;
    const step = ++state.step;
    const m = state.tensors.exp_avg ?? this.newStateTensor(state, "exp_avg", zerosLike(p));
    const v = state.tensors.exp_avg_sq ?? this.newStateTensor(state, "exp_avg_sq", zerosLike(p));
    const grad = maximize ? neg(g) : g;
    const decoupled = this.decoupled;
    if (!amsgrad) {
      adamUpdate(p, grad, m, v, { lr, beta1, beta2, eps, weightDecay, decoupled, step });
      return;
    }
    const vmax = state.tensors.max_exp_avg_sq ?? this.newStateTensor(state, "max_exp_avg_sq", zerosLike(p));
    // Half-precision state is computed in float32 and rounded once when assigned back.
    const f32 = (t: Tensor) => (isHalf(t.dtype) ? t.cast("float32") : t);
    let gf = f32(grad);
    let pf = f32(p);
    if (weightDecay !== 0) {
      if (decoupled) pf = mul(pf, 1 - lr * weightDecay);
      else gf = add(gf, mul(pf, weightDecay));
    }
    const m1 = add(mul(f32(m), beta1), mul(gf, 1 - beta1));
    const v1 = add(mul(f32(v), beta2), mul(mul(gf, gf), 1 - beta2));
    const vmax1 = maximum(f32(vmax), v1);
    const denom = add(div(sqrt(vmax1), Math.sqrt(1 - beta2 ** step)), eps);
    const p1 = sub(pf, mul(div(m1, denom), lr / (1 - beta1 ** step)));
    assign(m, m1);
    assign(v, v1);
    assign(vmax, vmax1);
    assign(p, p1);
  }
}

/**
 * AdamW (Loshchilov & Hutter): Adam with decoupled weight decay, `p ← p·(1 − lr·weightDecay)` before
 * the Adam step; weightDecay defaults to 1e-2 as in torch.
 *
 * @example
 * import { AdamW, Linear } from "@tessera/nn";
 * import { randn } from "@tessera/core";
 *
 * const net = new Linear(3, 1);
 * const opt = new AdamW([
 *   { params: [net.weight] },                  // decayed
 *   { params: [net.bias!], weightDecay: 0 },   // not decayed
 * ], { lr: 3e-4 });
 * const y = net.forward(randn([16, 3]));
 * y.mul(y).mean().backward();
 * opt.step();
 */
export class AdamW extends Adam {
  protected override get decoupled(): boolean {
    return true;
  }

  constructor(params: OptimizerParams<AdamHyperparameters>, opts: AdamOptions = {}) {
    super(params, { ...opts, weightDecay: opts.weightDecay ?? 1e-2 });
  }
}
