/**
 * `tessera train autoencoder`: the seed's transformer autoencoder on grayscale images (201×201 by
 * default, `--img-size` any size), trained to reconstruct its input (mean squared error).
 *
 *   image files (any folder, recursive) → gray [1,S,S] in [0,1] → TransformerAutoencoder
 *   → reconstruction [B,1,S,S] → MSE; metrics mse and psnr per image
 *
 * Without `--data` it trains on the procedural moving-shapes frames (`tessera generate shapes`),
 * generated once into a cache folder. The trained encoder is what `tessera train autoencoder-lstm
 * --init <run>` embeds frames with.
 */
import fs from "node:fs";
import path from "node:path";
import { noGrad } from "@tessera/autograd";
import { type Tensor, tidy } from "@tessera/core";
import {
  DataError,
  defaultCollate,
  type FloatImage,
  generateShapesDataset,
  ImageFiles,
  randomSplit,
  resize,
  writeImage,
} from "@tessera/data";
import {
  type AutoencoderPreset,
  createAutoencoder,
  type TransformerAutoencoder,
  type TransformerAutoencoderOptions,
} from "@tessera/models";
import type { Module } from "@tessera/nn";
import { heatmapOverlay, imageGrid } from "../plot/index.js";
import { cachedData, limitTo } from "./cache.js";
import type { Batch, BuiltModel, Json, RunOptions, StepMetrics, Task, TaskData } from "./types.js";

/** One unlabelled image, what ImageFiles yields. */
export interface ImageSample {
  image: FloatImage;
  path: string;
}

const SIZES: readonly AutoencoderPreset[] = ["tiny", "small", "medium", "large", "xlarge"];
/** `tiny` … `xlarge` are the seed's flat form (one token per image); `-patch` tokenizes 16×16 patches. */
const PRESETS = [...SIZES, ...SIZES.map((s) => `${s}-patch`)];
const DEFAULT_IMG_SIZE = 201;
const TEST_FRACTION = 0.1;
/**
 * The frames generated for runs without --data: 32 sequences × 16 frames at 201×201. The generator's
 * own default (8 sequences) is too few for the LSTM stage to beat "the next frame is this one" on
 * held-out sequences.
 */
export const GENERATED_SHAPES = { sequences: 32, frames: 16, size: 201 } as const;

/**
 * The generated moving-shapes frames (GENERATED_SHAPES), made once in the cache: the default data of
 * the autoencoder and, through it, of the LSTM that embeds the same frames.
 *
 * @example
 * const dir = await generatedShapes("autoencoder");
 */
export function generatedShapes(who: string, log?: (line: string) => void): Promise<string> {
  return cachedData("shapes-201x32", who, (dir) => generateShapesDataset(dir, GENERATED_SHAPES), log);
}

/** What config.json holds: enough to rebuild the model with `createAutoencoder`. */
interface AutoencoderModelConfig {
  preset: AutoencoderPreset;
  tokenizer: "flat" | "patch";
  inputSize: [number, number];
  gradientCheckpointing: boolean;
}

function resolvePreset(task: string, preset: string | undefined, presets: readonly string[]): string {
  const name = preset ?? presets[0]!;
  if (!presets.includes(name))
    throw new Error(`${task}: unknown preset '${name}'; choose one of ${presets.join(", ")}`);
  return name;
}

function imageSize(opts: RunOptions): number {
  const s = opts.imgSize ?? DEFAULT_IMG_SIZE;
  if (!Number.isInteger(s) || s < 8)
    throw new Error(`autoencoder: --img-size must be an integer ≥ 8, got ${opts.imgSize}`);
  return s;
}

