/**
 * PNG decode and encode through fast-png (pure TypeScript, no native build; reads and writes every
 * colour type at 8 and 16 bits). This file turns fast-png's output into a `DecodedImage` (1/2/4-bit
 * samples widened to 8 bits, palettes expanded to RGB or RGBA) and every failure into a `DataError`
 * naming the file.
 */
import { decode, encode, hasPngSignature } from "fast-png";
import { DataError } from "./errors.js";
import type { DecodedImage } from "./types.js";

/**
 * Largest image decoded, in pixels (16384²). A corrupt header can claim billions of pixels; the
 * limit turns that into an error instead of an out-of-memory crash.
 */
const MAX_PIXELS = 2 ** 28;

/**
 * Decodes PNG bytes: 1- to 16-bit gray, gray+alpha, RGB, RGBA and palette images (palettes become
 * RGB, or RGBA when the palette has transparency). 1/2/4-bit gray is scaled to 8 bits (value·255/(2^d−1)).
 * Bad bytes are a `DataError` naming `path`, never a crash; chunk CRCs are checked so a flipped bit is
 * caught rather than decoded into wrong pixels.
 *
 * @example
 * ```ts
 * import { decodePng, encodePng } from "@tessera/data";
 * const png = encodePng({ width: 2, height: 1, channels: 1, bitDepth: 8, data: new Uint8Array([0, 255]) });
 * decodePng(png, "tiny.png").data; // Uint8Array [0, 255]
 * ```
 */
export function decodePng(bytes: Uint8Array, path?: string): DecodedImage {
  if (!hasPngSignature(bytes)) throw new DataError("not a PNG file (bad signature)", path);
  checkHeaderSize(bytes, path);
  let png: ReturnType<typeof decode>;
  try {
    png = decode(bytes, { checkCrc: true });
  } catch (e) {
    // fast-png reads past the end through a DataView; say "truncated" rather than quote that.
    const why = /outside the bounds/.test(message(e))
      ? `the file ends before its IEND chunk (${bytes.length} bytes)`
      : message(e);
    throw new DataError(`truncated or corrupt PNG: ${why}; re-export or re-download it`, path, { cause: e });
  }
  const { width, height, depth, channels } = png;
  // RGB images may carry a suggested-palette PLTE chunk; only one-channel images are indexed.
  if (png.palette !== undefined && channels === 1) return expandPalette(png, path);
  if (channels !== 1 && channels !== 2 && channels !== 3 && channels !== 4) {
    throw new DataError(`truncated or corrupt PNG: unexpected channel count ${channels}`, path);
  }
  const count = width * height * channels;
  if (depth === 16 || depth === 8) {
    if (png.data.length !== count) {
      throw new DataError(
        `truncated or corrupt PNG: ${png.data.length} samples decoded, expected ${count}`,
        path,
      );
    }
    const data = depth === 16 ? (png.data as Uint16Array) : toUint8(png.data);
    return { width, height, channels, bitDepth: depth, data };
  }
  // Sub-byte gray: rows are packed and padded to a byte; PNG's scaling rule maps the top code to 255.
  const indices = unpackRows(png.data as Uint8Array, width, height, depth, path);
  const scale = 255 / ((1 << depth) - 1);
  for (let i = 0; i < indices.length; i++) indices[i] = Math.round(indices[i]! * scale);
  return { width, height, channels: 1, bitDepth: 8, data: indices };
}

/**
 * Encodes a `DecodedImage` as PNG (its colour type from `channels`, its bit depth from `bitDepth`).
 *
 * @example
 * ```ts
 * import { encodePng } from "@tessera/data";
 * import { writeFileSync } from "node:fs";
 * const depth = new Uint16Array(64 * 64).fill(1500); // millimetres
 * writeFileSync("depth.png", encodePng({ width: 64, height: 64, channels: 1, bitDepth: 16, data: depth }));
 * ```
 */
