import fc from "fast-check";
import { encode as fastPngEncode } from "fast-png";
import { describe, expect, it } from "vitest";
import { DataError } from "../src/errors.js";
import { decodePng, encodePng } from "../src/png.js";
import type { DecodedImage } from "../src/types.js";

function image(
  width: number,
  height: number,
  channels: 1 | 2 | 3 | 4,
  bitDepth: 8 | 16,
  seed: number,
): DecodedImage {
  const n = width * height * channels;
  const data = bitDepth === 16 ? new Uint16Array(n) : new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = bitDepth === 16 ? s >>> 16 : s >>> 24;
  }
  return { width, height, channels, bitDepth, data };
}

/** Asserts `f` returns or throws a DataError: anything else (TypeError, RangeError, a hang) is a bug. */
function decodesOrDataError(bytes: Uint8Array): void {
  try {
    const img = decodePng(bytes, "fuzz.png");
    expect(img.data.length).toBe(img.width * img.height * img.channels);
  } catch (e) {
    if (!(e instanceof DataError)) throw e;
    expect(e.message.startsWith("fuzz.png: ")).toBe(true);
  }
}

describe("png", () => {
  it("round-trips every colour type at 8 and 16 bits for random sizes", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 17 }),
        fc.integer({ min: 1, max: 17 }),
        fc.constantFrom(1 as const, 2 as const, 3 as const, 4 as const),
        fc.constantFrom(8 as const, 16 as const),
        fc.integer(),
        (w, h, c, d, seed) => {
          const img = image(w, h, c, d, seed);
          const back = decodePng(encodePng(img));
          expect(back).toEqual(img);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("expands a palette to RGB, and to RGBA when the palette has transparency", () => {
    const palette = [
      [255, 0, 0],
      [0, 255, 0],
      [0, 0, 255],
    ];
    const idx = new Uint8Array([0, 1, 2, 1]);
    const rgb = decodePng(fastPngEncode({ width: 2, height: 2, data: idx, depth: 8, channels: 1, palette }));
    expect(rgb.channels).toBe(3);
    expect(Array.from(rgb.data)).toEqual([255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 255, 0]);
    const rgba = decodePng(
      // fast-png writes a tRNS chunk from 4-entry palette colours.
      fastPngEncode({
        width: 2,
        height: 2,
        data: idx,
        depth: 8,
        channels: 1,
        palette: [
          [255, 0, 0, 0],
          [0, 255, 0, 128],
          [0, 0, 255, 255],
        ],
      }),
    );
    expect(rgba.channels).toBe(4);
    expect(Array.from(rgba.data.subarray(0, 8))).toEqual([255, 0, 0, 0, 0, 255, 0, 128]);
  });

  it("widens 1-, 2- and 4-bit gray to 8 bits with PNG's scaling (top code → 255)", () => {
    // 3 pixels at 2 bits: codes 0, 1, 3 packed into one byte 00 01 11 00.
    const png = fastPngEncode({
      width: 3,
      height: 1,
      data: new Uint8Array([0b00011100]),
      depth: 2,
      channels: 1,
    });
    const img = decodePng(png);
    expect(img).toMatchObject({ width: 3, height: 1, channels: 1, bitDepth: 8 });
    expect(Array.from(img.data)).toEqual([0, 85, 255]);
    const one = decodePng(
      fastPngEncode({
        width: 9,
        height: 1,
        data: new Uint8Array([0b10000001, 0b10000000]),
        depth: 1,
        channels: 1,
      }),
    );
    expect(Array.from(one.data)).toEqual([255, 0, 0, 0, 0, 0, 0, 255, 255]);
  });

  it("says 'not a PNG file' for other bytes, naming the file", () => {
    expect(() => decodePng(new Uint8Array([1, 2, 3]), "x.png")).toThrow(
      /x\.png: not a PNG file \(bad signature\)/,
    );
  });

  it("reports truncation and CRC damage as a DataError naming the file", () => {
    const png = encodePng(image(8, 8, 3, 8, 1));
    expect(() => decodePng(png.subarray(0, png.length - 20), "cut.png")).toThrow(
      /cut\.png: truncated or corrupt PNG/,
    );
    const flipped = png.slice();
    flipped[45] = flipped[45]! ^ 0x10; // inside IDAT: the chunk CRC no longer matches
    expect(() => decodePng(flipped, "flip.png")).toThrow(DataError);
  });

  it("refuses a header that claims more pixels than the limit before allocating", () => {
    const png = encodePng(image(2, 2, 1, 8, 1));
    const big = png.slice();
    new DataView(big.buffer).setUint32(16, 100000);
    new DataView(big.buffer).setUint32(20, 100000);
    expect(() => decodePng(big, "huge.png")).toThrow(/huge\.png: PNG header claims 100000×100000/);
  });

  it("never crashes on random bytes, truncations or bit flips of a valid file", () => {
    const valid = encodePng(image(6, 5, 4, 16, 7));
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => decodesOrDataError(b)),
      { numRuns: 200 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: valid.length }), (n) => decodesOrDataError(valid.subarray(0, n))),
      { numRuns: 200 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: valid.length * 8 - 1 }), (bit) => {
        const b = valid.slice();
        b[bit >> 3] = b[bit >> 3]! ^ (1 << (bit & 7));
        decodesOrDataError(b);
      }),
      { numRuns: 400 },
    );
  });

  it("encodePng rejects data that does not match the declared shape or depth", () => {
    expect(() =>
      encodePng({ width: 2, height: 2, channels: 3, bitDepth: 8, data: new Uint8Array(5) }),
    ).toThrow(/2×2×3 needs 12 samples, data has 5/);
    expect(() =>
      encodePng({ width: 1, height: 1, channels: 1, bitDepth: 16, data: new Uint8Array(1) }),
    ).toThrow(/16-bit image needs Uint16Array/);
  });
});
