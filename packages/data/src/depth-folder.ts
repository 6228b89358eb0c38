/**
 * Depth estimation data: RGB (or gray) images in `images/` and depth maps in `depths/`, matched by file
 * stem. A depth map is a gray PNG (16-bit usually) whose value × `depthScale` is the depth in metres;
 * 0 means "no measurement" and stays 0.
 */
import { join, parse } from "node:path";
import { dataModuleUrl } from "./dataset.js";
import { DataError } from "./errors.js";
import { readImage, toFloatImage } from "./image.js";
import {
  describeBadFiles,
  findBadFiles,
  findImageFiles,
  IMAGE_EXTENSIONS,
  requireFolder,
} from "./image-folder.js";
import { Rng } from "./rng.js";
import { resize } from "./transforms.js";
import type {
  BadFile,
  Dataset,
  DecodedImage,
  FloatImage,
  OnBadFile,
  WorkerShareable,
  WorkerSpec,
} from "./types.js";

/** Options of `DepthFolder.open`. */
export interface DepthFolderOptions {
  /** Resize image and depth to this size ([h, w]; a number is a square). Default: as stored. */
  size?: number | [number, number];
  /** Metres per depth unit. Default 0.001 (depth PNGs in millimetres). */
  depthScale?: number;
  /** Probability of flipping image and depth left-right together (drawn from the loader's rng). Default 0. */
  hflip?: number;
  /** Convert images to 1 or 3 channels. Default: as stored (alpha dropped). */
  channels?: 1 | 3;
  /** "throw" (default): a bad pair stops `get` with a DataError naming it. "skip": check every pair at open, drop and report the bad ones. */
  onBadFile?: OnBadFile;
}

/** What a worker thread gets to rebuild a `DepthFolder` (JSON). */
export interface DepthFolderArgs extends DepthFolderOptions {
  root: string;
  /** Files already found bad on the main thread: their pairs are excluded without checking again. */
  badFiles?: BadFile[];
}

/** One image/depth pair, matched by stem. */
export interface DepthPair {
  stem: string;
  image: string;
  depth: string;
}

const LAYOUT =
  "DepthFolder expects <root>/images/<name>.png|jpg and <root>/depths/<name>.png (a gray 8- or 16-bit PNG per image, same name, same size)";

/**
 * Image/depth pairs for depth estimation. Samples are `{ image, depth }`: the image as a FloatImage
 * in [0, 1], the depth as a 1-channel FloatImage in metres (0 = invalid).
 *
 * ```
 * root/
 *   images/ 0000.png 0001.jpg …
 *   depths/ 0000.png 0001.png …   (16-bit gray, value × depthScale = metres)
 * ```
 *
 * `size` resizes both: the image bilinearly, the depth by nearest neighbour (pixel centres aligned,
 * like the image), because averaging depths invents values that were never measured: a pixel between
 * a valid and an invalid (0) one would become half the depth, and one on an object's edge would float
 * between foreground and background. `hflip` flips both together.
 *
 * @example
 * const ds = await DepthFolder.open("scenes", { size: 64, hflip: 0.5, channels: 3 });
 * const { image, depth } = await ds.get(0, Rng.derive(0, 0, 0)); // [3,64,64] in [0,1], [1,64,64] metres
 */
export class DepthFolder implements Dataset<{ image: FloatImage; depth: FloatImage }>, WorkerShareable {
  readonly root: string;
  readonly pairs: DepthPair[];
  readonly badFiles: BadFile[];
  private readonly options: DepthFolderOptions;
  private readonly target: [number, number] | undefined;

  private constructor(root: string, pairs: DepthPair[], badFiles: BadFile[], options: DepthFolderOptions) {
    this.root = root;
    this.pairs = pairs;
    this.badFiles = badFiles;
    this.options = options;
    this.target = options.size === undefined ? undefined : squareOr(options.size);
  }

  /**
   * Lists and matches `images/` and `depths/` (with "skip", also decodes and checks every pair).
   *
   * @example
   * const ds = await DepthFolder.open("scenes", { onBadFile: "skip" });
   * console.log(ds.report());
   */
  static async open(root: string, options: DepthFolderOptions = {}): Promise<DepthFolder> {
    return DepthFolder.build(root, options, undefined);
  }

