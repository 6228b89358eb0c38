/**
 * Images from folders: `ImageFolder` (one subfolder per class, torchvision's layout) and `ImageFiles`
 * (every image under a folder, unlabelled, for autoencoders), plus the folder plumbing the other
 * folder datasets share: natural name order, image listing, up-front file checks and their report.
 */
import type { Dirent } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join, relative } from "node:path";
import { dataModuleUrl } from "./dataset.js";
import { DataError } from "./errors.js";
import { readImage, toFloatImage } from "./image.js";
import { Rng } from "./rng.js";
import { type Transform, type TransformSpec, transformFromSpec } from "./transforms.js";
import type {
  BadFile,
  Dataset,
  FloatImage,
  LabeledImage,
  OnBadFile,
  WorkerShareable,
  WorkerSpec,
} from "./types.js";

/** The image file extensions folder datasets read by default (matched case-insensitively). */
export const IMAGE_EXTENSIONS: readonly string[] = ["png", "jpg", "jpeg"];

/** Options of `ImageFolder.open` and `ImageFiles.open`. */
export interface ImageFolderOptions {
  /** Applied to every image in `get`, with the loader's per-sample rng. */
  transform?: Transform;
  /** File extensions to read, with or without the dot, any case. Default png, jpg, jpeg. */
  extensions?: readonly string[];
  /** Convert every image to 1 (gray, ITU-R 601 luma) or 3 (RGB) channels. Default: as stored (alpha dropped). */
  channels?: 1 | 3;
  /** "throw" (default): a bad file stops `get` with a DataError naming it. "skip": check every file at open, drop and report the bad ones. */
  onBadFile?: OnBadFile;
}

/** What a worker thread gets to rebuild an `ImageFolder` or `ImageFiles` (JSON). */
export interface ImageFolderArgs {
  root: string;
  transform?: TransformSpec;
  extensions?: readonly string[];
  channels?: 1 | 3;
  onBadFile?: OnBadFile;
  /** Files already found bad on the main thread: excluded without checking them again. */
  badFiles?: BadFile[];
}

/**
 * Compares names the way people sort them: digit runs by value, so "frame_2" < "frame_10".
 * Names equal by value ("01" and "1") fall back to plain order, so the order is total.
 *
 * @example
 * ["frame_10.png", "frame_2.png", "frame_1.png"].sort(naturalCompare); // frame_1, frame_2, frame_10
 */
export function naturalCompare(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(j);
    if (isDigit(ca) && isDigit(cb)) {
      let ei = i;
      while (ei < a.length && isDigit(a.charCodeAt(ei))) ei++;
      let ej = j;
      while (ej < b.length && isDigit(b.charCodeAt(ej))) ej++;
      let si = i;
      while (si < ei - 1 && a.charCodeAt(si) === 48) si++;
      let sj = j;
      while (sj < ej - 1 && b.charCodeAt(sj) === 48) sj++;
      // Without leading zeros, a longer digit run is a larger number; equal lengths compare digit by digit.
      if (ei - si !== ej - sj) return ei - si - (ej - sj);
      for (let k = 0; k < ei - si; k++) {
        const d = a.charCodeAt(si + k) - b.charCodeAt(sj + k);
        if (d !== 0) return d;
      }
      i = ei;
      j = ej;
    } else {
      if (ca !== cb) return ca - cb;
      i++;
      j++;
    }
  }
  const rest = a.length - i - (b.length - j);
  if (rest !== 0) return rest;
  return a < b ? -1 : a > b ? 1 : 0;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * The image files in `dir` (and its subfolders with `recursive`), as full paths in natural order of
 * their path below `dir`. Hidden entries (names starting with ".", like macOS `._x.png` forks) are
 * left out; symbolic links are followed.
 *
 * @example
 * const files = await findImageFiles("photos", { recursive: true }); // ["photos/a/1.png", "photos/a/2.jpg", …]
 */
