/** Rebuilds a trained model from a run directory (or a checkpoint in one) for eval/predict/attention. */
import type { Module } from "@tessera/nn";
import { selectBackend } from "../backend-select.js";
import { loadCheckpoint, type RunConfig, resolveRun } from "../checkpoint.js";
import { CliError } from "../errors.js";
import { findTask } from "../tasks/index.js";
import type { Task, TaskData } from "../tasks/types.js";
import { rebuildModel } from "../train.js";

export interface LoadedRun {
  task: Task<unknown>;
  config: RunConfig;
  model: Module;
  dir: string;
  backend: string;
}

/**
 * Picks the backend, rebuilds the model from config.json and loads its weights, in eval mode.
 *
 * @example
 * const { model, config } = await loadRun("runs/minivit", undefined, console.log);
 */
export async function loadRun(
  path: string,
  backend: string | undefined,
  log: (line: string) => void,
): Promise<LoadedRun> {
  const { dir, config, weights } = resolveRun(path);
  const task = findTask(config.task);
  if (!task)
    throw new CliError(
      `${dir} is a '${config.task}' run, which this version does not know`,
      "upgrade tessera",
    );
  const b = selectBackend(backend);
  log(b.message);
  // The saved config rebuilds the model; no data needs loading for that.
  const data: TaskData<unknown> = {
    train: { length: 0, get: () => undefined },
    classes: config.classes,
    describe: config.data,
  };
  const model = rebuildModel(task, config, data);
  const ck = await loadCheckpoint(weights);
  try {
    model.loadStateDict(ck.model);
  } catch (e) {
    throw new CliError(
      `${weights} does not fit the model in ${dir}/config.json: ${(e as Error).message}`,
      "use the checkpoint of this run",
    );
  } finally {
    ck.dispose();
  }
  model.eval();
  return { task, config, model, dir, backend: b.name };
}
