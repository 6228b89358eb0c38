/**
 * MNIST-style image datasets from IDX files: Fashion-MNIST (the subset that ships in
 * packages/data/datasets/fashion-mnist, or the full set from Debian's dataset-fashion-mnist),
 * MNIST, or anything else in that layout.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { dataModuleUrl } from "./dataset.js";
import { DataError } from "./errors.js";
import { readIdx } from "./idx.js";
import { Rng } from "./rng.js";
import { type Transform, type TransformSpec, transformFromSpec } from "./transforms.js";
import type { Dataset, FloatImage, LabeledImage, WorkerShareable, WorkerSpec } from "./types.js";

/** Fashion-MNIST's labels 0–9, in order. */
export const FASHION_MNIST_CLASSES: readonly string[] = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
];

/**
 * The Fashion-MNIST subset that ships with the package (10,000 training and 2,000 test images,
 * stratified, IDX gzip). Resolved from this module's location: `src/` and `dist/` are siblings of
 * `datasets/`.
 *
 * @example
 * import { FASHION_MNIST_SUBSET_DIR } from "@tessera/data";
 * console.log(FASHION_MNIST_SUBSET_DIR); // …/packages/data/datasets/fashion-mnist
 */
export const FASHION_MNIST_SUBSET_DIR: string = fileURLToPath(
  new URL("../datasets/fashion-mnist", import.meta.url),
);

/** Where Debian's `dataset-fashion-mnist` package puts the full set (60,000 + 10,000 images). */
const DEBIAN_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";

/** Options of `IdxImageDataset.load`. */
export interface IdxImageDatasetOptions {
  /** Folder holding the IDX files (default: the shipped Fashion-MNIST subset). */
  dir?: string;
  split: "train" | "test";
  /** Applied to every image on `get`, drawing from the sample's Rng. */
  transform?: Transform;
  /** Keep only the first `limit` samples. */
  limit?: number;
  /** Label names (default Fashion-MNIST's). */
  classes?: readonly string[];
}

/** What a worker thread needs to rebuild the dataset; the pixel buffers are shared, not copied. */
interface IdxWorkerArgs {
  images: Uint8Array;
  labels: Uint8Array;
  height: number;
  width: number;
  classes: readonly string[];
  transform: TransformSpec | null;
  source: string;
}

/** The file names looked for, per split, in order: the originals first, then common renamings. */
function candidates(split: "train" | "test", kind: "images" | "labels"): string[] {
  const prefix = split === "train" ? "train" : "t10k";
  const ubyte = kind === "images" ? "idx3-ubyte" : "idx1-ubyte";
  const names = [`${prefix}-${kind}-${ubyte}`, `${prefix}-${kind}.${ubyte}`];
  return names.flatMap((n) => [`${n}.gz`, n]);
}

function findFile(dir: string, split: "train" | "test", kind: "images" | "labels"): string {
  const names = candidates(split, kind);
  for (const n of names) {
    const p = join(dir, n);
    if (existsSync(p)) return p;
  }
  throw new DataError(
    `no ${split} ${kind} IDX file: looked for ${names.join(", ")}. Pass --data DIR with MNIST-layout IDX files; the full Fashion-MNIST is in Debian's dataset-fashion-mnist package (apt install dataset-fashion-mnist; --data ${DEBIAN_FASHION_MNIST_DIR})`,
    dir,
  );
}

/**
 * 28×28 (or any H×W) grayscale images with labels from a pair of IDX files. `get` returns a fresh
 * 1×H×W FloatImage in [0,1] (pixel/255) with the transform applied, drawing from the loader's
 * per-sample Rng (or `Rng.derive(0, index)` without one, so a bare `get` is deterministic).
 * WorkerShareable: worker threads share the pixel buffer instead of reading the files again.
 *
 * @example
 * import { IdxImageDataset, randomCrop } from "@tessera/data";
 * const train = await IdxImageDataset.load({ split: "train", transform: randomCrop(28, { padding: 2 }) });
 * const { image, label } = train.get(0); // image: 1×28×28, label: 0–9
 * console.log(train.classes[label], train.length); // e.g. "Ankle boot" 10000
 */
export class IdxImageDataset implements Dataset<LabeledImage>, WorkerShareable {
  private shared: IdxWorkerArgs | undefined;

  private constructor(
    /** Pixels, `length·height·width` bytes, image after image. */
    readonly images: Uint8Array,
    /** One label per image. */
    readonly labels: Uint8Array,
    readonly height: number,
    readonly width: number,
    readonly classes: readonly string[],
    readonly transform: Transform | undefined,
    /** Where the images came from (the images file), for messages. */
    readonly source: string,
  ) {}