export async function findImageFiles(
  dir: string,
  opts: { extensions?: readonly string[]; recursive?: boolean } = {},
): Promise<string[]> {
  const exts = normalizeExtensions(opts.extensions);
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.name.startsWith(".")) continue;
      const p = join(d, e.name);
      const kind = await entryKind(e, p);
      if (kind === "dir") {
        if (opts.recursive) await walk(p);
      } else if (kind === "file" && exts.has(extensionOf(e.name))) {
        out.push(p);
      }
    }
  };
  await walk(dir);
  return out.sort((a, b) => naturalCompare(relative(dir, a), relative(dir, b)));
}

/**
 * The non-hidden subfolders of `dir`, in code-point order (Python's `sorted`, as torchvision's
 * ImageFolder uses, so class indices match a model trained there).
 *
 * @example
 * await subfolders("pets"); // ["cat", "dog"]
 */
export async function subfolders(dir: string): Promise<string[]> {
  const names: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (!e.name.startsWith(".") && (await entryKind(e, join(dir, e.name))) === "dir") names.push(e.name);
  }
  return names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Runs `check` on every path (a few at a time) and returns the ones that failed, with the reason.
 * This is how the folder datasets' `onBadFile: "skip"` finds bad files at open.
 *
 * @example
 * const bad = await findBadFiles(paths, (p) => readImage(p)); // [{ path, reason: "not a PNG or JPEG file …" }]
 */
export async function findBadFiles(
  paths: readonly string[],
  check: (path: string) => Promise<unknown>,
  concurrency = 8,
): Promise<BadFile[]> {
  const failures = new Array<BadFile | undefined>(paths.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < paths.length) {
      const i = next++;
      const p = paths[i] as string;
      try {
        await check(p);
      } catch (e) {
        failures[i] = { path: p, reason: reasonOf(e, p) };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, paths.length) }, lane));
  return failures.filter((f): f is BadFile => f !== undefined);
}

/** An error's message without the "path: " prefix DataError adds, for a BadFile's reason. */
function reasonOf(e: unknown, path: string): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.startsWith(`${path}: `) ? message.slice(path.length + 2) : message;
}

/**
 * One sentence on skipped files for a dataset's `report()`: how many, the first few with their
 * reason, and what to do.
 *
 * @example
 * describeBadFiles([{ path: "a/x.png", reason: "truncated" }]);
 * // "Skipped 1 bad file: a/x.png (truncated). Fix or delete it and open the dataset again to use it."
 */
export function describeBadFiles(badFiles: readonly BadFile[], limit = 5): string {
  if (badFiles.length === 0) return "No bad files.";
  const shown = badFiles
    .slice(0, limit)
    .map((b) => `${b.path} (${b.reason})`)
    .join("; ");
  const more = badFiles.length > limit ? `; and ${badFiles.length - limit} more (see .badFiles)` : "";
  const one = badFiles.length === 1;
  return `Skipped ${badFiles.length} bad ${one ? "file" : "files"}: ${shown}${more}. Fix or delete ${one ? "it" : "them"} and open the dataset again to use ${one ? "it" : "them"}.`;
}

/**
 * Fails with a DataError naming `dir` unless it is an existing folder; `expected` tells the user the
 * layout wanted.
 *
 * @example
 * await requireFolder("data/pets", "ImageFolder expects <root>/<class>/<image>.png");
 */
export async function requireFolder(dir: string, expected: string): Promise<void> {
  let isDir = false;
  try {
    isDir = (await stat(dir)).isDirectory();
  } catch {
    throw new DataError(`folder not found; ${expected}`, dir);
  }
  if (!isDir) throw new DataError(`is a file, not a folder; ${expected}`, dir);
}

function normalizeExtensions(extensions: readonly string[] | undefined): Set<string> {
  return new Set((extensions ?? IMAGE_EXTENSIONS).map((e) => e.replace(/^\./, "").toLowerCase()));
}

function extensionOf(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot < 0 ? "" : name.slice(dot + 1).toLowerCase();
}

