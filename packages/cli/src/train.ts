/**
 * The training loop every task shares: batches from a seeded DataLoader, AdamW with a warmup-cosine
 * schedule stepped per batch, one tidy per step, a test evaluation, a summary line, metrics.json,
 * curves and a checkpoint after every epoch, and a clean stop on an abort signal that saves where it
 * was, so `--resume` continues bit for bit.
 *
 * What makes resume exact: the batch order and each sample's augmentation are functions of
 * (seed, epoch, index) (data's Rng.derive), mixing draws of (seed, epoch, batch); everything else
 * that changes during training (weights, optimizer buffers and step counts, the schedule, core's
 * global generator used by dropout, the partial epoch's metric sums) is in the checkpoint.
 */
import { existsSync, mkdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { noGrad } from "@tessera/autograd";
import {
  type AutocastDType,
  autocast,
  defaultGenerator,
  dispose,
  manualSeed,
  type Tensor,
  tensor,
  tidy,
} from "@tessera/core";
import { DataLoader, type Dataset, mixupCutmix, Rng, writeImage } from "@tessera/data";
import { AdamW, clipGradNorm, GradScaler, type Module, save, WarmupCosineLR } from "@tessera/nn";
import { selectBackend } from "./backend-select.js";
import {
  CHECKPOINT_FILE,
  CONFIG_FILE,
  loadCheckpoint,
  METRICS_FILE,
  type RunConfig,
  saveCheckpoint,
  type TrainState,
  WEIGHTS_FILE,
  writeJsonAtomic,
} from "./checkpoint.js";
import { CliError } from "./errors.js";
import { lineChart } from "./plot/charts.js";
import { type EpochMetrics, formatEpochSummary, ProgressPrinter } from "./progress.js";
import type { Batch, Precision, RunOptions, StepMetrics, Task, TaskData } from "./tasks/types.js";

export type { EpochMetrics } from "./progress.js";

/** Options of one training run: the task's run options plus where and how to run. */
export interface TrainRunOptions extends RunOptions {
  /** The run directory (config.json, checkpoint.safetensors, model.safetensors, metrics.json, plots). */
  out: string;
  /** Continue the run in `out` from its checkpoint (its saved options win, except `epochs`). */
  resume?: boolean;
  /** Start afresh even if `out` already holds a run. */
  force?: boolean;
  /** `js`, `native` or `cuda`; default the fastest available on the CPU (cuda only when asked). */
  backend?: string;
  /** Aborting stops after the current step and saves a checkpoint (what Ctrl-C does). */
  signal?: AbortSignal;
  /** Where whole lines go (default stdout). */
  log?: (line: string) => void;
  /** Where progress text goes (default: `log` for plain lines, stdout on a TTY). */
  write?: (text: string) => void;
  /** A live progress line (true) or plain lines every ~10% of an epoch (false, the default). */
  isTTY?: boolean;
  /** Mixup's Beta(α, α) (0: off). */
  mixup?: number;
  /** CutMix's Beta(α, α) (0: off). */
  cutmix?: number;
  /** Label smoothing of the classification targets. */
  labelSmoothing?: number;
  /** Clip the gradients' total 2-norm to this (default: no clipping). */
  clipGrad?: number;
  /** Called after each step with its 1-based global index and loss (tests abort from here). */
  onStep?: (step: number, loss: number) => void;
  /** Called after each finished epoch (tests watch the live tensor count here). */
  onEpoch?: (m: EpochMetrics) => void;
}

/** What a run did. */
export interface TrainResult {
  outDir: string;
  /** Every finished epoch of the run, including those of earlier sessions of a resumed run. */
  epochs: EpochMetrics[];
  /** Every step's training loss since the run began (earlier sessions included). */
  steps: number[];
  interrupted: boolean;
  backend: string;
}

type RunOpts = RunOptions & { mixup?: number; cutmix?: number; labelSmoothing?: number; clipGrad?: number };

/** Mixing and smoothing apply to classification batches (`image` + int32 `label`) only. */
function mixBatch(batch: Batch, opts: RunOpts, numClasses: number, epoch: number, index: number): Batch {
  const image = batch.image;
  const label = batch.label;
  if (!image || !label || numClasses <= 0) return batch;
  const mix = (opts.mixup ?? 0) > 0 || (opts.cutmix ?? 0) > 0;
  if (mix) {
    // "mix" as a number keeps these draws apart from the samples' own (seed, epoch, index) streams.
    const rng = Rng.derive(opts.seed, 0x6d6978, epoch, index);
    const { images, targets } = mixupCutmix(image, label, {
      mixupAlpha: opts.mixup ?? 0,
      cutmixAlpha: opts.cutmix ?? 0,
      numClasses,
      rng,
      labelSmoothing: opts.labelSmoothing,
    });
    return { ...batch, image: images, targets };
  }
  const ls = opts.labelSmoothing ?? 0;
  if (ls > 0) {
    const labels = label.dataSync() as Int32Array;
    const t = new Float32Array(labels.length * numClasses).fill(ls / numClasses);
    for (let i = 0; i < labels.length; i++) t[i * numClasses + (labels[i] as number)] += 1 - ls;
    return { ...batch, targets: tensor(t, { shape: [labels.length, numClasses] }) };
  }
  return batch;
}

const AUTOCAST: Record<Precision, AutocastDType | null> = { fp32: null, bf16: "bfloat16", fp16: "float16" };

/** Runs a forward pass in the run's precision: as is for fp32, else under autocast. */
export function inPrecision<T>(precision: Precision | undefined, fn: () => T): T {
  const dtype = AUTOCAST[precision ?? "fp32"];
  return dtype ? autocast({ dtype }, fn) : fn();
}

/** Turns summed step metrics into means: `loss`, `correct` → `accuracy`, others by name. */
export function averageMetrics(sums: Record<string, number>): Record<string, number> {
  const n = sums.count ?? 0;
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(sums)) {
    if (k === "count") continue;
    out[k === "correct" ? "accuracy" : k] = n > 0 ? v / n : Number.NaN;
  }
  return out;
}

