import "@tessera/backend-js";
import { dispose, memory, setBackend, type Tensor, tensor } from "@tessera/core";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { cutmix, cutmixBox, mixup, mixupCutmix } from "../src/mixing.js";
import { Rng } from "../src/rng.js";

beforeAll(() => {
  setBackend("js");
});

const B = 5;
const C = 2;
const H = 6;
const W = 7;
const K = 4;

function batch(seed: number): { images: Tensor; labels: Tensor; x: Float32Array; y: Int32Array } {
  const rng = new Rng(seed);
  const x = new Float32Array(B * C * H * W);
  for (let i = 0; i < x.length; i++) x[i] = rng.random();
  const y = new Int32Array(B);
  for (let i = 0; i < B; i++) y[i] = rng.int(K);
  return { images: tensor(x, { shape: [B, C, H, W] }), labels: tensor(y, { shape: [B] }), x, y };
}

/** Expected label-smoothed target row for label pair (a, b) at weight lam. */
function expectedRow(a: number, b: number, lam: number, eps: number): number[] {
  const row = new Array<number>(K).fill(0);
  for (let k = 0; k < K; k++) {
    const ya = k === a ? 1 - eps + eps / K : eps / K;
    const yb = k === b ? 1 - eps + eps / K : eps / K;
    row[k] = lam * ya + (1 - lam) * yb;
  }
  return row;
}

function rowsSumToOne(t: Tensor): void {
  const v = t.dataSync() as Float32Array;
  for (let b = 0; b < B; b++) {
    let s = 0;
    for (let k = 0; k < K; k++) {
      expect(v[b * K + k]!).toBeGreaterThanOrEqual(0);
      s += v[b * K + k]!;
    }
    // float32 sums of K ≤ 4 terms in [0, 1]: a few ulps.
    expect(Math.abs(s - 1)).toBeLessThan(1e-6);
  }
}

