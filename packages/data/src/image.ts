/**
 * Image files in and out: sniff the format, decode to a `DecodedImage` (HWC, 8/16-bit), convert to
 * the `FloatImage` (CHW, float32 in [0, 1]) that transforms and tensors use, and back; write PNGs
 * atomically so an interrupted run never leaves half a file.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { DataError } from "./errors.js";
import { decodeJpeg } from "./jpeg.js";
import { decodePng, encodePng } from "./png.js";
import type { DecodedImage, FloatImage } from "./types.js";

/** ITU-R BT.601 luma weights, the ones PIL's "L" mode and torchvision's `rgb_to_grayscale` use. */
const LUMA_R = 0.299;
const LUMA_G = 0.587;
const LUMA_B = 0.114;

/**
 * Decodes PNG or JPEG bytes, chosen by the file's magic bytes (not its name). Anything else is a
 * `DataError` naming `path`.
 *
 * @example
 * ```ts
 * import { decodeImage } from "@tessera/data";
 * import { readFileSync } from "node:fs";
 * const img = decodeImage(readFileSync("cat.jpg"), "cat.jpg");
 * ```
 */
export function decodeImage(bytes: Uint8Array, path?: string): DecodedImage {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
    return decodePng(bytes, path);
  }
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    return decodeJpeg(bytes, path);
  }
  const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
  throw new DataError(
    `not a PNG or JPEG file (starts with ${head || "nothing: the file is empty"}); convert it to PNG or JPEG`,
    path,
  );
}

/**
 * Reads and decodes a PNG or JPEG file.
 *
 * @example
 * ```ts
 * import { readImage, toFloatImage } from "@tessera/data";
 * const img = toFloatImage(await readImage("digit.png"), { channels: 1 });
 * ```
 */
export async function readImage(path: string): Promise<DecodedImage> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new DataError(`cannot read the image (${(e as Error).message})`, path, { cause: e });
  }
  return decodeImage(bytes, path);
}

/**
 * Reads and decodes a PNG or JPEG file synchronously.
 *
 * @example
 * ```ts
 * import { readImageSync } from "@tessera/data";
 * const { width, height } = readImageSync("digit.png");
 * ```
 */
export function readImageSync(path: string): DecodedImage {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new DataError(`cannot read the image (${(e as Error).message})`, path, { cause: e });
  }
  return decodeImage(bytes, path);
}

/**
 * Writes an image as PNG, atomically: the bytes go to `<path>.tmp-<pid>-<random>`, are fsynced, then
 * renamed over `path`, so a reader sees the old file or the new one, never a partial one. Missing
 * parent folders are created. A `FloatImage` is clamped to [0, 1] and written at `bitDepth` (8 by
 * default); a `DecodedImage` keeps its depth unless `bitDepth` asks for another.
 *
 * @example
 * ```ts
 * import { writeImage } from "@tessera/data";
 * await writeImage("out/gray.png", { channels: 1, height: 2, width: 2, data: new Float32Array([0, 0.5, 0.5, 1]) });
 * ```
 */