export function encodePng(img: DecodedImage): Uint8Array {
  const { width, height, channels, bitDepth, data } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`encodePng: width and height must be positive integers, got ${width}×${height}`);
  }
  if (channels !== 1 && channels !== 2 && channels !== 3 && channels !== 4) {
    throw new RangeError(`encodePng: channels must be 1, 2, 3 or 4, got ${channels}`);
  }
  if (bitDepth !== 8 && bitDepth !== 16)
    throw new RangeError(`encodePng: bitDepth must be 8 or 16, got ${bitDepth}`);
  const want = bitDepth === 16 ? Uint16Array : Uint8Array;
  if (!(data instanceof want)) {
    throw new TypeError(
      `encodePng: a ${bitDepth}-bit image needs ${want.name} data, got ${data.constructor.name}`,
    );
  }
  const count = width * height * channels;
  if (data.length !== count) {
    throw new RangeError(
      `encodePng: ${width}×${height}×${channels} needs ${count} samples, data has ${data.length}`,
    );
  }
  return encode({ width, height, channels, depth: bitDepth, data });
}

/** Rejects header sizes past MAX_PIXELS before fast-png allocates for them. */
function checkHeaderSize(bytes: Uint8Array, path: string | undefined): void {
  // IHDR must be the first chunk: 8-byte signature, length, "IHDR", width, height.
  if (bytes.length < 24) return; // fast-png reports the truncation
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = view.getUint32(16, false);
  const height = view.getUint32(20, false);
  if (width * height > MAX_PIXELS) {
    throw new DataError(
      `PNG header claims ${width}×${height} pixels, more than the ${MAX_PIXELS}-pixel limit (corrupt file?)`,
      path,
    );
  }
}

function expandPalette(png: ReturnType<typeof decode>, path: string | undefined): DecodedImage {
  const { width, height, depth } = png;
  const palette = png.palette!;
  let channels: 3 | 4 = 3;
  for (let p = 0; p < palette.length; p++) if (palette[p]!.length === 4) channels = 4;
  // Flatten once so the pixel loop reads a typed array, not nested arrays.
  const flat = new Uint8Array(palette.length * channels);
  for (let p = 0; p < palette.length; p++) {
    const c = palette[p]!;
    flat[p * channels] = c[0]!;
    flat[p * channels + 1] = c[1]!;
    flat[p * channels + 2] = c[2]!;
    if (channels === 4) flat[p * channels + 3] = c.length === 4 ? c[3]! : 255;
  }
  const indices =
    depth === 8 ? toUint8(png.data) : unpackRows(png.data as Uint8Array, width, height, depth, path);
  if (indices.length !== width * height) {
    throw new DataError(
      `truncated or corrupt PNG: ${indices.length} pixels decoded, expected ${width * height}`,
      path,
    );
  }
  const out = new Uint8Array(width * height * channels);
  for (let i = 0; i < indices.length; i++) {
    const idx = indices[i]!;
    if (idx >= palette.length) {
      throw new DataError(
        `corrupt PNG: pixel ${i} uses palette index ${idx}, the palette has ${palette.length} colours`,
        path,
      );
    }
    for (let c = 0; c < channels; c++) out[i * channels + c] = flat[idx * channels + c]!;
  }
  return { width, height, channels, bitDepth: 8, data: out };
}

/** Unpacks 1/2/4-bit samples (one channel, rows padded to whole bytes) into one byte each. */
function unpackRows(
  packed: Uint8Array,
  width: number,
  height: number,
  depth: number,
  path: string | undefined,
): Uint8Array {
  const rowBytes = Math.ceil((width * depth) / 8);
  if (packed.length < rowBytes * height) {
    throw new DataError(
      `truncated or corrupt PNG: ${packed.length} bytes of ${depth}-bit samples, expected ${rowBytes * height}`,
      path,
    );
  }
  const out = new Uint8Array(width * height);
  const mask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    const row = y * rowBytes;
    for (let x = 0; x < width; x++) {
      const bit = x * depth;
      out[y * width + x] = (packed[row + (bit >> 3)]! >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return out;
}

function toUint8(data: Uint8Array | Uint8ClampedArray | Uint16Array): Uint8Array {
  if (data instanceof Uint8Array) return data;
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
