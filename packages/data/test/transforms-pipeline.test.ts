import { readFileSync } from "node:fs";
import "@tessera/backend-js";
import { dispose, memory, setBackend } from "@tessera/core";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { Rng } from "../src/rng.js";
import {
  centerCrop,
  compose,
  grayscale,
  IMAGENET_MEAN,
  IMAGENET_STD,
  normalize,
  randomCrop,
  randomHorizontalFlip,
  randomResizedCrop,
  randomResizedCropBox,
  resize,
  type Transform,
  toTensor,
  transformFromSpec,
} from "../src/transforms.js";
import type { FloatImage } from "../src/types.js";

beforeAll(() => {
  setBackend("js");
});

function randomImage(channels: number, height: number, width: number, seed: number): FloatImage {
  const rng = new Rng(seed);
  const data = new Float32Array(channels * height * width);
  for (let i = 0; i < data.length; i++) data[i] = rng.random();
  return { channels, height, width, data };
}

/** Pixel (c, y, x) of a CHW image. */
const at = (img: FloatImage, c: number, y: number, x: number): number =>
  img.data[(c * img.height + y) * img.width + x]!;

const everyTransform = (): Transform[] => [
  normalize({ mean: IMAGENET_MEAN, std: IMAGENET_STD }),
  resize(20),
  resize([9, 31]),
  centerCrop(12),
  centerCrop([40, 8]),
  randomCrop(16),
  randomCrop([16, 12], { padding: 3 }),
  randomCrop(18, { padding: [2, 1] }),
  randomHorizontalFlip(),
  randomHorizontalFlip(0.25),
  randomResizedCrop(14),
  randomResizedCrop([10, 12], { scale: [0.5, 1], ratio: [0.5, 2] }),
  grayscale(),
  grayscale({ channels: 3 }),
  compose([
    randomResizedCrop(16),
    randomHorizontalFlip(),
    normalize({ mean: [0.5, 0.5, 0.5], std: [0.2, 0.2, 0.2] }),
  ]),
  compose([grayscale(), compose([centerCrop(10), resize([5, 7])])]),
];

