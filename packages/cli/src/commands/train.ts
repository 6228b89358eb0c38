/** `tessera train <task>`: parses the flags, wires Ctrl-C to an abort, and runs the loop. */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { CONFIG_FILE, type RunConfig } from "../checkpoint.js";
import { CliError } from "../errors.js";
import { findTask, TASKS } from "../tasks/index.js";
import type { Precision, RunOptions } from "../tasks/types.js";
import { trainRun } from "../train.js";
import type { Io } from "./io.js";
import { floatFlag, intFlag } from "./io.js";

interface TrainFlags {
  data?: string;
  backend?: string;
  epochs?: string;
  batchSize?: string;
  lr?: string;
  weightDecay?: string;
  seed?: string;
  preset?: string;
  imgSize?: string;
  limit?: string;
  workers?: string;
  gradCheckpoint?: boolean;
  out?: string;
  resume?: boolean;
  force?: boolean;
  mixup?: string;
  cutmix?: string;
  labelSmoothing?: string;
  augment?: string;
  clipGrad?: string;
  init?: string;
  precision?: string;
}

/**
 * Adds `train` to the program.
 *
 * @example
 * addTrainCommand(program, io); // tessera train minivit --epochs 8
 */
export function addTrainCommand(program: Command, io: Io): void {
  program
    .command("train")
    .description("train a model; Ctrl-C saves a checkpoint that --resume continues bit for bit")
    .argument("<task>", `one of: ${TASKS.map((t) => t.name).join(", ")}`)
    .option("--data <dir>", "IDX directory or image folder (default: the task's shipped or generated data)")
    .option(
      "--backend <name>",
      "js, native or cuda (default: the fastest available on the CPU; cuda when asked)",
    )
    .option("--epochs <n>", "epochs to train (default: the task's)")
    .option("--batch-size <n>", "batch size (default: the task's)")
    .option("--lr <rate>", "peak learning rate of the warmup-cosine schedule")
    .option("--weight-decay <wd>", "AdamW weight decay (default 0.05)")
    .option("--seed <n>", "seed of initial weights, shuffling and augmentation (default 0)")
    .option("--preset <name>", "model size preset (see `tessera info`)")
    .option("--img-size <n>", "input size for tasks and image folders of free size")
    .option("--limit <n>", "use at most N training and N test samples")
    .option("--workers <n>", "data loader worker threads (default 0: the main thread)")
    .option(
      "--grad-checkpoint",
      "recompute activations in backward to save memory (where the model supports it)",
    )
    .option("--out <dir>", "run directory (default runs/<task>)")
    .option("--resume", "continue the run in --out from its checkpoint")
    .option("--force", "start over even if --out already holds a run")
    .option("--mixup <alpha>", "mixup Beta(α, α) (0: off)")
    .option("--cutmix <alpha>", "cutmix Beta(α, α) (0: off)")
    .option("--label-smoothing <eps>", "label smoothing of the targets (0: off)")
    .option(
      "--augment <kind>",
      "image augmentation in training: none, flip or crop-flip (default: the task's)",
    )
    .option("--clip-grad <norm>", "clip the gradients' total norm")
    .option(
      "--precision <p>",
      "fp32, bf16 or fp16: autocast matmul/conv/attention to bf16 or fp16 (fp16 with loss scaling); default fp32",
    )
    .option(
      "--init <checkpoint>",
      "start from this checkpoint's weights (autoencoder-lstm: the trained autoencoder)",
    )
    .action(async (name: string, flags: TrainFlags) => {
      io.exitCode = await runTrain(name, flags, io);
    });
}

async function runTrain(name: string, f: TrainFlags, io: Io): Promise<number> {
  const task = findTask(name);
  if (!task) {
    throw new CliError(`unknown task '${name}'`, `choose one of: ${TASKS.map((t) => t.name).join(", ")}`);
  }
  const out = f.out ?? join("runs", task.name);
  let savedEpochs: number | undefined;
  if (f.resume && existsSync(join(out, CONFIG_FILE))) {
    savedEpochs = (JSON.parse(readFileSync(join(out, CONFIG_FILE), "utf8")) as RunConfig).options.epochs;
  }
  const d = task.defaults;
  const controller = new AbortController();
  let sigints = 0;
  const onSigint = (): void => {
    sigints++;
    if (sigints > 1) {
      io.err("tessera: interrupted again; exiting without saving");
      process.exit(130);
    }
    io.err("\nstopping after this step and saving a checkpoint (Ctrl-C again to quit at once)");
    controller.abort();
  };
  if (io.handleSignals) process.on("SIGINT", onSigint);
  try {
    const result = await trainRun(task, {
      data: f.data,
      preset: f.preset,
      imgSize: intFlag("--img-size", f.imgSize),
      epochs: intFlag("--epochs", f.epochs) ?? savedEpochs ?? d.epochs,
      batchSize: intFlag("--batch-size", f.batchSize) ?? d.batchSize,
      lr: floatFlag("--lr", f.lr) ?? d.lr,
      weightDecay: floatFlag("--weight-decay", f.weightDecay, 0) ?? d.weightDecay ?? 0.05,
      seed: intFlag("--seed", f.seed, 0) ?? d.seed ?? 0,
      gradCheckpoint: f.gradCheckpoint === true,
      limit: intFlag("--limit", f.limit),
      init: f.init,
      workers: intFlag("--workers", f.workers, 0) ?? d.workers ?? 0,
      out,
      resume: f.resume === true,
      force: f.force === true,
      backend: f.backend,
      signal: controller.signal,
      log: (line) => io.out(line),
      write: (text) => io.stdout.write(text),
      isTTY: io.isTTY,
      mixup: floatFlag("--mixup", f.mixup, 0),
      cutmix: floatFlag("--cutmix", f.cutmix, 0),
      labelSmoothing: floatFlag("--label-smoothing", f.labelSmoothing, 0) ?? d.labelSmoothing,
      clipGrad: floatFlag("--clip-grad", f.clipGrad),
      augment: augmentFlag(f.augment) ?? d.augment,
      precision: precisionFlag(f.precision),
    });
    return result.interrupted ? 130 : 0;
  } finally {
    if (io.handleSignals) process.off("SIGINT", onSigint);
  }
}

const AUGMENTS = ["none", "flip", "crop-flip"] as const;

function augmentFlag(value: string | undefined): RunOptions["augment"] {
  if (value === undefined) return undefined;
  if (!(AUGMENTS as readonly string[]).includes(value))
    throw new CliError(
      `--augment must be one of ${AUGMENTS.join(", ")}, got '${value}'`,
      "e.g. --augment flip",
    );
  return value as RunOptions["augment"];
}

const PRECISIONS: readonly Precision[] = ["fp32", "bf16", "fp16"];

function precisionFlag(value: string | undefined): Precision | undefined {
  if (value === undefined) return undefined;
  if (!(PRECISIONS as readonly string[]).includes(value))
    throw new CliError(
      `--precision must be one of ${PRECISIONS.join(", ")}, got '${value}'`,
      "e.g. --precision bf16 (mixed precision; fp16 adds dynamic loss scaling)",
    );
  return value as Precision;
}
