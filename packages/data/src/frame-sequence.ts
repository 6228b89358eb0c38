/**
 * Frame sequences for sequence models (the autoencoder + LSTM workflow): one subfolder of frames per
 * sequence, frames in natural name order, every window of `seqLen` consecutive frames one sample.
 */
import { basename, join } from "node:path";
import { dataModuleUrl } from "./dataset.js";
import { DataError } from "./errors.js";
import { readImage, toFloatImage } from "./image.js";
import {
  describeBadFiles,
  findBadFiles,
  findImageFiles,
  naturalCompare,
  requireFolder,
  subfolders,
} from "./image-folder.js";
import { Rng } from "./rng.js";
import { resize } from "./transforms.js";
import type { BadFile, Dataset, FloatImage, OnBadFile, WorkerShareable, WorkerSpec } from "./types.js";

/** Options of `FrameSequenceDataset.open`. */
export interface FrameSequenceOptions {
  /** Frames per sample. */
  seqLen: number;
  /** Frames between the starts of consecutive windows. Default 1. */
  stride?: number;
  /** Convert frames to 1 (gray) or 3 (RGB) channels. Default 1. */
  channels?: 1 | 3;
  /** Resize every frame (bilinear) to this size ([h, w]; a number is a square). Default: as stored. */
  size?: number | [number, number];
  /** "throw" (default): a bad frame stops `get` with a DataError naming it. "skip": check every frame at open; windows never include a bad one. */
  onBadFile?: OnBadFile;
}

/** What a worker thread gets to rebuild a `FrameSequenceDataset` (JSON). */
export interface FrameSequenceArgs extends FrameSequenceOptions {
  root: string;
  /** Frames already found bad on the main thread: excluded without checking again. */
  badFiles?: BadFile[];
}

/** A sample: `seqLen` frames, the sequence's name and the index of the first frame in it. */
export interface FrameWindow {
  frames: FloatImage[];
  sequence: string;
  start: number;
}

/** A sequence (or stretch of one between bad frames) left out because it has fewer than `seqLen` frames. */
export interface ShortSequence {
  sequence: string;
  frames: number;
}

interface Run {
  sequence: string;
  /** Index of `paths[0]` in the sequence's full frame list. */
  offset: number;
  paths: string[];
}

const LAYOUT =
  "FrameSequenceDataset expects <root>/<sequence>/<frame>.png (one subfolder of frames per sequence)";

/**
 * Windows of consecutive frames. Layout:
 *
 * ```
 * root/
 *   seq_000/ frame_000.png frame_001.png … frame_015.png
 *   seq_001/ …
 * ```
 *
 * Sequences and frames are in natural order ("frame_2" before "frame_10"). A sequence with fewer than
 * `seqLen` frames gives no sample; it is listed in `shortSequences` and `report()`. Frames of a
 * sequence must all be the same size (a DataError naming the two files otherwise), unless `size`
 * resizes them. A folder of frames with no subfolders is read as one sequence.
 *
 * @example
 * const ds = await FrameSequenceDataset.open("shapes", { seqLen: 8, stride: 4 });
 * const { frames, sequence, start } = await ds.get(0); // 8 × [1,H,W], "seq_000", 0
 */
export class FrameSequenceDataset implements Dataset<FrameWindow>, WorkerShareable {
  readonly root: string;
  readonly badFiles: BadFile[];
  readonly shortSequences: ShortSequence[];
  /** Names of the sequences found, in order (short ones included). */
  readonly sequences: string[];
  private readonly options: FrameSequenceOptions;
  private readonly runs: Run[];
  private readonly windowRun: Int32Array;
  private readonly windowStart: Int32Array;
  private readonly target: [number, number] | undefined;

  private constructor(
    root: string,
    sequences: string[],
    runs: Run[],
    badFiles: BadFile[],
    shortSequences: ShortSequence[],
    options: FrameSequenceOptions,
  ) {
    this.root = root;
    this.sequences = sequences;
    this.runs = runs;
    this.badFiles = badFiles;
    this.shortSequences = shortSequences;
    this.options = options;
    this.target = options.size === undefined ? undefined : squareOr(options.size);
    const { seqLen, stride = 1 } = options;
    let count = 0;
    for (const r of runs) count += windowsIn(r.paths.length, seqLen, stride);
    this.windowRun = new Int32Array(count);
    this.windowStart = new Int32Array(count);
    let w = 0;
    for (let i = 0; i < runs.length; i++) {
      const n = (runs[i] as Run).paths.length;
      for (let s = 0; s + seqLen <= n; s += stride) {
        this.windowRun[w] = i;
        this.windowStart[w] = s;
        w++;
      }
    }
  }