  private static async build(
    root: string,
    options: DepthFolderOptions,
    known: BadFile[] | undefined,
  ): Promise<DepthFolder> {
    validateOptions(options);
    await requireFolder(root, LAYOUT);
    const imageDir = join(root, "images");
    const depthDir = join(root, "depths");
    await requireFolder(imageDir, LAYOUT);
    await requireFolder(depthDir, LAYOUT);
    const skip = options.onBadFile === "skip";
    const badFiles: BadFile[] = [];
    const problems: string[] = [];
    const images = byStem(
      await findImageFiles(imageDir, { extensions: IMAGE_EXTENSIONS }),
      problems,
      badFiles,
    );
    const depths = byStem(await findImageFiles(depthDir, { extensions: ["png"] }), problems, badFiles);
    const pairs: DepthPair[] = [];
    for (const [stem, image] of images) {
      const depth = depths.get(stem);
      if (depth !== undefined) pairs.push({ stem, image, depth });
      else {
        const reason = `no depth map ${join("depths", `${stem}.png`)} (depth maps must be PNG: lossless)`;
        problems.push(`${image}: ${reason}`);
        badFiles.push({ path: image, reason });
      }
    }
    for (const [stem, depth] of depths) {
      if (!images.has(stem)) {
        const reason = `no image ${join("images", `${stem}.png`)} (or .jpg/.jpeg) for this depth map`;
        problems.push(`${depth}: ${reason}`);
        badFiles.push({ path: depth, reason });
      }
    }
    if (problems.length > 0 && !skip) {
      const shown = problems.slice(0, 10).join("; ");
      const more = problems.length > 10 ? `; and ${problems.length - 10} more` : "";
      throw new DataError(
        `images and depth maps do not match one to one: ${shown}${more}. Add or remove files so every image has a depth map of the same name, or pass onBadFile: "skip"`,
        root,
      );
    }
    let kept = pairs;
    if (known !== undefined) {
      badFiles.length = 0;
      badFiles.push(...known);
    } else if (skip) {
      const scale = options.depthScale ?? 0.001;
      // One check per pair, keyed by the image path; the reason names the depth file where it is at fault.
      const pairOf = new Map(pairs.map((p) => [p.image, p]));
      const bad = await findBadFiles(
        pairs.map((p) => p.image),
        (imagePath) => loadPair(pairOf.get(imagePath) as DepthPair, scale, undefined),
      );
      badFiles.push(...bad);
    }
    const excluded = new Set(badFiles.map((b) => b.path));
    kept = pairs.filter((p) => !excluded.has(p.image) && !excluded.has(p.depth));
    if (kept.length === 0) {
      throw new DataError(
        pairs.length === 0
          ? `no image/depth pairs; ${LAYOUT}`
          : `no readable image/depth pairs. ${describeBadFiles(badFiles)}`,
        root,
      );
    }
    return new DepthFolder(root, kept, badFiles, options);
  }

  get length(): number {
    return this.pairs.length;
  }

  /**
   * The pair at `index`, resized to `size` and flipped with probability `hflip` (drawn from `rng`;
   * without one, never flipped).
   */
  async get(index: number, rng?: Rng): Promise<{ image: FloatImage; depth: FloatImage }> {
    if (!Number.isInteger(index) || index < 0 || index >= this.pairs.length) {
      throw new RangeError(`DepthFolder.get: index ${index} is outside [0, ${this.pairs.length})`);
    }
    const pair = this.pairs[index] as DepthPair;
    let { image, depth } = await loadPair(pair, this.options.depthScale ?? 0.001, this.options.channels);
    const flip =
      rng !== undefined && (this.options.hflip ?? 0) > 0 && rng.random() < (this.options.hflip ?? 0);
    if (this.target !== undefined) {
      const [h, w] = this.target;
      if (image.height !== h || image.width !== w) {
        // resize draws nothing from the rng; any stream will do.
        image = resize([h, w]).apply(image, rng ?? new Rng(0));
        depth = resizeNearest(depth, h, w);
      }
    }
    if (flip) {
      flipInPlace(image);
      flipInPlace(depth);
    }
    return { image, depth };
  }

  /**
   * One paragraph on what was found and skipped.
   *
   * @example
   * (await DepthFolder.open("scenes")).report(); // "DepthFolder scenes: 64 image/depth pairs …"
   */
  report(): string {
    const scale = this.options.depthScale ?? 0.001;
    const bad =
      this.options.onBadFile === "skip"
        ? describeBadFiles(this.badFiles)
        : 'Pairs are decoded when loaded: a bad one stops loading with a DataError naming the file(s) (pass onBadFile: "skip" to check them all at open and leave bad ones out).';
    return `DepthFolder ${this.root}: ${this.pairs.length} image/depth pairs (depth value × ${scale} = metres, 0 = invalid). ${bad}`;
  }

  workerSpec(): WorkerSpec {
    const args: DepthFolderArgs = { root: this.root, ...this.options, badFiles: this.badFiles };
    return { module: dataModuleUrl(), factory: "openDepthFolder", args };
  }
}

/**
 * Rebuilds a `DepthFolder` from its `workerSpec().args` (what a DataLoader worker thread calls).
 *
 * @example
 * const same = await openDepthFolder(ds.workerSpec().args as DepthFolderArgs);
 */