async function entryKind(e: Dirent, path: string): Promise<"dir" | "file" | "other"> {
  if (e.isDirectory()) return "dir";
  if (e.isFile()) return "file";
  if (!e.isSymbolicLink()) return "other";
  try {
    const s = await stat(path);
    return s.isDirectory() ? "dir" : s.isFile() ? "file" : "other";
  } catch {
    return "other"; // a dangling link is not a file we could read
  }
}

async function loadImage(path: string, channels: 1 | 3 | undefined): Promise<FloatImage> {
  return toFloatImage(
    await readImage(path),
    channels === undefined ? { alpha: "drop" } : { channels, alpha: "drop" },
  );
}

function applyTransform(
  transform: Transform | undefined,
  image: FloatImage,
  index: number,
  rng: Rng | undefined,
): FloatImage {
  if (transform === undefined) return image;
  // Without the loader's rng, a fixed stream per index keeps get(i) reproducible.
  return transform.apply(image, rng ?? Rng.derive(0, index));
}

function checkIndex(name: string, index: number, length: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= length) {
    throw new RangeError(`${name}.get: index ${index} is outside [0, ${length})`);
  }
}

const LAYOUT = "ImageFolder expects <root>/<class>/<image>.png (one subfolder per class)";

/**
 * A labelled image dataset with one subfolder per class (torchvision's `ImageFolder`):
 *
 * ```
 * root/
 *   cat/ 001.png 002.jpg …
 *   dog/ a.png …
 * ```
 *
 * `classes` are the subfolder names in sorted order; a sample's label is its folder's index. Images
 * below a class folder are found recursively. With `onBadFile: "skip"` every file is decoded once at
 * open and the bad ones are left out and listed in `badFiles` / `report()`.
 *
 * @example
 * const ds = await ImageFolder.open("pets", { channels: 3, transform: compose([resize(64), randomHorizontalFlip()]) });
 * ds.classes; // ["cat", "dog"]
 * const { image, label } = await ds.get(0, Rng.derive(0, 0, 0));
 */
export class ImageFolder implements Dataset<LabeledImage>, WorkerShareable {
  readonly root: string;
  readonly classes: string[];
  readonly samples: { path: string; label: number }[];
  readonly badFiles: BadFile[];
  private readonly options: ImageFolderOptions;

  private constructor(
    root: string,
    classes: string[],
    samples: { path: string; label: number }[],
    badFiles: BadFile[],
    options: ImageFolderOptions,
  ) {
    this.root = root;
    this.classes = classes;
    this.samples = samples;
    this.badFiles = badFiles;
    this.options = options;
  }

  /**
   * Lists (and with "skip", checks) the folder.
   *
   * @example
   * const ds = await ImageFolder.open("flowers", { onBadFile: "skip" });
   * console.log(ds.report());
   */
  static async open(root: string, options: ImageFolderOptions = {}): Promise<ImageFolder> {
    return ImageFolder.build(root, options, undefined);
  }

  private static async build(
    root: string,
    options: ImageFolderOptions,
    known: BadFile[] | undefined,
  ): Promise<ImageFolder> {
    await requireFolder(root, LAYOUT);
    const skip = options.onBadFile === "skip";
    const classes = await subfolders(root);
    if (classes.length === 0) {
      const loose = (await findImageFiles(root, { extensions: options.extensions })).length;
      throw new DataError(
        `no class subfolders; ${LAYOUT}. Found ${loose} image file${loose === 1 ? "" : "s"} directly in the folder: ` +
          "move them into one subfolder per class, or use ImageFiles for unlabelled images",
        root,
      );
    }
    const badFiles: BadFile[] = [];
    const candidates: { path: string; label: number }[] = [];
    const empty: string[] = [];
    for (let label = 0; label < classes.length; label++) {
      const dir = join(root, classes[label] as string);
      const files = await findImageFiles(dir, { extensions: options.extensions, recursive: true });
      if (files.length === 0) empty.push(dir);
      for (const path of files) candidates.push({ path, label });
    }
    const exts = [...normalizeExtensions(options.extensions)].join(", ");
    if (empty.length > 0) {
      if (!skip) {
        throw new DataError(
          `class folder${empty.length === 1 ? "" : "s"} without images (extensions ${exts}): ${empty.join(", ")}; ` +
            'add images, remove the folder, or pass onBadFile: "skip" to keep the class with no samples',
          root,
        );
      }
      // The class keeps its index so labels still match the folder names; it just has no samples.
      if (known === undefined)
        for (const dir of empty) badFiles.push({ path: dir, reason: `no images (extensions ${exts})` });
    }
    let samples = candidates;
    if (known !== undefined) {
      badFiles.push(...known);
      const excluded = new Set(known.map((b) => b.path));
      samples = candidates.filter((s) => !excluded.has(s.path));
    } else if (skip) {
      const bad = await findBadFiles(
        candidates.map((s) => s.path),
        (p) => readImage(p),
      );
      badFiles.push(...bad);
      const excluded = new Set(bad.map((b) => b.path));
      samples = candidates.filter((s) => !excluded.has(s.path));
    }
    if (samples.length === 0) {
      throw new DataError(`no readable images in any class folder. ${describeBadFiles(badFiles)}`, root);
    }
    return new ImageFolder(root, classes, samples, badFiles, options);
  }