/** Every image under `--data` (or the generated shapes), gray, resized to the model's size. */
async function loadData(opts: RunOptions): Promise<TaskData<ImageSample>> {
  const size = imageSize(opts);
  const root = opts.data ?? (await generatedShapes("autoencoder", opts.log));
  if (!fs.existsSync(root))
    throw new DataError(
      "no such folder; --data takes a folder of PNG/JPEG images (searched recursively)",
      root,
    );
  const all = await ImageFiles.open(root, { channels: 1, transform: resize([size, size]) });
  if (all.length < 2)
    throw new DataError(
      `found ${all.length} image(s); the autoencoder needs at least 2 (one to train on, one to test)`,
      root,
    );
  const nTest = Math.max(1, Math.round(all.length * TEST_FRACTION));
  const [train, test] = randomSplit(all, [all.length - nTest, nTest], opts.seed);
  return {
    train: limitTo(train!, opts.limit),
    test: limitTo(test!, opts.limit),
    describe: { data: path.resolve(root), images: all.length, imgSize: [size, size], channels: 1 },
  };
}

function modelConfig(opts: RunOptions): AutoencoderModelConfig {
  const name = resolvePreset("autoencoder", opts.preset, PRESETS);
  const size = imageSize(opts);
  return {
    preset: name.replace(/-patch$/, "") as AutoencoderPreset,
    tokenizer: name.endsWith("-patch") ? "patch" : "flat",
    inputSize: [size, size],
    gradientCheckpointing: opts.gradCheckpoint,
  };
}

/**
 * The model options of a config.json's model config (what `autoencoder-lstm` builds its encoder from).
 *
 * @example
 * autoencoderOptions({ preset: "tiny", tokenizer: "flat", inputSize: [201, 201], gradientCheckpointing: false });
 */
export function autoencoderOptions(config: Json): TransformerAutoencoderOptions {
  const c = config as unknown as Partial<AutoencoderModelConfig> | null;
  if (!c || !Array.isArray(c.inputSize) || typeof c.preset !== "string")
    throw new Error(
      `autoencoder: the saved model config is not an autoencoder's (want preset and inputSize), got ${JSON.stringify(config)}`,
    );
  return {
    preset: c.preset,
    tokenizer: c.tokenizer ?? "flat",
    inputSize: [c.inputSize[0]!, c.inputSize[1]!],
    gradientCheckpointing: c.gradientCheckpointing ?? false,
  };
}

/**
 * The autoencoder a config.json's model config describes (fresh weights).
 *
 * @example
 * const ae = autoencoderFromConfig(run.config.model);
 */
export function autoencoderFromConfig(config: Json): TransformerAutoencoder {
  return createAutoencoder(autoencoderOptions(config));
}

function createModel(opts: RunOptions, _data: TaskData<ImageSample>, saved?: Json): BuiltModel {
  const config = saved ?? (modelConfig(opts) as unknown as Json);
  return { model: autoencoderFromConfig(config), config };
}

function collate(samples: ImageSample[]): Batch {
  return defaultCollate(samples as unknown as object[]);
}

/**
 * Per-image squared error [B] of a reconstruction, and the metrics: Σ mse and Σ psnr over the images
 * (the loop divides by the image count, so the epoch figures are per-image means).
 */
function reconstructionError(
  ae: TransformerAutoencoder,
  x: Tensor,
): { perImage: Tensor; metrics: StepMetrics } {
  const r = ae.forward(x).reconstruction;
  const d = r.sub(x);
  const perImage = d.mul(d).mean([1, 2, 3]); // [B]
  const values = perImage.dataSync();
  let mse = 0;
  let psnr = 0;
  for (let i = 0; i < values.length; i++) {
    mse += values[i]!;
    // Pixels are in [0,1], so the peak is 1; a perfect image is capped at 100 dB instead of ∞.
    psnr += values[i]! > 1e-10 ? -10 * Math.log10(values[i]!) : 100;
  }
  return { perImage, metrics: { count: values.length, mse, psnr } };
}

function trainStep(model: Module, batch: Batch): { loss: Tensor; metrics: StepMetrics } {
  let metrics: StepMetrics = { count: 0 };
  const loss = tidy(() => {
    const r = reconstructionError(model as TransformerAutoencoder, batch["image"]!);
    metrics = r.metrics;
    return r.perImage.mean();
  });
  return { loss, metrics };
}

function evalStep(model: Module, batch: Batch): { loss: number; metrics: StepMetrics } {
  return noGrad(() =>
    tidy(() => {
      const r = reconstructionError(model as TransformerAutoencoder, batch["image"]!);
      return { loss: r.metrics["mse"]! / r.metrics.count, metrics: r.metrics };
    }),
  );
}

