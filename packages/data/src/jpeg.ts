/**
 * JPEG decoding through jpeg-js (pure JavaScript, baseline and progressive, no native build). Gray
 * JPEGs come back with one channel, colour ones as RGB; every failure is a `DataError` naming the file.
 */
import jpeg from "jpeg-js";
import { DataError } from "./errors.js";
import type { DecodedImage } from "./types.js";

/** Refuse images past 256 megapixels / 1 GiB of decoder memory: a corrupt header must not exhaust RAM. */
const MAX_MEGAPIXELS = 256;
const MAX_MEMORY_MB = 1024;

/**
 * Decodes JPEG bytes into an 8-bit gray (1 channel) or RGB (3 channels) image. Bytes that are not a
 * JPEG, or a truncated or corrupt stream, are a `DataError` naming `path`.
 *
 * @example
 * ```ts
 * import { decodeJpeg } from "@tessera/data";
 * import { readFileSync } from "node:fs";
 * const img = decodeJpeg(readFileSync("photo.jpg"), "photo.jpg"); // { channels: 3, bitDepth: 8, … }
 * ```
 */
export function decodeJpeg(bytes: Uint8Array, path?: string): DecodedImage {
  if (bytes.length < 3 || bytes[0] !== 0xff || bytes[1] !== 0xd8 || bytes[2] !== 0xff) {
    throw new DataError("not a JPEG file (no SOI marker ff d8 ff)", path);
  }
  const components = frameComponents(bytes);
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      maxResolutionInMP: MAX_MEGAPIXELS,
      maxMemoryUsageInMB: MAX_MEMORY_MB,
    });
  } catch (e) {
    // jpeg-js throws plain strings for some corruptions, so the message is taken from either form.
    throw new DataError(`truncated or corrupt JPEG: ${e instanceof Error ? e.message : String(e)}`, path, {
      cause: e,
    });
  }
  const { width, height, data } = decoded;
  if (!(width >= 1 && height >= 1) || data.length !== width * height * 3) {
    throw new DataError(
      `truncated or corrupt JPEG: decoded ${width}×${height} with ${data.length} bytes`,
      path,
    );
  }
  if (components !== 1) return { width, height, channels: 3, bitDepth: 8, data };
  // jpeg-js replicates gray into R, G and B; keep one plane.
  const gray = new Uint8Array(width * height);
  for (let i = 0; i < gray.length; i++) gray[i] = data[i * 3]!;
  return { width, height, channels: 1, bitDepth: 8, data: gray };
}

/** The component count of the first start-of-frame segment (1 = gray), or 0 when none is found. */
function frameComponents(bytes: Uint8Array): number {
  let i = 2;
  while (i + 9 < bytes.length) {
    if (bytes[i] !== 0xff) return 0;
    const marker = bytes[i + 1]!;
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    const length = (bytes[i + 2]! << 8) | bytes[i + 3]!;
    // SOF0..SOF15 except DHT (c4), JPG (c8) and DAC (cc).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return bytes[i + 9]!;
    }
    if (marker === 0xda) return 0; // start of scan before any frame header: corrupt
    i += 2 + length;
  }
  return 0;
}