function addMetrics(sums: Record<string, number>, loss: number, m: StepMetrics): void {
  sums.loss = (sums.loss ?? 0) + loss * m.count;
  for (const [k, v] of Object.entries(m)) sums[k] = (sums[k] ?? 0) + v;
}

/**
 * Loss and metrics of a model over a dataset, in eval mode without gradients.
 *
 * @example
 * const { loss, metrics } = await evaluate(minivitTask, model, data.test, 256);
 */
export async function evaluate<S>(
  task: Task<S>,
  model: Module,
  dataset: Dataset<S>,
  batchSize: number,
  workers = 0,
  precision: Precision = "fp32",
): Promise<{ loss: number; metrics: Record<string, number>; count: number }> {
  const loader = new DataLoader(dataset, { batchSize, collate: (s: S[]) => task.collate(s), workers });
  const sums: Record<string, number> = {};
  const wasTraining = model.training;
  model.eval();
  try {
    for await (const batch of loader.iterate()) {
      try {
        const { loss, metrics } = tidy(() =>
          noGrad(() => inPrecision(precision, () => task.evalStep(model, batch))),
        );
        addMetrics(sums, loss, metrics);
      } finally {
        dispose(batch);
      }
    }
  } finally {
    await loader.close();
    model.train(wasTraining);
  }
  const avg = averageMetrics(sums);
  return { loss: avg.loss ?? Number.NaN, metrics: avg, count: sums.count ?? 0 };
}

/** AdamW's usual split: no weight decay on biases, norms, class tokens and position tables. */
function paramGroups(model: Module, weightDecay: number) {
  const decay: Tensor[] = [];
  const plain: Tensor[] = [];
  for (const [name, p] of model.namedParameters()) {
    if (p.shape.length >= 2 && !/(cls_token|pos_embed|positional_encoding)$/.test(name)) decay.push(p);
    else plain.push(p);
  }
  return [
    { params: decay, weightDecay },
    { params: plain, weightDecay: 0 },
  ];
}

async function drawCurves(
  outDir: string,
  history: EpochMetrics[],
  steps: number[],
  batches: number,
): Promise<string[]> {
  const written: string[] = [];
  const epochsX = history.map((h) => h.epoch);
  const lossSeries = [
    { name: "train (per step)", x: steps.map((_, i) => (i + 1) / Math.max(1, batches)), y: steps },
  ];
  if (history.some((h) => h.test?.loss !== undefined)) {
    lossSeries.push({ name: "test", x: epochsX, y: history.map((h) => h.test?.loss ?? Number.NaN) });
  }
  await writeImage(
    join(outDir, "loss.png"),
    lineChart({ title: "Loss", xLabel: "epoch", yLabel: "loss", series: lossSeries }),
  );
  written.push("loss.png");
  if (history.some((h) => h.train.accuracy !== undefined)) {
    const series = [
      { name: "train", x: epochsX, y: history.map((h) => (h.train.accuracy ?? Number.NaN) * 100) },
    ];
    if (history.some((h) => h.test?.accuracy !== undefined)) {
      series.push({
        name: "test",
        x: epochsX,
        y: history.map((h) => (h.test?.accuracy ?? Number.NaN) * 100),
      });
    }
    await writeImage(
      join(outDir, "accuracy.png"),
      lineChart({ title: "Accuracy", xLabel: "epoch", yLabel: "accuracy (%)", series }),
    );
    written.push("accuracy.png");
  }
  return written;
}

