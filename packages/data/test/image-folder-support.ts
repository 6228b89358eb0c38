/**
 * Builds small image folders for the folder-dataset tests (image-folder-*, depth-folder-*,
 * frame-sequence-*): temp dirs under os.tmpdir(), PNGs written with the package's own encoder, and
 * the broken files a user meets (a truncated PNG, text named .png).
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { encodePng } from "../src/png.js";
import type { DecodedImage } from "../src/types.js";

/** A fresh temp folder and a function that removes it. */
export async function tempFolder(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `tessera-${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** An 8-bit image whose pixel values are `fill(x, y, c)`. */
export function image(
  width: number,
  height: number,
  channels: 1 | 3,
  fill: (x: number, y: number, c: number) => number,
): DecodedImage {
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) data[(y * width + x) * channels + c] = fill(x, y, c);
    }
  }
  return { width, height, channels, bitDepth: 8, data };
}

/** A 16-bit gray depth map whose values are `fill(x, y)` (millimetres, say). */
export function depth16(width: number, height: number, fill: (x: number, y: number) => number): DecodedImage {
  const data = new Uint16Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = fill(x, y);
  return { width, height, channels: 1, bitDepth: 16, data };
}

/** Writes `img` as a PNG at `path`, creating folders. */
export async function writePng(path: string, img: DecodedImage): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, encodePng(img));
}

/** A valid PNG cut in half: its IDAT data ends early. */
export async function writeTruncatedPng(path: string, img: DecodedImage): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const bytes = encodePng(img);
  await writeFile(path, bytes.subarray(0, Math.floor(bytes.length / 2)));
}

/** A text file with an image's name. */
export async function writeTextAsPng(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, "this is not an image\n");
}
