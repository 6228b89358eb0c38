/**
 * The run directory and its checkpoint. `checkpoint.safetensors` is one file holding everything a
 * run needs to continue: model weights under `model.<key>`, optimizer buffers under `optim.<key>`,
 * and the rest (epoch, next batch, step, optimizer and scheduler state, the random generator, the
 * partial epoch's metric sums, the metrics history) as JSON in `__metadata__.state`. nn's `save`
 * writes it under a temporary name and renames it, so a crash leaves the previous checkpoint or the
 * new one, never half of one. `model.safetensors` holds the weights alone with PyTorch's keys.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { RandomState, Tensor } from "@tessera/core";
import {
  type GradScalerState,
  load,
  type Module,
  type OptimizerMeta,
  type SchedulerStateDict,
  save,
} from "@tessera/nn";
import { CliError } from "./errors.js";
import type { EpochMetrics } from "./progress.js";
import type { Json, RunOptions } from "./tasks/types.js";

export const CHECKPOINT_FILE = "checkpoint.safetensors";
export const WEIGHTS_FILE = "model.safetensors";
export const CONFIG_FILE = "config.json";
export const METRICS_FILE = "metrics.json";

/** config.json: what built the run, so eval/predict/resume can rebuild the model. */
export interface RunConfig {
  format: "tessera-run-v1";
  task: string;
  /** The task's model config (`createModel(opts, data, saved)` takes it back). */
  model: Json;
  options: RunOptions & { mixup?: number; cutmix?: number; labelSmoothing?: number };
  classes?: string[];
  data: Json;
  backend: string;
  created: string;
}

/** The JSON half of a checkpoint. */
export interface TrainState {
  format: "tessera-train-v1";
  /** The epoch in progress or next to run, 0-based. */
  epoch: number;
  /** The first batch of `epoch` not yet trained on. */
  nextBatch: number;
  /** Optimizer steps taken so far. */
  step: number;
  optimizer: OptimizerMeta;
  scheduler: SchedulerStateDict;
  /** core's global Generator (dropout masks, mixup draws that use it). */
  generator: RandomState;
  /** The partial epoch's metric sums (`loss`·count, `count`, `correct`…), so its averages resume exactly. */
  sums: Record<string, number>;
  /** Seconds and data-wait seconds spent on the partial epoch before the interruption. */
  partialSeconds: number;
  partialDataSeconds: number;
  history: EpochMetrics[];
  /** Every step's training loss since the run began (the loss curve; what resume tests compare). */
  stepLosses: number[];
  /** The GradScaler's state of an fp16 run (its scale and growth tracker). */
  scaler?: GradScalerState;
}

/**
 * Writes JSON atomically (temporary file + rename), so readers never see half a file.
 *
 * @example
 * await writeJsonAtomic("runs/minivit/metrics.json", { epochs: [] });
 */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`);
  await rename(tmp, path);
}

/**
 * Saves model, optimizer tensors and the training state as one safetensors file, atomically.
 *
 * @example
 * await saveCheckpoint("runs/x/checkpoint.safetensors", model, opt.stateDict().tensors, state);
 */
export async function saveCheckpoint(
  path: string,
  model: Module,
  optimizerTensors: ReadonlyMap<string, Tensor>,
  state: TrainState,
): Promise<void> {
  const tensors = new Map<string, Tensor>();
  for (const [k, t] of model.stateDict()) tensors.set(`model.${k}`, t);
  for (const [k, t] of optimizerTensors) tensors.set(`optim.${k}`, t);
  await save(tensors, path, { metadata: { format: "tessera-checkpoint-v1", state: JSON.stringify(state) } });
}

/** A loaded checkpoint; the caller disposes the tensors (`dispose()`). */
export interface LoadedCheckpoint {
  model: Map<string, Tensor>;
  optimizer: Map<string, Tensor>;
  /** Undefined for a weights-only file (model.safetensors or any PyTorch state dict). */
  state: TrainState | undefined;
  dispose(): void;
}

/**
 * Reads a checkpoint.safetensors (or a weights-only file, whose keys are taken as the model's).
 *
 * @example
 * const ck = await loadCheckpoint("runs/minivit/checkpoint.safetensors");
 * model.loadStateDict(ck.model); ck.dispose();
 */
export async function loadCheckpoint(path: string): Promise<LoadedCheckpoint> {
  let loaded: Awaited<ReturnType<typeof load>>;
  try {
    loaded = await load(path, { float64: false });
  } catch (e) {
    throw new CliError(
      `cannot read checkpoint ${path}: ${(e as Error).message}`,
      "point to a run directory (with checkpoint.safetensors) or a .safetensors file written by tessera train",
    );
  }
  const { tensors, metadata } = loaded;
  const model = new Map<string, Tensor>();
  const optimizer = new Map<string, Tensor>();
  const isFull = metadata?.format === "tessera-checkpoint-v1";
  for (const [k, t] of tensors) {
    if (!isFull) model.set(k, t);
    else if (k.startsWith("model.")) model.set(k.slice(6), t);
    else if (k.startsWith("optim.")) optimizer.set(k.slice(6), t);
    else t.dispose();
  }
  const state = isFull && metadata?.state ? (JSON.parse(metadata.state) as TrainState) : undefined;
  return {
    model,
    optimizer,
    state,
    dispose() {
      for (const t of model.values()) t.dispose();
      for (const t of optimizer.values()) t.dispose();
    },
  };
}

/** Where a run's files are, from a run directory or a checkpoint file inside one. */
export interface RunLocation {
  dir: string;
  config: RunConfig;
  /** The file to take weights from: checkpoint.safetensors, or the file given. */
  weights: string;
}

/**
 * Resolves `tessera eval/predict/attention`'s first argument: a run directory, or a .safetensors file
 * whose directory holds config.json.
 *
 * @example
 * const run = resolveRun("runs/minivit"); // { dir, config, weights: "runs/minivit/checkpoint.safetensors" }
 */
export function resolveRun(path: string): RunLocation {
  if (!existsSync(path)) {
    throw new CliError(
      `${path} does not exist`,
      "give a run directory written by `tessera train` (e.g. runs/minivit)",
    );
  }
  const isDir = statSync(path).isDirectory();
  const dir = isDir ? path : dirname(path);
  const configPath = join(dir, CONFIG_FILE);
  if (!existsSync(configPath)) {
    throw new CliError(
      `${dir} has no ${CONFIG_FILE}, so the model cannot be rebuilt`,
      "give a run directory written by `tessera train`, or a checkpoint inside one",
    );
  }
  let config: RunConfig;
  try {
    config = JSON.parse(readFileSync(configPath, "utf8")) as RunConfig;
  } catch (e) {
    throw new CliError(`${configPath} is not valid JSON: ${(e as Error).message}`, "re-run `tessera train`");
  }
  let weights = path;
  if (isDir) {
    weights = join(dir, CHECKPOINT_FILE);
    if (!existsSync(weights)) weights = join(dir, WEIGHTS_FILE);
    if (!existsSync(weights)) {
      throw new CliError(
        `${dir} has no ${CHECKPOINT_FILE} or ${WEIGHTS_FILE}`,
        "train first: `tessera train <task>`",
      );
    }
  }
  return { dir, config, weights };
}
