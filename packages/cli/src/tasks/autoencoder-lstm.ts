/**
 * `tessera train autoencoder-lstm --init <autoencoder run>`: the reference ViTLSTM as a next-frame
 * predictor. The trained autoencoder's encoder (frozen) embeds every frame of a window; the LSTM
 * reads the embeddings and predicts the next frame's:
 *
 *   frames [B,T,1,H,W] → frozen encoder → z [B,T,D]
 *   → lstm(z[:, :T−1]) [B,T−1,hidden] → fc [B,T−1,D] → ẑ = z[:, :T−1] + fc   (a change per step)
 *   loss = MSE(ẑ, z[:, 1:])
 *
 * Predicting the change from the current embedding makes "the next frame looks like this one" the
 * starting point, so the metrics compare with that baseline: `copy_mse` is the error of ẑ = z_t.
 * The autoencoder's decoder turns predicted embeddings back into frames for the plot.
 */
import fs from "node:fs";
import path from "node:path";
import { noGrad } from "@tessera/autograd";
import { type Tensor, tidy } from "@tessera/core";
import {
  DataError,
  defaultCollate,
  type FloatImage,
  FrameSequenceDataset,
  Subset,
  writeImage,
} from "@tessera/data";
import { AUTOENCODER_PRESETS, AutoencoderLSTM, type TransformerAutoencoder } from "@tessera/models";
import { loadSync, type Module } from "@tessera/nn";
import { CONFIG_FILE, resolveRun } from "../checkpoint.js";
import { CliError } from "../errors.js";
import { imageGrid, lineChart } from "../plot/index.js";
import { autoencoderFromConfig, autoencoderOptions, generatedShapes } from "./autoencoder.js";
import { limitTo } from "./cache.js";
import { stepsFrom } from "./steps.js";
import type { Batch, BuiltModel, Json, RunOptions, StepMetrics, Task, TaskData } from "./types.js";

/** One window of consecutive frames, what FrameSequenceDataset yields. */
export interface FrameWindow {
  frames: FloatImage[];
  sequence: string;
  start: number;
}

interface LstmPreset {
  hidden: number;
  lstmLayers: number;
  seqLen: number;
}

const LSTM_PRESETS: Readonly<Record<string, LstmPreset>> = {
  base: { hidden: 128, lstmLayers: 1, seqLen: 8 },
  small: { hidden: 64, lstmLayers: 1, seqLen: 8 },
  large: { hidden: 256, lstmLayers: 2, seqLen: 12 },
};
const TEST_FRACTION = 0.1;
const TRAIN_FIRST = "tessera train autoencoder --out runs/autoencoder";

/** config.json's model config: the autoencoder it embeds with, where it came from, the LSTM sizes. */
interface LstmModelConfig extends LstmPreset {
  preset: string;
  /** The autoencoder's model config (its encoder's sizes). */
  autoencoder: Json;
  /** The autoencoder run the encoder came from (its decoder draws the plot). */
  init: string;
}

/** The decoder's source of each model built here, for plots (the LSTM holds only the encoder). */
const initOf = new WeakMap<Module, string>();

function needInit(opts: RunOptions): string {
  if (opts.init === undefined)
    throw new CliError(
      "autoencoder-lstm needs a trained autoencoder: --init <autoencoder run dir or checkpoint> is missing",
      `train the autoencoder first: \`${TRAIN_FIRST}\`, then \`tessera train autoencoder-lstm --init runs/autoencoder\``,
    );
  return opts.init;
}

/** The autoencoder run behind `--init`, checked to be one. */
function autoencoderRun(init: string) {
  if (!fs.existsSync(init))
    throw new CliError(
      `--init ${init} does not exist`,
      `train the autoencoder first: \`${TRAIN_FIRST}\`, then pass --init runs/autoencoder`,
    );
  const run = resolveRun(init);
  if (run.config.task !== "autoencoder")
    throw new CliError(
      `--init ${init} is a '${run.config.task}' run, not an autoencoder's (${path.join(run.dir, CONFIG_FILE)})`,
      `train the autoencoder first: \`${TRAIN_FIRST}\``,
    );
  return run;
}

