import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import jpeg from "jpeg-js";
import { describe, expect, it } from "vitest";
import { DataError } from "../src/errors.js";
import {
  decodeImage,
  readImage,
  readImageSync,
  toDecodedImage,
  toFloatImage,
  writeImage,
} from "../src/image.js";
import { encodePng } from "../src/png.js";
import type { DecodedImage, FloatImage } from "../src/types.js";

const tmp = (): string => mkdtempSync(join(tmpdir(), "image-io-"));

describe("image", () => {
  it("sniffs PNG and JPEG by magic bytes, not by name", () => {
    const png = encodePng({ width: 2, height: 1, channels: 1, bitDepth: 8, data: new Uint8Array([3, 4]) });
    expect(decodeImage(png, "really-a-png.jpg").data).toEqual(new Uint8Array([3, 4]));
    const jpg = new Uint8Array(
      jpeg.encode({ width: 8, height: 8, data: new Uint8Array(256).fill(200) }, 90).data,
    );
    expect(decodeImage(jpg, "really-a-jpeg.png")).toMatchObject({ width: 8, height: 8, channels: 3 });
  });

  it("says which file is neither PNG nor JPEG and how it starts", () => {
    expect(() => decodeImage(new TextEncoder().encode("GIF89a..."), "a.gif")).toThrow(
      /a\.gif: not a PNG or JPEG file \(starts with 47 49 46 38\)/,
    );
    expect(() => decodeImage(new Uint8Array(0), "empty.png")).toThrow(/the file is empty/);
  });

  it("toFloatImage → toDecodedImage is lossless for 8- and 16-bit images of every channel count", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 9 }),
        fc.constantFrom(1 as const, 2 as const, 3 as const, 4 as const),
        fc.constantFrom(8 as const, 16 as const),
        fc.integer(),
        (w, h, c, d, seed) => {
          const n = w * h * c;
          const data = d === 16 ? new Uint16Array(n) : new Uint8Array(n);
          let s = seed;
          for (let i = 0; i < n; i++) data[i] = (s = (Math.imul(s, 48271) + 11) | 0) >>> (d === 16 ? 16 : 24);
          const img: DecodedImage = { width: w, height: h, channels: c, bitDepth: d, data };
          const f = toFloatImage(img, { alpha: "keep" });
          expect(f.channels).toBe(c);
          expect(toDecodedImage(f, d)).toEqual(img);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("toFloatImage is CHW in [0,1], drops alpha by default and converts gray↔RGB with ITU-R 601 luma", () => {
    const rgba: DecodedImage = {
      width: 2,
      height: 1,
      channels: 4,
      bitDepth: 8,
      data: new Uint8Array([255, 0, 0, 9, 0, 0, 255, 9]),
    };
    const f = toFloatImage(rgba);
    expect(f.channels).toBe(3);
    expect(Array.from(f.data)).toEqual([1, 0, 0, 0, 0, 1]);
    const g = toFloatImage(rgba, { channels: 1 });
    expect(g.data[0]).toBeCloseTo(0.299, 6);
    expect(g.data[1]).toBeCloseTo(0.114, 6);
    const gray16: DecodedImage = {
      width: 1,
      height: 1,
      channels: 1,
      bitDepth: 16,
      data: new Uint16Array([65535]),
    };
    expect(Array.from(toFloatImage(gray16, { channels: 3 }).data)).toEqual([1, 1, 1]);
  });

  it("toDecodedImage clamps to [0,1], sends NaN to 0 and rounds", () => {
    const f: FloatImage = {
      channels: 1,
      height: 1,
      width: 5,
      data: new Float32Array([-1, Number.NaN, 0.5, 0.999, 7]),
    };
    expect(Array.from(toDecodedImage(f).data)).toEqual([0, 0, 128, 255, 255]);
    expect(Array.from(toDecodedImage(f, 16).data)).toEqual([0, 0, 32768, 65469, 65535]);
  });

  it("writeImage writes a PNG that reads back, atomically, leaving no temp file", async () => {
    const dir = tmp();
    const f: FloatImage = {
      channels: 3,
      height: 2,
      width: 3,
      data: new Float32Array(18).map((_, i) => i / 17),
    };
    const path = join(dir, "sub", "out.png");
    await writeImage(path, f, { bitDepth: 16 });
    const back = await readImage(path);
    expect(back).toMatchObject({ width: 3, height: 2, channels: 3, bitDepth: 16 });
    expect(toFloatImage(back).data).toEqual(toFloatImage(toDecodedImage(f, 16)).data);
    const img8: DecodedImage = { width: 1, height: 1, channels: 1, bitDepth: 8, data: new Uint8Array([200]) };
    await writeImage(path, img8); // overwrites in place
    expect(readImageSync(path).data).toEqual(new Uint8Array([200]));
    await writeImage(path, img8, { bitDepth: 16 });
    expect(readImageSync(path).data).toEqual(new Uint16Array([200 * 257]));
    expect(readdirSync(join(dir, "sub"))).toEqual(["out.png"]);
  });

  it("writeImage removes its temp file and keeps the old file when the rename fails", async () => {
    const dir = tmp();
    const target = join(dir, "is-a-dir.png");
    // A non-empty folder at the target path makes rename fail after the temp file is written.
    await writeImage(join(target, "inside.png"), {
      width: 1,
      height: 1,
      channels: 1,
      bitDepth: 8,
      data: new Uint8Array([1]),
    });
    await expect(
      writeImage(target, { width: 1, height: 1, channels: 1, bitDepth: 8, data: new Uint8Array([1]) }),
    ).rejects.toThrow(DataError);
    expect(readdirSync(dir)).toEqual(["is-a-dir.png"]);
  });

  it("readImage names a missing or corrupt file", async () => {
    const dir = tmp();
    await expect(readImage(join(dir, "missing.png"))).rejects.toThrow(/missing\.png: cannot read the image/);
    const bad = join(dir, "bad.png");
    const png = encodePng({ width: 4, height: 4, channels: 3, bitDepth: 8, data: new Uint8Array(48) });
    writeFileSync(bad, png.subarray(0, 40));
    expect(() => readImageSync(bad)).toThrow(
      new RegExp(`${bad.replace(/[.\\/]/g, "\\$&")}: truncated or corrupt PNG`),
    );
    expect(readFileSync(bad).length).toBe(40);
  });
});