/** A [1,H,W] plane of a [B,1,H,W] tensor as a FloatImage, clamped to [0,1]. */
function plane(t: Tensor, b: number): FloatImage {
  const [, , height, width] = t.shape as [number, number, number, number];
  const data = tidy(() => t.select(0, b).clamp(0, 1).dataSync()) as Float32Array;
  return { channels: 1, height, width, data: Float32Array.from(data) };
}

async function firstImages(data: TaskData<ImageSample>, n: number): Promise<FloatImage[]> {
  const source = data.test && data.test.length > 0 ? data.test : data.train;
  const out: FloatImage[] = [];
  for (let i = 0; i < Math.min(n, source.length); i++) out.push((await source.get(i)).image);
  return out;
}

/**
 * The head-averaged encoder attention each patch receives, as a [gh, gw] map (patch tokenizer), or
 * null for the flat form, whose single token attends only to itself (every map is 1).
 */
function attentionGrid(
  ae: TransformerAutoencoder,
  x: Tensor,
): { data: Float32Array; height: number; width: number } | null {
  const cfg = ae.encoder.config;
  if (cfg.tokenizer !== "patch") return null;
  const gh = Math.ceil(x.shape[2]! / cfg.patchSize);
  const gw = Math.ceil(x.shape[3]! / cfg.patchSize);
  const maps = ae.getAttentionMaps(x);
  try {
    // [1,N,N] → attention received per token [N]; a cls token (pool 'cls') comes first and is dropped.
    const received = tidy(() => maps["average"]!.select(0, 0).mean(0).dataSync()) as Float32Array;
    const offset = received.length - gh * gw;
    return { data: Float32Array.from(received.subarray(offset)), height: gh, width: gw };
  } finally {
    for (const t of Object.values(maps)) t.dispose();
  }
}

/** reconstructions.png (inputs over reconstructions) and, for the patch tokenizer, attention.png. */
async function plots(model: Module, data: TaskData<ImageSample>, outDir: string): Promise<string[]> {
  const ae = model as TransformerAutoencoder;
  const images = await firstImages(data, 6);
  if (images.length === 0) return [];
  const x = tidy(() => collate(images.map((image) => ({ image, path: "" })))["image"]!);
  const written: string[] = [];
  try {
    ae.eval();
    const recon = noGrad(() => tidy(() => ae.forward(x).reconstruction)); // the latent is freed
    const rows = [
      images.map((image, i) => ({ image, caption: i === 0 ? "input" : "" })),
      images.map((_, i) => ({ image: plane(recon, i), caption: i === 0 ? "reconstruction" : "" })),
    ];
    recon.dispose();
    const file = path.join(outDir, "reconstructions.png");
    await writeImage(file, imageGrid(rows));
    written.push(file);

    const first = tidy(() => x.slice(0, 0, 1));
    const heat = attentionGrid(ae, first);
    first.dispose();
    if (heat) {
      const att = path.join(outDir, "attention.png");
      await writeImage(att, heatmapOverlay(images[0]!, heat));
      written.push(att);
    } else {
      console.log(
        "autoencoder: attention.png skipped: the flat tokenizer has one token per image, so every map is 1 (a -patch preset has maps over patches)",
      );
    }
  } finally {
    x.dispose();
  }
  return written;
}

/** The `autoencoder` task (see the file comment). */
export const autoencoderTask: Task<ImageSample> = {
  name: "autoencoder",
  description:
    "transformer autoencoder on grayscale images (201×201 default, --img-size any); --data DIR of images, default generated moving shapes",
  // Measured on 2 CPU cores (native), generated frames: 10 epochs of 461 frames take about 2
  // minutes (test PSNR 19.6 dB); at batch 8 and lr 1e-3 the flat model stayed at the mean image.
  defaults: { epochs: 10, batchSize: 4, lr: 3e-3, imgSize: DEFAULT_IMG_SIZE, workers: 0 },
  presets: PRESETS,
  loadData,
  createModel,
  collate,
  trainStep,
  evalStep,
  plots,
};