  /**
   * Lists the sequences (with "skip", decodes every frame and leaves bad ones out of all windows).
   *
   * @example
   * const ds = await FrameSequenceDataset.open("clips", { seqLen: 4, channels: 3, size: 64, onBadFile: "skip" });
   * console.log(ds.report());
   */
  static async open(root: string, options: FrameSequenceOptions): Promise<FrameSequenceDataset> {
    return FrameSequenceDataset.build(root, options, undefined);
  }

  private static async build(
    root: string,
    options: FrameSequenceOptions,
    known: BadFile[] | undefined,
  ): Promise<FrameSequenceDataset> {
    validateOptions(options);
    await requireFolder(root, LAYOUT);
    const names = (await subfolders(root)).sort(naturalCompare);
    const sequences: { name: string; frames: string[] }[] = [];
    for (const name of names) {
      const frames = await findImageFiles(join(root, name));
      if (frames.length > 0) sequences.push({ name, frames });
    }
    if (sequences.length === 0) {
      const loose = await findImageFiles(root);
      if (loose.length === 0) throw new DataError(`no frames found; ${LAYOUT}`, root);
      sequences.push({ name: basename(root), frames: loose });
    }
    let badFiles: BadFile[] = [];
    if (known !== undefined) badFiles = [...known];
    else if (options.onBadFile === "skip")
      badFiles = await checkFrames(sequences, options.size === undefined);
    const bad = new Set(badFiles.map((b) => b.path));
    // A bad frame breaks its sequence in two: a window must be consecutive frames.
    const runs: Run[] = [];
    const shortSequences: ShortSequence[] = [];
    for (const seq of sequences) {
      let start = 0;
      for (let i = 0; i <= seq.frames.length; i++) {
        if (i < seq.frames.length && !bad.has(seq.frames[i] as string)) continue;
        if (i > start) {
          const run: Run = { sequence: seq.name, offset: start, paths: seq.frames.slice(start, i) };
          if (run.paths.length >= options.seqLen) runs.push(run);
          else shortSequences.push({ sequence: seq.name, frames: run.paths.length });
        }
        start = i + 1;
      }
    }
    if (runs.length === 0) {
      const longest = shortSequences.reduce((m, s) => Math.max(m, s.frames), 0);
      throw new DataError(
        `no sequence has seqLen = ${options.seqLen} consecutive readable frames (the longest has ${longest}); lower seqLen or add frames. ${describeBadFiles(badFiles)}`,
        root,
      );
    }
    return new FrameSequenceDataset(
      root,
      sequences.map((s) => s.name),
      runs,
      badFiles,
      shortSequences,
      options,
    );
  }

  get length(): number {
    return this.windowRun.length;
  }

  /** The window at `index`: `seqLen` frames (converted and resized), its sequence and first frame index. */
  async get(index: number, _rng?: Rng): Promise<FrameWindow> {
    if (!Number.isInteger(index) || index < 0 || index >= this.windowRun.length) {
      throw new RangeError(
        `FrameSequenceDataset.get: index ${index} is outside [0, ${this.windowRun.length})`,
      );
    }
    const run = this.runs[this.windowRun[index] as number] as Run;
    const start = this.windowStart[index] as number;
    const paths = run.paths.slice(start, start + this.options.seqLen);
    const channels = this.options.channels ?? 1;
    const decoded = await Promise.all(paths.map((p) => readImage(p)));
    const first = decoded[0] as { width: number; height: number };
    let frames: FloatImage[] = [];
    for (let i = 0; i < decoded.length; i++) {
      const d = decoded[i] as (typeof decoded)[number];
      if (this.target === undefined && (d.width !== first.width || d.height !== first.height)) {
        throw new DataError(
          `size ${d.width}×${d.height} differs from ${paths[0]} (${first.width}×${first.height}); all frames of a sequence must be the same size (or pass size to resize them)`,
          paths[i],
        );
      }
      frames.push(toFloatImage(d, { channels, alpha: "drop" }));
    }
    if (this.target !== undefined) {
      const [h, w] = this.target;
      const r = resize([h, w]);
      // resize draws nothing from the rng; any stream will do.
      const rng = new Rng(0);
      frames = frames.map((f) => (f.height === h && f.width === w ? f : r.apply(f, rng)));
    }
    return { frames, sequence: run.sequence, start: run.offset + start };
  }

