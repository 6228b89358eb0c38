/**
 * `tessera generate <shapes|depth|text> --out DIR`: writes one of the synthetic datasets of
 * `@tessera/data` (moving shapes, ray-cast RGB-D scenes, a labelled sentence corpus), so the
 * autoencoder, depth and text workflows run without a download.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import {
  generateDepthDataset,
  generateShapesDataset,
  generateTextCorpus,
  TEXT_CORPUS_CLASSES,
} from "@tessera/data";
import { Argument, type Command } from "commander";
import { CliError } from "../errors.js";
import { type Io, intFlag } from "./io.js";

const KINDS = ["shapes", "depth", "text"] as const;

interface GenerateFlags {
  out: string;
  count?: string;
  size?: string;
  frames?: string;
  seed?: string;
}

/** Prints to the process streams: for callers that have no `Io` of their own. */
function consoleIo(): Io {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    isTTY: process.stdout.isTTY === true,
    handleSignals: false,
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    exitCode: 0,
  };
}

/**
 * Adds `generate` to the program: `tessera generate <shapes|depth|text> --out DIR [--count N]
 * [--size N] [--frames N] [--seed N]`. It prints what it wrote and the `tessera train` command that
 * uses it. Output without an `io` goes to the process's stdout.
 *
 * @example
 * ```ts
 * const program = new Command("tessera");
 * addGenerateCommand(program, io);
 * await program.parseAsync(["generate", "depth", "--out", "data/depth", "--count", "16"], { from: "user" });
 * ```
 */
export function addGenerateCommand(program: Command, io: Io = consoleIo()): void {
  program
    .command("generate")
    .description(
      "write a synthetic dataset: moving shapes (autoencoder), RGB-D scenes (depth) or a text corpus",
    )
    .addArgument(new Argument("<kind>", "what to generate").choices(KINDS))
    .requiredOption("--out <dir>", "where to write (a folder; for text also a .tsv file)")
    .option("--count <n>", "shapes: sequences (8); depth: scenes (64); text: sentences per class (200)")
    .option("--size <n>", "shapes: frame side in pixels (201); depth: image side (64)")
    .option("--frames <n>", "shapes: frames per sequence (16)")
    .option("--seed <n>", "seed of everything random; the same seed writes the same bytes (0)")
    .addHelpText(
      "after",
      [
        "",
        "Examples:",
        "  tessera generate shapes --out data/shapes            # 8 × 16 frames, 201×201 gray",
        "  tessera generate depth --out data/depth --count 256  # images/0000.png + depths/0000.png (mm)",
        "  tessera generate text --out data/corpus.tsv          # label<TAB>sentence, 4 topics",
      ].join("\n"),
    )
    .action(async (kind: (typeof KINDS)[number], f: GenerateFlags) => {
      const count = intFlag("--count", f.count);
      const size = intFlag("--size", f.size);
      const frames = intFlag("--frames", f.frames);
      const seed = intFlag("--seed", f.seed, 0) ?? 0;
      const started = Date.now();
      const took = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;

      if (kind === "shapes") {
        if (size !== undefined && size < 8)
          throw new CliError(`--size must be ≥ 8 for shapes, got ${size}`, "e.g. --size 64");
        requireEmptyFolder(f.out);
        const sequences = count ?? 8;
        const n = frames ?? 16;
        const side = size ?? 201;
        const { files } = await generateShapesDataset(f.out, { sequences, frames: n, size: side, seed });
        io.out(
          `wrote ${files} frames (${sequences} sequences × ${n} frames, ${side}×${side} grayscale PNG, seed ${seed}) to ${f.out} in ${took()}`,
        );
        io.out(`  layout: ${join(f.out, "seq_000", "frame_000.png")} …`);
        io.out(
          `  train:  tessera train autoencoder --data ${f.out}, then tessera train autoencoder-lstm --data ${f.out} --init runs/autoencoder`,
        );
        return;
      }
      if (frames !== undefined)
        throw new CliError(`--frames applies to shapes only, not ${kind}`, "leave it out");

      if (kind === "depth") {
        if (size !== undefined && size < 4)
          throw new CliError(`--size must be ≥ 4 for depth, got ${size}`, "e.g. --size 64");
        requireEmptyFolder(f.out);
        const scenes = count ?? 64;
        const side = size ?? 64;
        const { files } = await generateDepthDataset(f.out, { count: scenes, size: side, seed });
        io.out(
          `wrote ${scenes} scenes (${files} files: ${side}×${side} RGB images and 16-bit depth in millimetres, 0 = sky/invalid, seed ${seed}) to ${f.out} in ${took()}`,
        );
        io.out(`  layout: ${join(f.out, "images", "0000.png")} + ${join(f.out, "depths", "0000.png")}`);
        io.out(`  train:  tessera train depth --data ${f.out}`);
        return;
      }

      if (size !== undefined)
        throw new CliError("--size applies to shapes and depth, not text", "leave it out");
      const file = isTextFile(f.out) ? f.out : join(f.out, "corpus.tsv");
      if (!isTextFile(f.out) && existsSync(f.out) && !statSync(f.out).isDirectory()) {
        throw new CliError(
          `${f.out} is a file without a .tsv or .txt extension`,
          "pass a folder, or a path ending in .tsv",
        );
      }
      const perClass = count ?? 200;
      const { sentences } = await generateTextCorpus(file, { perClass, seed });
      io.out(
        `wrote ${sentences} sentences (${perClass} per class: ${TEXT_CORPUS_CLASSES.join(", ")}; seed ${seed}) to ${file} in ${took()}`,
      );
      io.out(`  train:  tessera train text --data ${file}`);
    });
}

function isTextFile(path: string): boolean {
  const ext = extname(path).toLowerCase();
  return ext === ".tsv" || ext === ".txt";
}

/** Refuses a folder with files in it: new files mixed with an older dataset's would be a different dataset. */
function requireEmptyFolder(dir: string): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new CliError(`--out ${dir} is a file`, "pass a folder path");
  if (readdirSync(dir).length > 0) {
    throw new CliError(
      `--out ${dir} is not empty; files from an earlier dataset would mix with the new one`,
      "choose a new folder, or delete this one first",
    );
  }
}