  get length(): number {
    return this.samples.length;
  }

  /** The image (converted, transformed with `rng`) and its class index. */
  async get(index: number, rng?: Rng): Promise<LabeledImage> {
    checkIndex("ImageFolder", index, this.samples.length);
    const { path, label } = this.samples[index] as { path: string; label: number };
    const image = await loadImage(path, this.options.channels);
    return { image: applyTransform(this.options.transform, image, index, rng), label };
  }

  /** Number of samples per class, in `classes` order. */
  classCounts(): number[] {
    const counts = new Array<number>(this.classes.length).fill(0);
    for (const s of this.samples) counts[s.label] = (counts[s.label] as number) + 1;
    return counts;
  }

  /**
   * One paragraph on what was found: images per class and the skipped files.
   *
   * @example
   * (await ImageFolder.open("pets", { onBadFile: "skip" })).report();
   * // "ImageFolder pets: 118 images in 2 classes (cat 60, dog 58). Skipped 1 bad file: pets/dog/x.png (…). …"
   */
  report(): string {
    const counts = this.classCounts();
    const perClass = this.classes.map((c, i) => `${c} ${counts[i]}`).join(", ");
    return `ImageFolder ${this.root}: ${this.samples.length} images in ${this.classes.length} classes (${perClass}). ${badFilesSentence(this.options.onBadFile, this.badFiles)}`;
  }

  workerSpec(): WorkerSpec {
    return {
      module: dataModuleUrl(),
      factory: "openImageFolder",
      args: folderArgs(this.root, this.options, this.badFiles),
    };
  }
}

/**
 * Every image under a folder, recursively, in natural path order, without labels: for autoencoders
 * and other unsupervised models. Samples are `{ image, path }`.
 *
 * @example
 * const ds = await ImageFiles.open("shapes", { channels: 1 });
 * const { image, path } = await ds.get(0);
 */
export class ImageFiles implements Dataset<{ image: FloatImage; path: string }>, WorkerShareable {
  readonly root: string;
  readonly paths: string[];
  readonly badFiles: BadFile[];
  private readonly options: ImageFolderOptions;

  private constructor(root: string, paths: string[], badFiles: BadFile[], options: ImageFolderOptions) {
    this.root = root;
    this.paths = paths;
    this.badFiles = badFiles;
    this.options = options;
  }

  /**
   * Lists (and with "skip", checks) every image under `root`.
   *
   * @example
   * const ds = await ImageFiles.open("frames", { onBadFile: "skip" });
   */
  static async open(root: string, options: ImageFolderOptions = {}): Promise<ImageFiles> {
    return ImageFiles.build(root, options, undefined);
  }

