/**
 * The shapes data takes on its way to a model. Everything here is plain JavaScript (typed arrays and
 * numbers), so a sample can cross to and from a worker thread by structured clone; tensors are made
 * only on the main thread, by `collate`.
 */
import type { Rng } from "./rng.js";

/** A decoded image as its codec returns it: interleaved channels (HWC), 8- or 16-bit. */
export interface DecodedImage {
  width: number;
  height: number;
  /** 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA. */
  channels: 1 | 2 | 3 | 4;
  /** 8 or 16. */
  bitDepth: 8 | 16;
  /** `height·width·channels` samples, row-major, channels interleaved. */
  data: Uint8Array | Uint16Array;
}

/** An image ready for transforms and tensors: channel-major planes (CHW), float32, usually in [0, 1]. */
export interface FloatImage {
  channels: number;
  height: number;
  width: number;
  /** `channels·height·width` values, plane after plane. */
  data: Float32Array;
}

/** A labelled image, what classification datasets yield. */
export interface LabeledImage {
  image: FloatImage;
  label: number;
}

/**
 * A map-style dataset: random access by index (PyTorch's `Dataset`). `get` may be async (file reads).
 * The DataLoader passes `rng`, a stream derived from (seed, epoch, index): random augmentations draw
 * from it, so a sample is the same whichever thread loads it. Without it a dataset is deterministic.
 */
export interface Dataset<T> {
  readonly length: number;
  get(index: number, rng?: Rng): T | Promise<T>;
}

/** A stream-style dataset (PyTorch's `IterableDataset`): no length, no random access. */
export interface IterableDataset<T> {
  [Symbol.asyncIterator](): AsyncIterator<T>;
}

/**
 * How a worker thread rebuilds a dataset: it imports `module` (a URL or package specifier), calls the
 * export `factory` with `args` (JSON), and uses the result as a `Dataset`. Datasets that can be
 * rebuilt this way implement `workerSpec()`; the DataLoader's `workers` option needs it.
 */
export interface WorkerSpec {
  module: string;
  factory: string;
  args: unknown;
}

/** A dataset a worker thread can rebuild. */
export interface WorkerShareable {
  workerSpec(): WorkerSpec;
}

/** What a dataset does with a file it cannot read: stop with an error (default) or skip and report it. */
export type OnBadFile = "throw" | "skip";

/** A file a dataset skipped, with the reason. */
export interface BadFile {
  path: string;
  reason: string;
}
