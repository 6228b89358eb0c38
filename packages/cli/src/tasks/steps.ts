/** A task's training and evaluation step from one function that computes a batch's loss and metrics. */
import { noGrad } from "@tessera/autograd";
import { type Tensor, tidy } from "@tessera/core";
import type { Module } from "@tessera/nn";
import type { Batch, StepMetrics, Task } from "./types.js";

/**
 * `trainStep` keeps the loss tensor (the loop differentiates and frees it) and frees everything else;
 * `evalStep` runs the same under noGrad and returns the loss as a number.
 *
 * @example
 * const { trainStep, evalStep } = stepsFrom((model, batch) => ({ loss, metrics: { count } }));
 */
export function stepsFrom(
  lossOf: (model: Module, batch: Batch) => { loss: Tensor; metrics: StepMetrics },
): Pick<Task, "trainStep" | "evalStep"> {
  return {
    trainStep(model, batch) {
      let metrics: StepMetrics = { count: 0 };
      const loss = tidy(() => {
        const r = lossOf(model, batch);
        metrics = r.metrics;
        return r.loss;
      });
      return { loss, metrics };
    },
    evalStep(model, batch) {
      return noGrad(() =>
        tidy(() => {
          const r = lossOf(model, batch);
          return { loss: r.loss.itemSync() as number, metrics: r.metrics };
        }),
      );
    },
  };
}