describe("transforms", () => {
  it("every transform's spec survives JSON and transformFromSpec, giving an equal pipeline", () => {
    const img = randomImage(3, 17, 23, 1);
    for (const t of everyTransform()) {
      const rebuilt = transformFromSpec(JSON.parse(JSON.stringify(t.spec)));
      expect(rebuilt.spec, t.spec.name).toEqual(t.spec);
      for (const seed of [0, 1, 2, 3]) {
        expect(rebuilt.apply(img, new Rng(seed)), `${JSON.stringify(t.spec)} seed ${seed}`).toEqual(
          t.apply(img, new Rng(seed)),
        );
      }
    }
  });

  it("random transforms draw only from the given rng: same seed, same output; other seeds vary", () => {
    const img = randomImage(3, 17, 23, 2);
    for (const t of everyTransform().filter((t) => /random|compose/.test(JSON.stringify(t.spec)))) {
      expect(t.apply(img, new Rng(42))).toEqual(t.apply(img, new Rng(42)));
      const outs = new Set<string>();
      for (let s = 0; s < 8; s++)
        outs.add(Buffer.from(t.apply(img, new Rng(s)).data.buffer).toString("base64"));
      if (JSON.stringify(t.spec).includes("random"))
        expect(outs.size, JSON.stringify(t.spec)).toBeGreaterThan(1);
    }
  });

  it("transformFromSpec names the unknown transform and lists the known ones", () => {
    expect(() => transformFromSpec({ name: "colorJitter" })).toThrow(
      /unknown transform "colorJitter"; known: normalize, resize/,
    );
  });

  it("resize matches torch.nn.functional.interpolate(bilinear, align_corners=False) within 1e-6", () => {
    const fixture = JSON.parse(
      readFileSync(new URL("./fixtures/codecs/codecs.json", import.meta.url), "utf8"),
    ) as {
      resize: {
        shape: [number, number, number];
        input: number[];
        cases: { size: [number, number]; output: number[] }[];
      };
    };
    const [c, h, w] = fixture.resize.shape;
    const img: FloatImage = {
      channels: c,
      height: h,
      width: w,
      data: new Float32Array(fixture.resize.input),
    };
    for (const { size, output } of fixture.resize.cases) {
      const out = resize(size).apply(img, new Rng(0));
      expect([out.channels, out.height, out.width]).toEqual([c, ...size]);
      // torch computes the taps and sums in float32, we in float64 then round to float32: on values in
      // [0, 1] the two differ by a few float32 ulps (~1e-7), so 1e-6 is tight yet above rounding noise.
      let worst = 0;
      for (let i = 0; i < output.length; i++) worst = Math.max(worst, Math.abs(out.data[i]! - output[i]!));
      expect(worst, `size ${size}`).toBeLessThanOrEqual(1e-6);
    }
  });

  it("resize(n) sets the shorter side to n and keeps the aspect ratio, like torchvision Resize(int)", () => {
    const out = resize(10).apply(randomImage(1, 20, 35, 3), new Rng(0));
    expect([out.height, out.width]).toEqual([10, 17]);
    const tall = resize(10).apply(randomImage(1, 35, 20, 3), new Rng(0));
    expect([tall.height, tall.width]).toEqual([17, 10]);
  });

  it("normalize errors on a channel-count mismatch, naming both counts", () => {
    expect(() =>
      normalize({ mean: IMAGENET_MEAN, std: IMAGENET_STD }).apply(randomImage(1, 4, 4, 0), new Rng(0)),
    ).toThrow(/normalize: the image has 1 channel\(s\) but mean\/std have 3/);
    expect(() => normalize({ mean: [0.5], std: [0.1, 0.2] })).toThrow(/mean has 1 values and std has 2/);
    const out = normalize({ mean: [0.5], std: [0.25] }).apply(
      { channels: 1, height: 1, width: 2, data: new Float32Array([0, 1]) },
      new Rng(0),
    );
    expect(Array.from(out.data)).toEqual([-2, 2]);
  });

  it("centerCrop uses torchvision's offsets (Python half-to-even rounding) and zero-pads small images", () => {
    const img = randomImage(1, 28, 29, 4);
    const out = centerCrop([25, 24]).apply(img, new Rng(0));
    // top = round(3/2) = 2, left = round(5/2) = 2 (half to even).
    expect(at(out, 0, 0, 0)).toBe(at(img, 0, 2, 2));
    const small = { channels: 1, height: 2, width: 2, data: new Float32Array([1, 2, 3, 4]) };
    // 2 → 5: torchvision pads ⌊3/2⌋ = 1 before and 2 after.
    expect(Array.from(centerCrop(5).apply(small, new Rng(0)).data)).toEqual([
      0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
  });

  it("randomCrop with padding reaches every offset, and each crop is a window of the padded image", () => {
    const img = randomImage(2, 6, 6, 5);
    const t = randomCrop(6, { padding: 1 });
    const seen = new Set<string>();
    for (let s = 0; s < 200; s++) {
      const out = t.apply(img, new Rng(s));
      // Find the offset by locating pixel (0,0)'s value.
      let found = "";
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          let ok = true;
          for (let y = 0; y < 6 && ok; y++) {
            for (let x = 0; x < 6 && ok; x++) {
              const sy = y + dy;
              const sx = x + dx;
              const want = sy < 0 || sy >= 6 || sx < 0 || sx >= 6 ? 0 : at(img, 1, sy, sx);
              ok = at(out, 1, y, x) === want;
            }
          }
          if (ok) found = `${dy},${dx}`;
        }
      }
      expect(found).not.toBe("");
      seen.add(found);
    }
    expect(seen.size).toBe(9);
  });

  it("randomHorizontalFlip mirrors with probability p and leaves the image otherwise", () => {
    const img = randomImage(3, 4, 5, 6);
    const flipped = randomHorizontalFlip(1).apply(img, new Rng(0));
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < 4; y++)
        for (let x = 0; x < 5; x++) expect(at(flipped, c, y, x)).toBe(at(img, c, y, 4 - x));
    expect(randomHorizontalFlip(0).apply(img, new Rng(0))).toEqual(img);
    let flips = 0;
    const t = randomHorizontalFlip(0.3);
    for (let s = 0; s < 2000; s++) if (t.apply(img, new Rng(s)) !== img) flips++;
    // Binomial(2000, 0.3): sd ≈ 20.5, so ±100 is ~5 sd.
    expect(Math.abs(flips - 600)).toBeLessThan(100);
  });

  it("randomResizedCropBox follows torchvision: area·scale, log-uniform ratio, 10 tries, then the centre fallback", () => {
    /** An Rng whose draws are scripted, to follow torchvision's get_params step by step. */
    class ScriptedRng extends Rng {
      calls: string[] = [];
      constructor(private readonly values: number[]) {
        super(0);
      }
      override random(): number {
        this.calls.push("random");
        const v = this.values.shift();
        if (v === undefined) throw new Error("ran out of scripted draws");
        return v;
      }
    }
    // First try fits: target area = 100·(0.08 + 0.92·0.5) = 54, ratio = exp(log(3/4) + log(16/9)·0.5) = 1
    // → w = h = round(√54) = 7; top = int(0.25·4) = 1, left = int(0.75·4) = 3.
    const ok = new ScriptedRng([0.5, 0.5, 0.25, 0.75]);
    expect(randomResizedCropBox(10, 10, [0.08, 1], [3 / 4, 4 / 3], ok)).toEqual({
      top: 1,
      left: 3,
      height: 7,
      width: 7,
    });
    expect(ok.calls.length).toBe(4);
    // Scale > 1 never fits: exactly 10 tries (20 draws), then the centre crop; a 10×40 image is wider
    // than ratio 4/3 allows, so h = 10, w = round(10·4/3) = 13, left = (40 − 13) // 2 = 13.
    const never = new ScriptedRng(new Array(20).fill(0.5));
    expect(randomResizedCropBox(10, 40, [2, 3], [3 / 4, 4 / 3], never)).toEqual({
      top: 0,
      left: 13,
      height: 10,
      width: 13,
    });
    expect(never.calls.length).toBe(20);
  });

  it("randomResizedCrop boxes stay inside the image with area and ratio in range", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 64 }),
        fc.integer(),
        (h, w, seed) => {
          const b = randomResizedCropBox(h, w, [0.08, 1], [3 / 4, 4 / 3], new Rng(seed));
          expect(b.top >= 0 && b.left >= 0 && b.top + b.height <= h && b.left + b.width <= w).toBe(true);
          expect(b.height >= 1 && b.width >= 1).toBe(true);
        },
      ),
    );
    const out = randomResizedCrop([12, 10]).apply(randomImage(3, 30, 20, 7), new Rng(9));
    expect([out.channels, out.height, out.width]).toEqual([3, 12, 10]);
  });

  it("grayscale uses ITU-R 601 luma and can repeat to 3 channels", () => {
    const rgb: FloatImage = { channels: 3, height: 1, width: 1, data: new Float32Array([1, 0.5, 0]) };
    const g = grayscale().apply(rgb, new Rng(0));
    expect(g.channels).toBe(1);
    expect(g.data[0]).toBeCloseTo(0.299 + 0.5 * 0.587, 6);
    expect(Array.from(grayscale({ channels: 3 }).apply(g, new Rng(0)).data)).toEqual([
      g.data[0],
      g.data[0],
      g.data[0],
    ]);
    expect(() => grayscale().apply(randomImage(4, 1, 1, 0), new Rng(0))).toThrow(
      /1- or 3-channel image, got 4/,
    );
  });

  it("toTensor makes [C,H,W] and [B,C,H,W] float32 tensors and names a mismatched image", () => {
    const start = memory().numTensors;
    const a = randomImage(3, 4, 5, 1);
    const b = randomImage(3, 4, 5, 2);
    const one = toTensor(a);
    const batch = toTensor([a, b]);
    expect(one.shape).toEqual([3, 4, 5]);
    expect(batch.shape).toEqual([2, 3, 4, 5]);
    expect(batch.dtype).toBe("float32");
    expect(Array.from(batch.dataSync()).slice(60)).toEqual(Array.from(b.data));
    dispose([one, batch]);
    expect(memory().numTensors).toBe(start);
    expect(() => toTensor([a, randomImage(3, 5, 4, 0)])).toThrow(
      /image 1 is \[3,5,4\], image 0 is \[3,4,5\]/,
    );
  });
});
