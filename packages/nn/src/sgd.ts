/**
 * SGD with momentum, Nesterov momentum, weight decay and dampening: torch 1.13's `torch.optim.SGD`
 * (single-tensor path), in place on the parameters.
 */
import { add, assign, mul, neg, sub, type Tensor } from "@tessera/core";
import { Optimizer, type OptimizerParams, type ParamGroup, type ParamState } from "./optimizer.js";

export interface SGDOptions {
  /** Learning rate (required, as in torch). */
  lr: number;
  /** Momentum factor (default 0: plain SGD). */
  momentum?: number;
  /** Dampening of the momentum: the gradient enters the buffer scaled by `1 − dampening` (default 0). */
  dampening?: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0). */
  nesterov?: boolean;
  /** Maximise the objective instead of minimising it. */
  maximize?: boolean;
}

/** SGD's hyperparameters, as every parameter group holds them. */
export type SGDHyperparameters = Required<SGDOptions>;

/**
 * Stochastic gradient descent, torch 1.13's update for every parameter with a gradient:
 *
 *     d = maximize ? −g : g;   d += weightDecay · p
 *     momentum ≠ 0:  buf = d at the first step, else buf = momentum · buf + (1 − dampening) · d
 *                    d = nesterov ? d + momentum · buf : buf
 *     p −= lr · d
 *
 * The state is `momentum_buffer` per parameter (only when momentum ≠ 0).
 *
 * @example
 * import { Linear, SGD } from "@tessera/nn";
 * import { randn } from "@tessera/core";
 *
 * const net = new Linear(3, 1);
 * const opt = new SGD(net.parameters(), { lr: 0.05, momentum: 0.9, nesterov: true });
 * for (let i = 0; i < 10; i++) {
 *   opt.zeroGrad();
 *   const y = net.forward(randn([16, 3]));
 *   y.mul(y).mean().backward();
 *   opt.step();
 * }
 */
export class SGD extends Optimizer<SGDHyperparameters> {
  protected readonly stateKeys = ["momentum_buffer"] as const;

  constructor(params: OptimizerParams<SGDHyperparameters>, opts: SGDOptions) {
    super(params, {
      lr: opts.lr,
      momentum: opts.momentum ?? 0,
      dampening: opts.dampening ?? 0,
      weightDecay: opts.weightDecay ?? 0,
      nesterov: opts.nesterov ?? false,
      maximize: opts.maximize ?? false,
    });
  }

  protected checkGroup(g: ParamGroup<SGDHyperparameters>, i: number): void {
    this.checkHyper(typeof g.lr === "number" && g.lr >= 0, i, "lr", g.lr, "a number >= 0 (SGD needs lr)");
    this.checkHyper(g.momentum >= 0, i, "momentum", g.momentum, ">= 0");
    this.checkHyper(Number.isFinite(g.dampening), i, "dampening", g.dampening, "a finite number");
    this.checkHyper(g.weightDecay >= 0, i, "weightDecay", g.weightDecay, ">= 0");
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) {
      throw new RangeError(
        `SGD: parameter group ${i}: nesterov needs momentum > 0 and dampening 0, got momentum ${g.momentum}, dampening ${g.dampening}`,
      );
    }
  }

  protected updateParam(
    p: Tensor,
    g: Tensor,
    group: ParamGroup<SGDHyperparameters>,
    state: ParamState,
  ): void {
    const { lr, momentum, dampening, weightDecay, nesterov, maximize } = group;
    state.step++;
    let d = maximize ? neg(g) : g;
    if (weightDecay !== 0) d = add(d, mul(p, weightDecay));
    if (momentum !== 0) {
      let buf = state.tensors.momentum_buffer;
      if (!buf) buf = this.newStateTensor(state, "momentum_buffer", d.clone());
      else assign(buf, add(mul(buf, momentum), mul(d, 1 - dampening)));
      d = nesterov ? add(d, mul(buf, momentum)) : buf;
    }
    assign(p, sub(p, mul(d, lr)));
  }
}
