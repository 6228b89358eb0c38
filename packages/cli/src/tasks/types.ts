/**
 * The contract between the training loop and a model family. A `Task` knows its data, builds its
 * model from a JSON config (so a checkpoint can rebuild it), and computes one batch's loss and
 * metrics; the loop (train.ts) does everything else: batching, optimizer, schedule, progress,
 * checkpoints, resume, metrics log and plots.
 */
import type { Tensor } from "@tessera/core";
import type { Dataset } from "@tessera/data";
import type { Module } from "@tessera/nn";

/** JSON, what configs and metrics are made of. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** What the user asked for, resolved against the task's defaults. */
export interface RunOptions {
  /** `--data DIR` (undefined: the task's default data, e.g. the shipped Fashion-MNIST subset). */
  data?: string;
  /** `--preset NAME` (undefined: the task's default preset). */
  preset?: string;
  /** `--img-size N` for tasks whose input size is free (the autoencoder's 201×201 default). */
  imgSize?: number;
  epochs: number;
  batchSize: number;
  lr: number;
  weightDecay: number;
  seed: number;
  gradCheckpoint: boolean;
  /** `--limit N`: use at most N training and N test samples (quick runs and tests). */
  limit?: number;
  /** `--label-smoothing E` for classification targets (default: the task's, else 0). */
  labelSmoothing?: number;
  /** `--augment none|flip|crop-flip`: training augmentation of image tasks (default: the task's). */
  augment?: "none" | "flip" | "crop-flip";
  /** `--init CKPT`: start from this checkpoint's weights (autoencoder-lstm: the trained autoencoder). */
  init?: string;
  /** Where a task prints notes (generated data, skipped plots); the CLI's output, console.log by default. */
  log?: (line: string) => void;
  /** `--workers N`: DataLoader worker threads for decoding (0: the main thread). */
  workers: number;
  /** `--precision`: fp32 (default), or autocast to bf16 / fp16 (fp16 with a GradScaler). */
  precision?: Precision;
}

/** Training precision: float32, or mixed precision with bfloat16 or float16 matrix products. */
export type Precision = "fp32" | "bf16" | "fp16";

/** The data of a run. `classes` names the labels of classification tasks. */
export interface TaskData<S> {
  train: Dataset<S>;
  test?: Dataset<S>;
  classes?: string[];
  /** Shown to the user and saved in config.json (paths, sizes). */
  describe: Json;
}

/** A batch the loop passes to the task: the collated tensors of `batchSize` samples. */
export type Batch = Record<string, Tensor>;

/**
 * Per-batch numbers a task reports. `loss` is the batch mean; `count` the samples in it; any other
 * key is summed over the epoch and divided by the summed `count` (so report e.g. `correct`, which
 * the loop turns into `accuracy` = Σcorrect / Σcount).
 */
export interface StepMetrics {
  count: number;
  [key: string]: number;
}

/** A built model with its config (saved to config.json; `createModel(config)` rebuilds it). */
export interface BuiltModel {
  model: Module;
  config: Json;
}

export interface Task<S = unknown> {
  /** The CLI name: `tessera train <name>`. */
  name: string;
  /** One line for `--help`. */
  description: string;
  /** Defaults for the run options this task cares about. */
  defaults: Partial<RunOptions> & { epochs: number; batchSize: number; lr: number };
  /** Preset names `--preset` accepts (the first is the default). */
  presets: readonly string[];
  /** Loads (or generates) the data. Errors name the path and say what to do. */
  loadData(opts: RunOptions): Promise<TaskData<S>>;
  /** Builds the model: from the run options the first time, from a saved config on resume/eval/predict. */
  createModel(opts: RunOptions, data: TaskData<S>, saved?: Json): BuiltModel;
  /** Turns samples into tensors (on the current backend). */
  collate(samples: S[]): Batch;
  /**
   * Forward and loss of one batch in training mode. Returns the scalar loss tensor (the loop calls
   * backward on it and disposes it) and the batch's metrics.
   */
  trainStep(model: Module, batch: Batch): { loss: Tensor; metrics: StepMetrics };
  /** The same under noGrad in eval mode; the loss comes back as a number. */
  evalStep(model: Module, batch: Batch): { loss: number; metrics: StepMetrics };
  /**
   * Pictures after training (attention overlay, reconstructions, depth maps), written into `outDir`;
   * returns the files written.
   */
  plots?(model: Module, data: TaskData<S>, outDir: string): Promise<string[]>;
}
