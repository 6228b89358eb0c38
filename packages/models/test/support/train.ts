/** Helpers the model tests share: a short training loop that also watches the live tensor count. */
import { memory, type Tensor, tidy } from "@tessera/core";
import type { Optimizer } from "@tessera/nn";

export interface TrainRun {
  /** The loss of every step, as numbers. */
  losses: number[];
  /** Live tensors after the first step (parameters, gradients and optimizer state all exist by then). */
  tensorsAfterFirst: number;
  /** Live tensors after the last step: equal to `tensorsAfterFirst` when the loop does not leak. */
  tensorsAtEnd: number;
}

/**
 * Runs `steps` optimizer steps: `zeroGrad`, `loss()`, backward, `step`, each inside a `tidy`.
 * The optimizer is left to the caller (it may be reused).
 */
export function train(opt: Optimizer<{ lr: number }>, steps: number, loss: () => Tensor): TrainRun {
  const losses: number[] = [];
  let tensorsAfterFirst = 0;
  for (let s = 0; s < steps; s++) {
    const l = tidy(() => {
      opt.zeroGrad();
      const v = loss();
      v.backward();
      opt.step();
      return v;
    });
    losses.push(l.itemSync());
    l.dispose();
    if (s === 0) tensorsAfterFirst = memory().numTensors;
  }
  return { losses, tensorsAfterFirst, tensorsAtEnd: memory().numTensors };
}

/** The largest elementwise |a − b|, read synchronously. */
export function maxAbsDiff(a: Tensor, b: Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}