describe("mixing", () => {
  it("mixup pairs sample i with B−1−i at λ ~ Beta(α, α) from the rng, targets likewise", () => {
    const { images, labels, x, y } = batch(1);
    const start = memory().numTensors;
    const out = mixup(images, labels, { alpha: 0.8, numClasses: K, rng: new Rng(3), labelSmoothing: 0.1 });
    expect(memory().numTensors).toBe(start + 2); // only the two results survive the tidy
    const lam = new Rng(3).beta(0.8);
    const got = out.images.dataSync() as Float32Array;
    const per = C * H * W;
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < per; i++) {
        const want = lam * x[b * per + i]! + (1 - lam) * x[(B - 1 - b) * per + i]!;
        // float32 mul/add of values in [0, 1]: ≤ a couple of ulps of 1.
        expect(Math.abs(got[b * per + i]! - want)).toBeLessThan(1e-6);
      }
    }
    const t = out.targets.dataSync() as Float32Array;
    expect(out.targets.shape).toEqual([B, K]);
    for (let b = 0; b < B; b++) {
      const row = expectedRow(y[b]!, y[B - 1 - b]!, lam, 0.1);
      for (let k = 0; k < K; k++) expect(Math.abs(t[b * K + k]! - row[k]!)).toBeLessThan(1e-6);
    }
    rowsSumToOne(out.targets);
    dispose([out.images, out.targets, images, labels]);
  });

  it("cutmix pastes a box exactly from the reversed batch and weights targets by the box's true area", () => {
    for (let seed = 0; seed < 20; seed++) {
      const { images, labels, x, y } = batch(seed);
      const out = cutmix(images, labels, { alpha: 1, numClasses: K, rng: new Rng(seed) });
      const r = new Rng(seed);
      const box = cutmixBox(H, W, r.beta(1), r);
      const got = out.images.dataSync() as Float32Array;
      let pasted = 0;
      for (let b = 0; b < B; b++) {
        for (let c = 0; c < C; c++) {
          for (let yy = 0; yy < H; yy++) {
            for (let xx = 0; xx < W; xx++) {
              const inBox = yy >= box.top && yy < box.bottom && xx >= box.left && xx < box.right;
              const src = inBox ? B - 1 - b : b;
              const off = (c * H + yy) * W + xx;
              expect(got[b * C * H * W + off]).toBe(x[src * C * H * W + off]);
              if (inBox && b === 0 && c === 0) pasted++;
            }
          }
        }
      }
      // Area correction: λ is the share of pixels that stayed, not the Beta draw.
      expect(box.lam).toBeCloseTo(1 - pasted / (H * W), 12);
      const t = out.targets.dataSync() as Float32Array;
      for (let b = 0; b < B; b++) {
        const row = expectedRow(y[b]!, y[B - 1 - b]!, box.lam, 0);
        for (let k = 0; k < K; k++) expect(Math.abs(t[b * K + k]! - row[k]!)).toBeLessThan(1e-6);
      }
      rowsSumToOne(out.targets);
      dispose([out.images, out.targets, images, labels]);
    }
  });

  it("cutmixBox follows timm's rand_bbox: ⌊H·√(1−λ)⌋ box centred uniformly, clipped at the borders", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer(),
        (h, w, lam, seed) => {
          const b = cutmixBox(h, w, lam, new Rng(seed));
          expect(0 <= b.top && b.top <= b.bottom && b.bottom <= h).toBe(true);
          expect(0 <= b.left && b.left <= b.right && b.right <= w).toBe(true);
          expect(b.bottom - b.top).toBeLessThanOrEqual(Math.trunc(h * Math.sqrt(1 - lam)));
          expect(b.lam).toBeGreaterThanOrEqual(lam - 1e-12);
          expect(b.lam).toBeLessThanOrEqual(1);
        },
      ),
    );
  });

  it("mixupCutmix: a fixed rng gives the same batch; switchProb and prob choose the mode", () => {
    const { images, labels, x } = batch(7);
    const opts = { mixupAlpha: 0.8, cutmixAlpha: 1, numClasses: K, labelSmoothing: 0.1 };
    const a = mixupCutmix(images, labels, { ...opts, rng: new Rng(11) });
    const b = mixupCutmix(images, labels, { ...opts, rng: new Rng(11) });
    expect(a.images.dataSync()).toEqual(b.images.dataSync());
    expect(a.targets.dataSync()).toEqual(b.targets.dataSync());
    rowsSumToOne(a.targets);

    // switchProb 1 → cutmix: every pixel is an exact copy of an input pixel.
    const cut = mixupCutmix(images, labels, { ...opts, switchProb: 1, rng: new Rng(5) });
    const inputs = new Set(x);
    for (const v of cut.images.dataSync() as Float32Array) expect(inputs.has(v)).toBe(true);
    // switchProb 0 → mixup: the same as mixup() after the two mode draws.
    const r = new Rng(5);
    r.random();
    r.random();
    const viaMixup = mixup(images, labels, { alpha: 0.8, numClasses: K, labelSmoothing: 0.1, rng: r });
    const mix = mixupCutmix(images, labels, { ...opts, switchProb: 0, rng: new Rng(5) });
    expect(mix.images.dataSync()).toEqual(viaMixup.images.dataSync());
    // prob 0 → untouched images, smoothed one-hot targets.
    const none = mixupCutmix(images, labels, { ...opts, prob: 0, rng: new Rng(5) });
    expect(none.images.dataSync()).toEqual(x);
    rowsSumToOne(none.targets);
    expect(Math.max(...(none.targets.dataSync() as Float32Array))).toBeCloseTo(1 - 0.1 + 0.1 / K, 6);
    dispose([a, b, cut, viaMixup, mix, none].flatMap((m) => [m.images, m.targets]));
    dispose([images, labels]);
  });

  it("leaves no tensors behind but its results", () => {
    const { images, labels } = batch(2);
    const start = memory().numTensors;
    for (let i = 0; i < 5; i++) {
      const m = mixupCutmix(images, labels, {
        mixupAlpha: 0.8,
        cutmixAlpha: 1,
        numClasses: K,
        rng: new Rng(i),
      });
      dispose([m.images, m.targets]);
      expect(memory().numTensors, `step ${i}`).toBe(start);
    }
    dispose([images, labels]);
  });

  it("names the mismatch when labels do not fit the images", () => {
    const { images, labels } = batch(0);
    const bad = tensor(new Int32Array(3), { shape: [3] });
    expect(() => mixup(images, bad, { alpha: 1, numClasses: K, rng: new Rng(0) })).toThrow(
      /mixup: labels must be \[B\] = \[5\] to match images \[5,2,6,7\], got \[3\]/,
    );
    expect(() =>
      mixupCutmix(images, labels, { mixupAlpha: 0, cutmixAlpha: 0, numClasses: K, rng: new Rng(0) }),
    ).toThrow(/mixupAlpha and cutmixAlpha must be ≥ 0 and not both 0/);
    dispose([images, labels, bad]);
  });
});