  private static async build(
    root: string,
    options: ImageFolderOptions,
    known: BadFile[] | undefined,
  ): Promise<ImageFiles> {
    const expected = "ImageFiles reads every image file below the folder (any depth)";
    await requireFolder(root, expected);
    const all = await findImageFiles(root, { extensions: options.extensions, recursive: true });
    if (all.length === 0) {
      const exts = [...normalizeExtensions(options.extensions)].join(", ");
      throw new DataError(`no image files (extensions ${exts}) in the folder or below it; ${expected}`, root);
    }
    let badFiles: BadFile[] = [];
    if (known !== undefined) badFiles = [...known];
    else if (options.onBadFile === "skip") badFiles = await findBadFiles(all, (p) => readImage(p));
    const excluded = new Set(badFiles.map((b) => b.path));
    const paths = all.filter((p) => !excluded.has(p));
    if (paths.length === 0) throw new DataError(`no readable images. ${describeBadFiles(badFiles)}`, root);
    return new ImageFiles(root, paths, badFiles, options);
  }

  get length(): number {
    return this.paths.length;
  }

  /** The image (converted, transformed with `rng`) and its path. */
  async get(index: number, rng?: Rng): Promise<{ image: FloatImage; path: string }> {
    checkIndex("ImageFiles", index, this.paths.length);
    const path = this.paths[index] as string;
    const image = await loadImage(path, this.options.channels);
    return { image: applyTransform(this.options.transform, image, index, rng), path };
  }

  /**
   * One paragraph on what was found and skipped.
   *
   * @example
   * (await ImageFiles.open("shapes")).report(); // "ImageFiles shapes: 128 images. …"
   */
  report(): string {
    return `ImageFiles ${this.root}: ${this.paths.length} images. ${badFilesSentence(this.options.onBadFile, this.badFiles)}`;
  }

  workerSpec(): WorkerSpec {
    return {
      module: dataModuleUrl(),
      factory: "openImageFiles",
      args: folderArgs(this.root, this.options, this.badFiles),
    };
  }
}

function badFilesSentence(onBadFile: OnBadFile | undefined, badFiles: readonly BadFile[]): string {
  if (onBadFile === "skip") return describeBadFiles(badFiles);
  return 'Files are decoded when loaded: a bad one stops loading with a DataError naming it (pass onBadFile: "skip" to check them all at open and leave bad ones out).';
}

function folderArgs(root: string, options: ImageFolderOptions, badFiles: BadFile[]): ImageFolderArgs {
  const args: ImageFolderArgs = { root, badFiles };
  if (options.transform !== undefined) args.transform = options.transform.spec;
  if (options.extensions !== undefined) args.extensions = [...options.extensions];
  if (options.channels !== undefined) args.channels = options.channels;
  if (options.onBadFile !== undefined) args.onBadFile = options.onBadFile;
  return args;
}

function optionsFromArgs(args: ImageFolderArgs): ImageFolderOptions {
  const options: ImageFolderOptions = {};
  if (args.transform !== undefined) options.transform = transformFromSpec(args.transform);
  if (args.extensions !== undefined) options.extensions = args.extensions;
  if (args.channels !== undefined) options.channels = args.channels;
  if (args.onBadFile !== undefined) options.onBadFile = args.onBadFile;
  return options;
}

/**
 * Rebuilds an `ImageFolder` from its `workerSpec().args` (what a DataLoader worker thread calls).
 * Files the main thread found bad are excluded without decoding them again.
 *
 * @example
 * const same = await openImageFolder(ds.workerSpec().args as ImageFolderArgs);
 */
export async function openImageFolder(args: ImageFolderArgs): Promise<ImageFolder> {
  // Bracket access reaches the private builder: this factory is part of the class's own module.
  return ImageFolder["build"](args.root, optionsFromArgs(args), args.badFiles);
}

/**
 * Rebuilds an `ImageFiles` from its `workerSpec().args`.
 *
 * @example
 * const same = await openImageFiles(ds.workerSpec().args as ImageFolderArgs);
 */
export async function openImageFiles(args: ImageFolderArgs): Promise<ImageFiles> {
  return ImageFiles["build"](args.root, optionsFromArgs(args), args.badFiles);
}