export async function writeImage(
  path: string,
  img: DecodedImage | FloatImage,
  opts: { bitDepth?: 8 | 16 } = {},
): Promise<void> {
  const decoded = isFloatImage(img)
    ? toDecodedImage(img, opts.bitDepth ?? 8)
    : withBitDepth(img, opts.bitDepth);
  const bytes = encodePng(decoded);
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`;
  try {
    const fh = await open(tmp, "w");
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new DataError(`cannot write the image (${(e as Error).message})`, path, { cause: e });
  }
}

/**
 * Converts a decoded image to CHW float32 in [0, 1] (÷255 or ÷65535).
 * `channels` converts gray↔RGB (gray is replicated; RGB→gray uses ITU-R 601 luma
 * 0.299R + 0.587G + 0.114B); alpha is dropped unless `alpha: "keep"`, which appends it as the last plane.
 *
 * @example
 * ```ts
 * import { toFloatImage } from "@tessera/data";
 * const f = toFloatImage({ width: 1, height: 1, channels: 3, bitDepth: 8, data: new Uint8Array([255, 0, 0]) }, { channels: 1 });
 * f.data[0]; // 0.299
 * ```
 */
export function toFloatImage(
  img: DecodedImage,
  opts: { channels?: 1 | 3; alpha?: "drop" | "keep" } = {},
): FloatImage {
  const { width, height, channels: cin, data } = img;
  const hasAlpha = cin === 2 || cin === 4;
  const colourIn = hasAlpha ? cin - 1 : cin;
  const colourOut = opts.channels ?? colourIn;
  if (colourOut !== 1 && colourOut !== 3) {
    throw new RangeError(`toFloatImage: channels must be 1 or 3, got ${String(opts.channels)}`);
  }
  const keepAlpha = hasAlpha && opts.alpha === "keep";
  const cout = colourOut + (keepAlpha ? 1 : 0);
  const plane = width * height;
  if (data.length !== plane * cin) {
    throw new RangeError(
      `toFloatImage: ${width}×${height}×${cin} needs ${plane * cin} samples, data has ${data.length}`,
    );
  }
  const inv = 1 / (img.bitDepth === 16 ? 65535 : 255);
  const out = new Float32Array(cout * plane);
  for (let p = 0; p < plane; p++) {
    const s = p * cin;
    if (colourIn === colourOut) {
      for (let c = 0; c < colourOut; c++) out[c * plane + p] = data[s + c]! * inv;
    } else if (colourOut === 3) {
      const g = data[s]! * inv;
      out[p] = g;
      out[plane + p] = g;
      out[2 * plane + p] = g;
    } else {
      out[p] = (LUMA_R * data[s]! + LUMA_G * data[s + 1]! + LUMA_B * data[s + 2]!) * inv;
    }
    if (keepAlpha) out[colourOut * plane + p] = data[s + cin - 1]! * inv;
  }
  return { channels: cout, height, width, data: out };
}

/**
 * Converts a CHW float image back to an HWC 8- or 16-bit image: values are clamped to [0, 1] (NaN
 * becomes 0) and rounded to the nearest code. 1 to 4 channels (gray, gray+alpha, RGB, RGBA).
 *
 * @example
 * ```ts
 * import { toDecodedImage } from "@tessera/data";
 * toDecodedImage({ channels: 1, height: 1, width: 2, data: new Float32Array([0.5, 2]) }).data; // [128, 255]
 * ```
 */
export function toDecodedImage(img: FloatImage, bitDepth: 8 | 16 = 8): DecodedImage {
  const { channels, height, width, data } = img;
  if (channels !== 1 && channels !== 2 && channels !== 3 && channels !== 4) {
    throw new RangeError(`toDecodedImage: an image file holds 1 to 4 channels, got ${channels}`);
  }
  if (bitDepth !== 8 && bitDepth !== 16)
    throw new RangeError(`toDecodedImage: bitDepth must be 8 or 16, got ${bitDepth}`);
  const plane = width * height;
  if (data.length !== plane * channels) {
    throw new RangeError(
      `toDecodedImage: ${channels}×${height}×${width} needs ${plane * channels} values, data has ${data.length}`,
    );
  }
  const max = bitDepth === 16 ? 65535 : 255;
  const out = bitDepth === 16 ? new Uint16Array(plane * channels) : new Uint8Array(plane * channels);
  for (let c = 0; c < channels; c++) {
    for (let p = 0; p < plane; p++) {
      const v = data[c * plane + p]!;
      // `v > 0` is false for NaN, so NaN lands on 0 with the negatives.
      out[p * channels + c] = v > 0 ? (v < 1 ? Math.round(v * max) : max) : 0;
    }
  }
  return { width, height, channels, bitDepth, data: out };
}

function isFloatImage(img: DecodedImage | FloatImage): img is FloatImage {
  return img.data instanceof Float32Array;
}

function withBitDepth(img: DecodedImage, bitDepth: 8 | 16 | undefined): DecodedImage {
  if (bitDepth === undefined || bitDepth === img.bitDepth) return img;
  const n = img.data.length;
  if (bitDepth === 16) {
    // 255·257 = 65535: the 8-bit code range maps onto the full 16-bit range.
    const out = new Uint16Array(n);
    for (let i = 0; i < n; i++) out[i] = img.data[i]! * 257;
    return { ...img, bitDepth: 16, data: out };
  }
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round(img.data[i]! / 257);
  return { ...img, bitDepth: 8, data: out };
}