export async function openDepthFolder(args: DepthFolderArgs): Promise<DepthFolder> {
  const { root, badFiles, ...options } = args;
  // Bracket access reaches the private builder: this factory is part of the class's own module.
  return DepthFolder["build"](root, options, badFiles);
}

/**
 * A depth PNG as a 1-channel FloatImage in metres: value × `depthScale`, 0 kept as 0 (invalid).
 *
 * @example
 * const depth = depthToMetres(await readImage("depths/0000.png"), 0.001);
 */
export function depthToMetres(img: DecodedImage, depthScale: number, path?: string): FloatImage {
  if (img.channels !== 1) {
    throw new DataError(
      `a depth map must be a 1-channel gray PNG (8- or 16-bit), this one has ${img.channels} channels; save the depth as a gray image`,
      path,
    );
  }
  const n = img.width * img.height;
  const out = new Float32Array(n);
  const src = img.data;
  for (let i = 0; i < n; i++) out[i] = (src[i] as number) * depthScale;
  return { channels: 1, height: img.height, width: img.width, data: out };
}

async function loadPair(
  pair: DepthPair,
  depthScale: number,
  channels: 1 | 3 | undefined,
): Promise<{ image: FloatImage; depth: FloatImage }> {
  const [img, dep] = await Promise.all([readImage(pair.image), readImage(pair.depth)]);
  if (img.width !== dep.width || img.height !== dep.height) {
    throw new DataError(
      `size ${img.width}×${img.height} differs from its depth map ${pair.depth} (${dep.width}×${dep.height}); an image and its depth map must be the same size`,
      pair.image,
    );
  }
  const depth = depthToMetres(dep, depthScale, pair.depth);
  const image = toFloatImage(img, channels === undefined ? { alpha: "drop" } : { channels, alpha: "drop" });
  return { image, depth };
}

/** Files by stem; two files with one stem are ambiguous and reported, not guessed between. */
function byStem(paths: string[], problems: string[], badFiles: BadFile[]): Map<string, string> {
  const out = new Map<string, string>();
  const dup = new Set<string>();
  for (const p of paths) {
    const stem = parse(p).name;
    const other = out.get(stem);
    if (other !== undefined) {
      const reason = `same name as ${other}; keep one file per name`;
      problems.push(`${p}: ${reason}`);
      badFiles.push(
        { path: p, reason },
        { path: other, reason: `same name as ${p}; keep one file per name` },
      );
      dup.add(stem);
    } else out.set(stem, p);
  }
  for (const stem of dup) out.delete(stem);
  return out;
}

/** Nearest neighbour with pixel centres aligned (PyTorch's "nearest-exact"): the bilinear image resize's geometry, so the pair stays aligned. */
function resizeNearest(img: FloatImage, h: number, w: number): FloatImage {
  const { channels, height: ih, width: iw, data } = img;
  const out = new Float32Array(channels * h * w);
  const cols = new Int32Array(w);
  for (let x = 0; x < w; x++) cols[x] = Math.min(iw - 1, Math.floor(((x + 0.5) * iw) / w));
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < h; y++) {
      const sy = Math.min(ih - 1, Math.floor(((y + 0.5) * ih) / h));
      const srcRow = (c * ih + sy) * iw;
      const dstRow = (c * h + y) * w;
      for (let x = 0; x < w; x++) out[dstRow + x] = data[srcRow + (cols[x] as number)] as number;
    }
  }
  return { channels, height: h, width: w, data: out };
}

function flipInPlace(img: FloatImage): void {
  const { channels, height, width, data } = img;
  for (let r = 0; r < channels * height; r++) {
    const row = r * width;
    for (let a = row, b = row + width - 1; a < b; a++, b--) {
      const t = data[a] as number;
      data[a] = data[b] as number;
      data[b] = t;
    }
  }
}

function squareOr(size: number | [number, number]): [number, number] {
  return typeof size === "number" ? [size, size] : [size[0], size[1]];
}

function validateOptions(o: DepthFolderOptions): void {
  if (o.size !== undefined) {
    const [h, w] = squareOr(o.size);
    if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1) {
      throw new RangeError(
        `DepthFolder: size must be a positive integer or [h, w], got ${JSON.stringify(o.size)}`,
      );
    }
  }
  if (o.depthScale !== undefined && !(o.depthScale > 0 && Number.isFinite(o.depthScale))) {
    throw new RangeError(
      `DepthFolder: depthScale must be a positive number (metres per unit), got ${o.depthScale}`,
    );
  }
  if (o.hflip !== undefined && !(o.hflip >= 0 && o.hflip <= 1)) {
    throw new RangeError(`DepthFolder: hflip is a probability in [0, 1], got ${o.hflip}`);
  }
}