  /** Reads `split` from `dir` (default: the shipped Fashion-MNIST subset). */
  static async load(opts: IdxImageDatasetOptions): Promise<IdxImageDataset> {
    const dir = opts.dir ?? FASHION_MNIST_SUBSET_DIR;
    if (opts.split !== "train" && opts.split !== "test") {
      throw new RangeError(
        `IdxImageDataset.load: split must be "train" or "test", got ${String(opts.split)}`,
      );
    }
    if (opts.limit !== undefined && !(Number.isInteger(opts.limit) && opts.limit >= 0)) {
      throw new RangeError(`IdxImageDataset.load: limit must be a non-negative integer, got ${opts.limit}`);
    }
    if (!existsSync(dir)) {
      throw new DataError(
        `no such folder. Pass --data DIR with MNIST-layout IDX files; the full Fashion-MNIST is in Debian's dataset-fashion-mnist package (apt install dataset-fashion-mnist; --data ${DEBIAN_FASHION_MNIST_DIR})`,
        dir,
      );
    }
    const imagesPath = findFile(dir, opts.split, "images");
    const labelsPath = findFile(dir, opts.split, "labels");
    const [images, labels] = await Promise.all([readIdx(imagesPath), readIdx(labelsPath)]);
    if (images.dtype !== "uint8" || images.shape.length !== 3) {
      throw new DataError(
        `expected uint8 images of shape [N,H,W], found ${images.dtype} [${images.shape.join(",")}]`,
        imagesPath,
      );
    }
    if (labels.dtype !== "uint8" || labels.shape.length !== 1) {
      throw new DataError(
        `expected uint8 labels of shape [N], found ${labels.dtype} [${labels.shape.join(",")}]`,
        labelsPath,
      );
    }
    const [n, h, w] = images.shape as [number, number, number];
    if (labels.shape[0] !== n) {
      throw new DataError(`has ${labels.shape[0]} labels for the ${n} images of ${imagesPath}`, labelsPath);
    }
    const classes = opts.classes ?? FASHION_MNIST_CLASSES;
    const labelData = labels.data as Uint8Array;
    for (let i = 0; i < n; i++) {
      if ((labelData[i] as number) >= classes.length) {
        throw new DataError(
          `label ${labelData[i]} of sample ${i} is not one of the ${classes.length} classes; pass classes to load()`,
          labelsPath,
        );
      }
    }
    const count = Math.min(n, opts.limit ?? n);
    return new IdxImageDataset(
      (images.data as Uint8Array).subarray(0, count * h * w),
      labelData.subarray(0, count),
      h,
      w,
      classes,
      opts.transform,
      imagesPath,
    );
  }

  get length(): number {
    return this.labels.length;
  }

  get(index: number, rng?: Rng): LabeledImage {
    if (!Number.isInteger(index) || index < 0 || index >= this.labels.length) {
      throw new RangeError(
        `IdxImageDataset.get: index ${index} is out of range for ${this.labels.length} samples`,
      );
    }
    const size = this.height * this.width;
    const data = new Float32Array(size);
    const offset = index * size;
    for (let p = 0; p < size; p++) data[p] = (this.images[offset + p] as number) / 255;
    let image: FloatImage = { channels: 1, height: this.height, width: this.width, data };
    if (this.transform !== undefined) image = this.transform.apply(image, rng ?? Rng.derive(0, index));
    return { image, label: this.labels[index] as number };
  }

  workerSpec(): WorkerSpec {
    if (this.shared === undefined) {
      // One copy into shared memory; every worker then reads the same pixels.
      const images = new Uint8Array(new SharedArrayBuffer(this.images.length));
      images.set(this.images);
      const labels = new Uint8Array(new SharedArrayBuffer(this.labels.length));
      labels.set(this.labels);
      this.shared = {
        images,
        labels,
        height: this.height,
        width: this.width,
        classes: this.classes,
        transform: this.transform?.spec ?? null,
        source: this.source,
      };
    }
    return { module: dataModuleUrl(), factory: "IdxImageDataset.fromWorkerArgs", args: this.shared };
  }

  /** Rebuilds the dataset in a worker thread (the factory of its `workerSpec`). */
  static fromWorkerArgs(args: IdxWorkerArgs): IdxImageDataset {
    const transform = args.transform === null ? undefined : transformFromSpec(args.transform);
    return new IdxImageDataset(
      args.images,
      args.labels,
      args.height,
      args.width,
      args.classes,
      transform,
      args.source,
    );
  }
}