/** Builds the model a run directory describes (fresh weights; load a checkpoint into it). */
export function rebuildModel<S>(task: Task<S>, config: RunConfig, data: TaskData<S>): Module {
  manualSeed(config.options.seed);
  return task.createModel(config.options, data, config.model).model;
}

/**
 * Trains `task` into `opts.out`, or continues the run there with `resume`. Returns the epochs run
 * and whether an abort stopped it (the checkpoint is saved either way).
 *
 * @example
 * const ac = new AbortController();
 * process.once("SIGINT", () => ac.abort());
 * const r = await trainRun(minivitTask, { ...defaults, out: "runs/minivit", signal: ac.signal });
 */
export async function trainRun<S>(task: Task<S>, opts: TrainRunOptions): Promise<TrainResult> {
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const write =
    opts.write ??
    (opts.isTTY ? (t: string) => process.stdout.write(t) : (t: string) => log(t.replace(/\n$/, "")));
  const outDir = opts.out;
  const { name: backend, message } = selectBackend(opts.backend);
  log(message);

  const configPath = join(outDir, CONFIG_FILE);
  const checkpointPath = join(outDir, CHECKPOINT_FILE);
  let saved: RunConfig | undefined;
  let runOpts: RunOpts;
  if (opts.resume) {
    if (!existsSync(checkpointPath) || !existsSync(configPath)) {
      throw new CliError(
        `${outDir} holds no run to resume (no ${CONFIG_FILE} or ${CHECKPOINT_FILE})`,
        `start it without --resume: tessera train ${task.name} --out ${outDir}`,
      );
    }
    saved = JSON.parse(await readFile(configPath, "utf8")) as RunConfig;
    if (saved.task !== task.name) {
      throw new CliError(
        `${outDir} is a ${saved.task} run, not ${task.name}`,
        `resume it with: tessera train ${saved.task} --out ${outDir} --resume`,
      );
    }
    runOpts = { ...saved.options, epochs: opts.epochs, workers: opts.workers };
  } else {
    if (existsSync(checkpointPath) && !opts.force) {
      throw new CliError(
        `${outDir} already holds a run`,
        `continue it with --resume, start over with --force, or choose another --out`,
      );
    }
    runOpts = {
      data: opts.data,
      preset: opts.preset,
      imgSize: opts.imgSize,
      epochs: opts.epochs,
      batchSize: opts.batchSize,
      lr: opts.lr,
      weightDecay: opts.weightDecay,
      seed: opts.seed,
      gradCheckpoint: opts.gradCheckpoint,
      limit: opts.limit,
      init: opts.init,
      workers: opts.workers,
      mixup: opts.mixup,
      cutmix: opts.cutmix,
      labelSmoothing: opts.labelSmoothing,
      clipGrad: opts.clipGrad,
      augment: opts.augment,
      precision: opts.precision ?? "fp32",
    };
  }

  const data = await task.loadData({ ...runOpts, log });
  manualSeed(runOpts.seed);
  const built = task.createModel(runOpts, data, saved?.model);
  // Only now: a mistyped preset or bad --data leaves no empty run folder behind.
  mkdirSync(outDir, { recursive: true });
  const model = built.model;
  const numClasses = data.classes?.length ?? 0;
  const config: RunConfig = saved
    ? { ...saved, options: { ...saved.options, epochs: runOpts.epochs } }
    : {
        format: "tessera-run-v1",
        task: task.name,
        model: built.config,
        options: runOpts,
        ...(data.classes ? { classes: data.classes } : {}),
        data: data.describe,
        backend,
        created: new Date().toISOString(),
      };
  await writeJsonAtomic(configPath, config);

  const loader = new DataLoader(data.train, {
    batchSize: runOpts.batchSize,
    shuffle: true,
    seed: runOpts.seed,
    dropLast: data.train.length > runOpts.batchSize,
    collate: (s: S[]) => task.collate(s),
    workers: runOpts.workers,
  });
  const batches = loader.length;
  if (batches === 0) {
    throw new CliError(
      `the training data is empty (${data.train.length} samples)`,
      "check --data and --limit",
    );
  }
  const totalSteps = runOpts.epochs * batches;
  const opt = new AdamW(paramGroups(model, runOpts.weightDecay), {
    lr: runOpts.lr,
    weightDecay: runOpts.weightDecay,
  });
  const sched = new WarmupCosineLR(opt, {
    // A run of a single step has no room for warmup (WarmupCosineLR needs total > warmup).
    warmupSteps: Math.min(totalSteps - 1, Math.max(1, Math.min(batches, Math.round(0.05 * totalSteps)))),
    totalSteps,
    minLr: runOpts.lr * 0.01,
  });
  // Runs saved before --precision existed trained in fp32.
  const precision = runOpts.precision ?? "fp32";
  // float16 gradients underflow without loss scaling; bfloat16 has float32's range and needs none.
  const scaler = new GradScaler({ enabled: precision === "fp16" });

  let state: Omit<TrainState, "optimizer" | "scheduler" | "generator" | "stepLosses" | "scaler"> = {
    format: "tessera-train-v1",
    epoch: 0,
    nextBatch: 0,
    step: 0,
    sums: {},
    partialSeconds: 0,
    partialDataSeconds: 0,
    history: [],
  };
  let stepLosses: number[] = [];
  if (opts.resume) {
    const ck = await loadCheckpoint(checkpointPath);
    try {
      if (!ck.state)
        throw new CliError(`${checkpointPath} has no training state`, "start a new run without --resume");
      model.loadStateDict(ck.model);
      opt.loadStateDict({ tensors: ck.optimizer, meta: ck.state.optimizer });
      sched.loadStateDict(ck.state.scheduler);
      defaultGenerator.setState(ck.state.generator);
      if (ck.state.scaler?.scale !== undefined) scaler.loadStateDict(ck.state.scaler);
      state = ck.state;
      stepLosses = ck.state.stepLosses;
    } finally {
      ck.dispose();
    }
    if (state.epoch >= runOpts.epochs) {
      log(
        `${outDir} has already trained ${state.epoch} epoch${state.epoch === 1 ? "" : "s"}; to train longer pass e.g. --epochs ${state.epoch + 5}`,
      );
      await loader.close();
      return { outDir, epochs: state.history, steps: stepLosses, interrupted: false, backend };
    }
    log(`resuming ${task.name} from epoch ${state.epoch + 1}, batch ${state.nextBatch + 1} of ${batches}`);
  }

  const saveState = async (): Promise<void> => {
    const { tensors, meta } = opt.stateDict();
    await saveCheckpoint(checkpointPath, model, tensors, {
      ...state,
      optimizer: meta,
      scheduler: sched.stateDict(),
      generator: defaultGenerator.getState(),
      stepLosses,
      ...(scaler.isEnabled() ? { scaler: scaler.stateDict() } : {}),
    });
  };

  const params = [...model.parameters()];
  const unit = task.name === "text" ? "seq" : "img";
  const progress = new ProgressPrinter(write, opts.isTTY === true, unit);
  model.train();
  let interrupted = false;
  try {
    for (let epoch = state.epoch; epoch < runOpts.epochs && !interrupted; epoch++) {
      const startBatch = epoch === state.epoch ? state.nextBatch : 0;
      if (startBatch === 0) {
        state.sums = {};
        state.partialSeconds = 0;
        state.partialDataSeconds = 0;
      }
      const t0 = performance.now();
      let dataSeconds = 0;
      let samples = 0;
      let batch = startBatch;
      let tWait = performance.now();
      for await (const raw of loader.iterate({ epoch, startBatch })) {
        dataSeconds += (performance.now() - tWait) / 1000;
        let lossValue: number;
        let metrics: StepMetrics;
        try {
          ({ lossValue, metrics } = tidy(() => {
            const b = mixBatch(raw, runOpts, numClasses, epoch, batch);
            // Only the forward runs under autocast; backward follows the dtypes it recorded.
            const { loss, metrics } = inPrecision(precision, () => task.trainStep(model, b));
            scaler.scale(loss).backward();
            if (runOpts.clipGrad !== undefined) {
              scaler.unscale_(opt);
              clipGradNorm(params, runOpts.clipGrad);
            }
            // Disabled (fp32, bf16), the scaler steps the optimizer; fp16 skips steps with inf/NaN gradients.
            scaler.step(opt);
            scaler.update();
            opt.zeroGrad();
            return { lossValue: loss.itemSync() as number, metrics };
          }));
        } finally {
          dispose(raw);
        }
        sched.step();
        if (!Number.isFinite(lossValue)) {
          throw new CliError(
            `the training loss became ${lossValue} at epoch ${epoch + 1}, batch ${batch + 1}`,
            `lower the learning rate (--lr ${runOpts.lr / 3}) or clip gradients (--clip-grad 1)`,
          );
        }
        stepLosses.push(lossValue);
        addMetrics(state.sums, lossValue, metrics);
        samples += metrics.count;
        batch++;
        state.step++;
        opts.onStep?.(state.step, lossValue);
        const elapsed = (performance.now() - t0) / 1000;
        progress.update({
          epoch: epoch + 1,
          epochs: runOpts.epochs,
          batch,
          batches,
          metrics: averageMetrics(state.sums),
          samplesPerSecond: samples / elapsed,
          elapsed,
          batchesTimed: batch - startBatch,
        });
        if (opts.signal?.aborted) {
          interrupted = true;
          state.epoch = epoch;
          state.nextBatch = batch;
          state.partialSeconds += elapsed;
          state.partialDataSeconds += dataSeconds;
          break;
        }
        tWait = performance.now();
      }
      if (interrupted) break;
      const trainSeconds = state.partialSeconds + (performance.now() - t0) / 1000;
      const totalData = state.partialDataSeconds + dataSeconds;
      const train = averageMetrics(state.sums);
      const test = data.test
        ? (
            await evaluate(
              task,
              model,
              data.test,
              Math.max(runOpts.batchSize, 256),
              runOpts.workers,
              precision,
            )
          ).metrics
        : undefined;
      const seconds = (performance.now() - t0) / 1000 + state.partialSeconds;
      const m: EpochMetrics = {
        epoch: epoch + 1,
        train,
        ...(test ? { test } : {}),
        samplesPerSecond: (state.sums.count ?? 0) / Math.max(1e-9, trainSeconds),
        dataWait: trainSeconds > 0 ? totalData / trainSeconds : 0,
        seconds,
        lr: sched.getLastLr()[0] ?? runOpts.lr,
      };
      state.history.push(m);
      state.epoch = epoch + 1;
      state.nextBatch = 0;
      state.sums = {};
      state.partialSeconds = 0;
      state.partialDataSeconds = 0;
      progress.done(formatEpochSummary(m, runOpts.epochs, unit));
      await writeJsonAtomic(join(outDir, METRICS_FILE), {
        task: task.name,
        backend,
        precision,
        epochs: state.history,
        steps: stepLosses,
      });
      try {
        await drawCurves(outDir, state.history, stepLosses, batches);
      } catch (e) {
        log(`warning: could not draw the curves: ${(e as Error).message}`);
      }
      await saveState();
      await save(model, join(outDir, WEIGHTS_FILE), { metadata: { format: "pt" } });
      opts.onEpoch?.(m);
    }
  } catch (e) {
    progress.clear();
    throw e;
  } finally {
    await loader.close();
  }

  if (interrupted) {
    progress.clear();
    await saveState();
    log(
      `interrupted: checkpoint saved (epoch ${state.epoch + 1}, batch ${state.nextBatch} of ${batches}); ` +
        `continue with: tessera train ${task.name} --out ${outDir} --resume`,
    );
    return { outDir, epochs: state.history, steps: stepLosses, interrupted, backend };
  }

  if (task.plots) {
    try {
      const files = await task.plots(model, data, outDir);
      if (files.length) log(`plots: ${files.join(", ")}`);
    } catch (e) {
      log(`warning: could not draw the task's plots: ${(e as Error).message}`);
    }
  }
  const last = state.history[state.history.length - 1];
  log(
    `saved ${join(outDir, CHECKPOINT_FILE)}, ${WEIGHTS_FILE}, ${METRICS_FILE}, loss.png${last?.train.accuracy !== undefined ? ", accuracy.png" : ""}`,
  );
  return { outDir, epochs: state.history, steps: stepLosses, interrupted, backend };
}
