import { readFileSync } from "node:fs";
import fc from "fast-check";
import jpeg from "jpeg-js";
import { describe, expect, it } from "vitest";
import { DataError } from "../src/errors.js";
import { decodeJpeg } from "../src/jpeg.js";

/** A smooth RGBA test card (gradients + a soft disc): JPEG's error on it stays small and local. */
function card(width: number, height: number, gray: boolean): Uint8Array {
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      const d = Math.hypot(x - width / 2, y - height / 2) / (width / 2);
      const r = Math.round((255 * x) / (width - 1));
      const g = Math.round((255 * y) / (height - 1));
      const b = Math.round(255 * Math.max(0, 1 - d));
      rgba[o] = gray ? b : r;
      rgba[o + 1] = gray ? b : g;
      rgba[o + 2] = b;
      rgba[o + 3] = 255;
    }
  }
  return rgba;
}

function maxAbsDiffRgb(decoded: Uint8Array, channels: number, rgba: Uint8Array): number {
  let worst = 0;
  const n = rgba.length / 4;
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < channels; c++)
      worst = Math.max(worst, Math.abs(decoded[p * channels + c]! - rgba[p * 4 + c]!));
  }
  return worst;
}

const W = 48;
const H = 32;

describe("jpeg", () => {
  it("decodes a quality-100 colour JPEG to RGB within 6 levels of the encoded pixels", () => {
    const rgba = card(W, H, false);
    const bytes = new Uint8Array(jpeg.encode({ width: W, height: H, data: rgba }, 100).data);
    const img = decodeJpeg(bytes, "card.jpg");
    expect(img).toMatchObject({ width: W, height: H, channels: 3, bitDepth: 8 });
    // At quality 100 every quantiser step is 1, so the loss is the 8-bit DCT coefficient rounding plus
    // the RGB→YCbCr→RGB round trip (each ≤ ~1–2 levels per stage on smooth content); 6 levels is that
    // budget with room, while a wrong channel order or a half-decoded stream misses by ~100+.
    expect(maxAbsDiffRgb(img.data as Uint8Array, 3, rgba)).toBeLessThanOrEqual(6);
  });

  describe("agrees with libjpeg (PIL) on files libjpeg wrote", () => {
    // Fixture from scripts/make-codec-fixtures.py: JPEG bytes and the pixels libjpeg decodes them to.
    const fixture = JSON.parse(
      readFileSync(new URL("./fixtures/codecs/codecs.json", import.meta.url), "utf8"),
    ) as {
      jpeg: {
        name: string;
        width: number;
        height: number;
        channels: number;
        base64: string;
        libjpeg: number[];
      }[];
    };
    // Full-resolution chroma (gray, 4:4:4, progressive 4:4:4): the decoders differ only in their IDCT
    // (libjpeg's integer islow vs jpeg-js's), i.e. rounding, so ≤ 2 levels. 4:2:0: libjpeg upsamples
    // chroma with a triangle filter ("fancy upsampling"), jpeg-js replicates samples, which moves
    // colour edges by up to ~15 levels; the mean stays small (≤ 4), a wrong decode is off by far more.
    const bounds: Record<string, { max: number; mean: number }> = {
      gray: { max: 2, mean: 0.5 },
      rgb444: { max: 2, mean: 1 },
      progressive: { max: 2, mean: 1 },
      rgb420: { max: 20, mean: 4 },
    };
    for (const c of fixture.jpeg) {
      it(`${c.name}: ${c.channels} channel(s), pixels within max ${bounds[c.name]!.max} / mean ${bounds[c.name]!.mean}`, () => {
        const img = decodeJpeg(new Uint8Array(Buffer.from(c.base64, "base64")), `${c.name}.jpg`);
        expect(img).toMatchObject({ width: c.width, height: c.height, channels: c.channels, bitDepth: 8 });
        let worst = 0;
        let sum = 0;
        for (let i = 0; i < c.libjpeg.length; i++) {
          const d = Math.abs(img.data[i]! - c.libjpeg[i]!);
          worst = Math.max(worst, d);
          sum += d;
        }
        expect(worst).toBeLessThanOrEqual(bounds[c.name]!.max);
        expect(sum / c.libjpeg.length).toBeLessThanOrEqual(bounds[c.name]!.mean);
      });
    }
  });

  it("says 'not a JPEG file' for other bytes, naming the file", () => {
    expect(() => decodeJpeg(new Uint8Array([0x89, 0x50, 0x4e, 0x47]), "a.jpg")).toThrow(
      /a\.jpg: not a JPEG file/,
    );
  });

  it("reports a stream cut inside its headers as a DataError naming the file", () => {
    const bytes = new Uint8Array(jpeg.encode({ width: W, height: H, data: card(W, H, false) }, 90).data);
    expect(() => decodeJpeg(bytes.subarray(0, 100), "cut.jpg")).toThrow(
      /cut\.jpg: truncated or corrupt JPEG/,
    );
  });

  it("never crashes on random bytes, truncations or bit flips of a valid file", () => {
    const valid = new Uint8Array(jpeg.encode({ width: 16, height: 16, data: card(16, 16, false) }, 75).data);
    const check = (b: Uint8Array): void => {
      try {
        const img = decodeJpeg(b, "fuzz.jpg");
        expect(img.data.length).toBe(img.width * img.height * img.channels);
      } catch (e) {
        if (!(e instanceof DataError)) throw e;
        expect(e.path).toBe("fuzz.jpg");
      }
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (tail) =>
        check(new Uint8Array([0xff, 0xd8, 0xff, ...tail])),
      ),
      { numRuns: 200 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: valid.length }), (n) => check(valid.subarray(0, n))),
      { numRuns: 200 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: valid.length * 8 - 1 }), (bit) => {
        const b = valid.slice();
        b[bit >> 3] = b[bit >> 3]! ^ (1 << (bit & 7));
        check(b);
      }),
      { numRuns: 400 },
    );
  });
});