/** The trained autoencoder of a run (weights from checkpoint.safetensors or model.safetensors). */
function loadAutoencoder(run: ReturnType<typeof autoencoderRun>): TransformerAutoencoder {
  const ae = autoencoderFromConfig(run.config.model);
  const { tensors, metadata } = loadSync(run.weights, { float64: false });
  try {
    // A full checkpoint stores the weights under `model.`; model.safetensors has them bare.
    const full = metadata?.["format"] === "tessera-checkpoint-v1";
    const weights = new Map<string, Tensor>();
    for (const [k, t] of tensors) if (!full || k.startsWith("model.")) weights.set(full ? k.slice(6) : k, t);
    ae.loadStateDict(weights, { strict: true });
  } catch (e) {
    ae.dispose();
    throw e;
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
  return ae;
}

function preset(opts: RunOptions): [string, LstmPreset] {
  const name = opts.preset ?? "base";
  const p = LSTM_PRESETS[name];
  if (!p)
    throw new CliError(
      `autoencoder-lstm: unknown preset '${name}'`,
      `choose one of ${Object.keys(LSTM_PRESETS).join(", ")}`,
    );
  return [name, p];
}

/** Windows of `seqLen` frames from every sequence folder, at the autoencoder's input size. */
async function loadData(opts: RunOptions): Promise<TaskData<FrameWindow>> {
  const run = autoencoderRun(needInit(opts));
  const { inputSize } = autoencoderOptions(run.config.model) as { inputSize: [number, number] };
  const [, p] = preset(opts);
  // Default: the frames the autoencoder was trained on.
  const root = opts.data ?? run.config.options.data ?? (await generatedShapes("autoencoder-lstm", opts.log));
  if (!fs.existsSync(root))
    throw new DataError(
      "no such folder; --data takes a folder with one subfolder of frames per sequence",
      root,
    );
  const all = await FrameSequenceDataset.open(root, { seqLen: p.seqLen, channels: 1, size: inputSize });
  if (all.length < 2)
    throw new DataError(
      `found ${all.length} window(s) of ${p.seqLen} frames; need sequence folders with at least ${p.seqLen + 1} frames in all`,
      root,
    );
  // The last windows (the last sequence, in folder order) are the test set: a random split would put
  // windows overlapping the test windows in training.
  const nTest = Math.max(1, Math.round(all.length * TEST_FRACTION));
  const index = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
  const train = new Subset(all, index(0, all.length - nTest));
  const test = new Subset(all, index(all.length - nTest, nTest));
  return {
    train: limitTo(train, opts.limit),
    test: limitTo(test, opts.limit),
    describe: { data: path.resolve(root), windows: all.length, seqLen: p.seqLen, imgSize: inputSize },
  };
}

function buildModel(config: LstmModelConfig, encoderFrom?: TransformerAutoencoder): AutoencoderLSTM {
  const sizes = { hidden: config.hidden, lstmLayers: config.lstmLayers, sequenceOutput: true };
  if (encoderFrom) {
    const latent = encoderFrom.encoder.config.latent;
    return AutoencoderLSTM.fromAutoencoder(encoderFrom, { ...sizes, outputs: latent });
  }
  const encOpts = { ...autoencoderOptions(config.autoencoder), gradientCheckpointing: false };
  const latent = AUTOENCODER_PRESETS[encOpts.preset ?? "tiny"].latent;
  return new AutoencoderLSTM({ ...encOpts, ...sizes, outputs: latent, freezeEncoder: true });
}

function createModel(opts: RunOptions, _data: TaskData<FrameWindow>, saved?: Json): BuiltModel {
  if (saved) {
    const config = saved as unknown as LstmModelConfig;
    const model = buildModel(config);
    initOf.set(model, config.init);
    return { model, config: saved };
  }
  const init = needInit(opts);
  const [name, p] = preset(opts);
  const run = autoencoderRun(init);
  const ae = loadAutoencoder(run);
  const config: LstmModelConfig = {
    preset: name,
    ...p,
    autoencoder: run.config.model,
    init: path.resolve(init),
  };
  const model = buildModel(config, ae);
  // The LSTM shares the encoder; the decoder is not part of it.
  ae.decoder.dispose();
  initOf.set(model, config.init);
  return { model, config: config as unknown as Json };
}

function collate(samples: FrameWindow[]): Batch {
  return defaultCollate(samples as unknown as object[]);
}

/** Embeddings of every frame [B,T,D], without gradients (the encoder is frozen). */
function embed(m: AutoencoderLSTM, frames: Tensor): Tensor {
  const [b, t] = frames.shape as [number, number];
  return noGrad(() =>
    tidy(() =>
      m.encoder.forward(frames.reshape([b * t, ...frames.shape.slice(2)])).latent.reshape([b, t, -1]),
    ),
  );
}

/** ẑ for steps 1…T−1 from z [B,T,D]: the current embedding plus the LSTM's predicted change. */
function predictNext(m: AutoencoderLSTM, z: Tensor): Tensor {
  const t = z.shape[1]!;
  const current = z.slice(1, 0, t - 1); // [B,T−1,D]
  return current.add(m.fc.forward(m.lstm.forward(current).output));
}

/** Loss and metrics of a batch: Σ per-window mse of ẑ and of the copy-the-last-frame baseline. */
function nextEmbeddingError(m: AutoencoderLSTM, frames: Tensor): { loss: Tensor; metrics: StepMetrics } {
  const z = embed(m, frames);
  const t = z.shape[1]!;
  if (t < 2) throw new RangeError(`autoencoder-lstm: windows need at least 2 frames, got ${t}`);
  const target = z.slice(1, 1, t);
  const err = predictNext(m, z).sub(target);
  const perWindow = err.mul(err).mean([1, 2]); // [B]
  const copy = z.slice(1, 0, t - 1).sub(target);
  const copyPer = noGrad(() => copy.mul(copy).mean([1, 2]).dataSync());
  const values = noGrad(() => perWindow.dataSync());
  let mse = 0;
  let copyMse = 0;
  for (let i = 0; i < values.length; i++) {
    mse += values[i]!;
    copyMse += copyPer[i]!;
  }
  return { loss: perWindow.mean(), metrics: { count: values.length, mse, copy_mse: copyMse } };
}

const { trainStep, evalStep } = stepsFrom((model, batch) =>
  nextEmbeddingError(model as AutoencoderLSTM, batch["frames"]!),
);

/** Frame `i` of a [N,1,H,W] tensor as a FloatImage clamped to [0,1]. */
function plane(t: Tensor, i: number): FloatImage {
  const [, , height, width] = t.shape as [number, number, number, number];
  const data = tidy(() => t.select(0, i).clamp(0, 1).dataSync()) as Float32Array;
  return { channels: 1, height, width, data: Float32Array.from(data) };
}

/**
 * next-frame.png: for the first test window, the true next frames, the autoencoder's reconstruction
 * of them, and the decoded predictions. Without the autoencoder run (moved or deleted) it draws the
 * per-step embedding error instead (embedding-error.png).
 */
async function plots(model: Module, data: TaskData<FrameWindow>, outDir: string): Promise<string[]> {
  const m = model as AutoencoderLSTM;
  const source = data.test && data.test.length > 0 ? data.test : data.train;
  if (source.length === 0) return [];
  const window = await source.get(0);
  const frames = tidy(() => collate([window])["frames"]!); // [1,T,1,H,W]
  const T = frames.shape[1]!;
  m.eval();
  const { predicted, actual } = noGrad(() =>
    tidy(() => {
      const z = embed(m, frames);
      return { predicted: predictNext(m, z).select(0, 0), actual: z.slice(1, 1, T).select(0, 0) }; // [T−1,D]
    }),
  );
  frames.dispose();
  const init = initOf.get(model);
  let ae: TransformerAutoencoder | undefined;
  try {
    if (init && fs.existsSync(init)) ae = loadAutoencoder(autoencoderRun(init));
  } catch {
    ae = undefined;
  }
  try {
    if (ae) {
      const [pred, recon] = noGrad(() =>
        tidy(() => [
          ae!.decoder.forward(predicted).reconstruction,
          ae!.decoder.forward(actual).reconstruction,
        ]),
      ) as [Tensor, Tensor];
      const cols = Math.min(T - 1, 7);
      const row = (caption: string, image: (i: number) => FloatImage) =>
        Array.from({ length: cols }, (_, i) => ({
          image: image(i),
          caption: i === 0 ? `${caption} (t+1)` : `t+${i + 1}`,
        }));
      const grid = imageGrid([
        row("next frame", (i) => window.frames[i + 1]!),
        row("its reconstruction", (i) => plane(recon, i)),
        row("predicted", (i) => plane(pred, i)),
      ]);
      pred.dispose();
      recon.dispose();
      const file = path.join(outDir, "next-frame.png");
      await writeImage(file, grid);
      return [file];
    }
    const err = noGrad(() => tidy(() => predicted.sub(actual).pow(2).mean(1).dataSync())) as Float32Array;
    const x = Array.from({ length: err.length }, (_, i) => i + 1);
    const chart = lineChart({
      title: "next-frame embedding error (first test window)",
      xLabel: "step",
      yLabel: "MSE",
      series: [{ name: "predicted", x, y: Array.from(err) }],
    });
    const file = path.join(outDir, "embedding-error.png");
    await writeImage(file, chart);
    return [file];
  } finally {
    ae?.dispose();
    predicted.dispose();
    actual.dispose();
  }
}

/** The `autoencoder-lstm` task (see the file comment). */
export const autoencoderLstmTask: Task<FrameWindow> = {
  name: "autoencoder-lstm",
  description:
    "LSTM over a trained autoencoder's frame embeddings, predicting the next frame's (--init <autoencoder run> required)",
  // Longer or faster training only fits the training sequences better (measured: held-out error
  // rises above the copy baseline), so the defaults stop early.
  defaults: { epochs: 6, batchSize: 8, lr: 1e-3, workers: 0 },
  presets: Object.keys(LSTM_PRESETS),
  loadData,
  createModel,
  collate,
  trainStep,
  evalStep,
  plots,
};