  /**
   * One paragraph: sequences, windows, and what was left out.
   *
   * @example
   * (await FrameSequenceDataset.open("shapes", { seqLen: 16 })).report();
   * // "FrameSequenceDataset shapes: 8 sequences, 8 windows of 16 frames (stride 1). …"
   */
  report(): string {
    const { seqLen, stride = 1 } = this.options;
    const parts = [
      `FrameSequenceDataset ${this.root}: ${this.sequences.length} sequence${this.sequences.length === 1 ? "" : "s"}, ${this.length} window${this.length === 1 ? "" : "s"} of ${seqLen} frames (stride ${stride}).`,
    ];
    if (this.shortSequences.length > 0) {
      const shown = this.shortSequences
        .slice(0, 5)
        .map((s) => `${s.sequence} (${s.frames} frame${s.frames === 1 ? "" : "s"})`)
        .join(", ");
      const more =
        this.shortSequences.length > 5
          ? ` and ${this.shortSequences.length - 5} more (see .shortSequences)`
          : "";
      parts.push(`Left out, shorter than ${seqLen} frames: ${shown}${more}.`);
    }
    parts.push(
      this.options.onBadFile === "skip"
        ? describeBadFiles(this.badFiles)
        : 'Frames are decoded when loaded: a bad one stops loading with a DataError naming it (pass onBadFile: "skip" to check them all at open and leave bad ones out).',
    );
    return parts.join(" ");
  }

  workerSpec(): WorkerSpec {
    const args: FrameSequenceArgs = { root: this.root, ...this.options, badFiles: this.badFiles };
    return { module: dataModuleUrl(), factory: "openFrameSequences", args };
  }
}

/**
 * Rebuilds a `FrameSequenceDataset` from its `workerSpec().args` (what a DataLoader worker thread calls).
 *
 * @example
 * const same = await openFrameSequences(ds.workerSpec().args as FrameSequenceArgs);
 */
export async function openFrameSequences(args: FrameSequenceArgs): Promise<FrameSequenceDataset> {
  const { root, badFiles, ...options } = args;
  // Bracket access reaches the private builder: this factory is part of the class's own module.
  return FrameSequenceDataset["build"](root, options, badFiles);
}

/** Decodes every frame; with `sameSize`, a frame whose size differs from its sequence's first readable frame is bad too. */
async function checkFrames(
  sequences: { name: string; frames: string[] }[],
  sameSize: boolean,
): Promise<BadFile[]> {
  const all = sequences.flatMap((s) => s.frames);
  const sizes = new Map<string, string>();
  const bad = await findBadFiles(all, async (p) => {
    const img = await readImage(p);
    sizes.set(p, `${img.width}×${img.height}`);
  });
  if (!sameSize) return bad;
  const unreadable = new Set(bad.map((b) => b.path));
  for (const seq of sequences) {
    let firstPath: string | undefined;
    for (const p of seq.frames) {
      if (unreadable.has(p)) continue;
      if (firstPath === undefined) {
        firstPath = p;
        continue;
      }
      const expected = sizes.get(firstPath) as string;
      const size = sizes.get(p) as string;
      if (size !== expected) {
        bad.push({
          path: p,
          reason: `size ${size} differs from the sequence's first frame ${firstPath} (${expected})`,
        });
      }
    }
  }
  return bad;
}

function windowsIn(frames: number, seqLen: number, stride: number): number {
  return frames < seqLen ? 0 : Math.floor((frames - seqLen) / stride) + 1;
}

function squareOr(size: number | [number, number]): [number, number] {
  return typeof size === "number" ? [size, size] : [size[0], size[1]];
}

function validateOptions(o: FrameSequenceOptions): void {
  if (!Number.isInteger(o.seqLen) || o.seqLen < 1) {
    throw new RangeError(`FrameSequenceDataset: seqLen must be a positive integer, got ${o.seqLen}`);
  }
  if (o.stride !== undefined && (!Number.isInteger(o.stride) || o.stride < 1)) {
    throw new RangeError(`FrameSequenceDataset: stride must be a positive integer, got ${o.stride}`);
  }
  if (o.size !== undefined) {
    const [h, w] = squareOr(o.size);
    if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1) {
      throw new RangeError(
        `FrameSequenceDataset: size must be a positive integer or [h, w], got ${JSON.stringify(o.size)}`,
      );
    }
  }
}
