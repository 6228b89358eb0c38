/**
 * Initialiser distributions. Moment checks allow 5 standard errors of the estimator for the
 * sample size n: the mean's is σ/√n, the variance's σ²·√((κ − 1)/n) with κ the kurtosis (1.8 for a
 * uniform, 3 for a normal, and 3 as an upper bound for a truncated normal). Draws are seeded, so
 * each check is deterministic; the bound makes it hold for almost every seed.
 */
import { empty, Generator, manualSeed, type Tensor } from "@tessera/core";
import { describe, expect, it } from "vitest";
import { Conv2d, ConvTranspose2d, Embedding, init, Linear } from "../src/index.js";
import { TEST_BACKENDS } from "./support/backends.js";

const N = 200_000;

function values(t: Tensor): Float64Array {
  return Float64Array.from(t.dataSync() as Float32Array);
}

function moments(v: ArrayLike<number>): { mean: number; std: number; min: number; max: number } {
  let s = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < v.length; i++) {
    s += v[i]!;
    if (v[i]! < min) min = v[i]!;
    if (v[i]! > max) max = v[i]!;
  }
  const mean = s / v.length;
  let q = 0;
  for (let i = 0; i < v.length; i++) q += (v[i]! - mean) ** 2;
  return { mean, std: Math.sqrt(q / v.length), min, max };
}

function expectMoments(v: ArrayLike<number>, mean: number, std: number, kurtosis: number): void {
  const m = moments(v);
  const n = v.length;
  expect(Math.abs(m.mean - mean)).toBeLessThanOrEqual((5 * std) / Math.sqrt(n));
  expect(Math.abs(m.std ** 2 - std ** 2)).toBeLessThanOrEqual(5 * std ** 2 * Math.sqrt((kurtosis - 1) / n));
}

/** Draws from `fn` into a fresh tensor of `shape` (seeded), returns the values and frees the tensor. */
function draw(shape: number[], fn: (t: Tensor) => void, backend = "js", seed = 7): Float64Array {
  manualSeed(seed);
  const t = empty(shape, { backend });
  try {
    fn(t);
    return values(t);
  } finally {
    t.dispose();
  }
}

function expectUniform(v: Float64Array, low: number, high: number): void {
  const m = moments(v);
  expect(m.min).toBeGreaterThanOrEqual(low);
  expect(m.max).toBeLessThanOrEqual(high);
  // The extremes come within 1% of the range of the ends (probability 0.99^n of missing one).
  expect(m.min).toBeLessThan(low + 0.01 * (high - low));
  expect(m.max).toBeGreaterThan(high - 0.01 * (high - low));
  expectMoments(v, (low + high) / 2, (high - low) / Math.sqrt(12), 1.8);
}

/** Mean and standard deviation of N(mean, std²) truncated to [a, b], by Simpson's rule on the density. */
function truncatedMoments(mean: number, std: number, a: number, b: number): { mean: number; std: number } {
  const steps = 20_000;
  const h = (b - a) / steps;
  let z = 0;
  let m1 = 0;
  let m2 = 0;
  for (let i = 0; i <= steps; i++) {
    const x = a + i * h;
    const w = (i === 0 || i === steps ? 1 : i % 2 ? 4 : 2) * Math.exp(-0.5 * ((x - mean) / std) ** 2);
    z += w;
    m1 += w * x;
    m2 += w * x * x;
  }
  const mu = m1 / z;
  return { mean: mu, std: Math.sqrt(m2 / z - mu * mu) };
}

describe("initialiser distributions", () => {
  it("uniform(low, high) covers [low, high) with the uniform's mean and std", () => {
    expectUniform(
      draw([N], (t) => init.uniform(t, -3, 5)),
      -3,
      5,
    );
    expectUniform(
      draw([N], (t) => init.uniform(t)),
      0,
      1,
    );
  });

  it("normal(mean, std) has that mean and std", () => {
    expectMoments(
      draw([N], (t) => init.normal(t, 2, 0.5)),
      2,
      0.5,
      3,
    );
    expectMoments(
      draw([N], (t) => init.normal(t)),
      0,
      1,
      3,
    );
  });

  it("constant, zeros and ones fill every element", () => {
    expect(draw([3, 4], (t) => init.constant(t, 2.5)).every((v) => v === 2.5)).toBe(true);
    expect(draw([3, 4], (t) => init.zeros(t)).every((v) => v === 0)).toBe(true);
    expect(draw([3, 4], (t) => init.ones(t)).every((v) => v === 1)).toBe(true);
  });

  it("xavierUniform is U(±gain·√(6/(fanIn+fanOut))) and xavierNormal N(0, gain²·2/(fanIn+fanOut))", () => {
    const shape = [400, 500]; // fanIn 500, fanOut 400
    const b = 2 * Math.sqrt(6 / 900);
    expectUniform(
      draw(shape, (t) => init.xavierUniform(t, 2)),
      -b,
      b,
    );
    expectMoments(
      draw([100, 50, 2, 2], (t) => init.xavierNormal(t)), // fans 200, 400
      0,
      Math.sqrt(2 / 600),
      3,
    );
  });

  it("kaimingUniform defaults to U(±√(6/fanIn)); a=√5 gives U(±1/√fanIn)", () => {
    const shape = [500, 40, 3, 3]; // fanIn 360, fanOut 4500
    const b = Math.sqrt(6 / 360);
    expectUniform(
      draw(shape, (t) => init.kaimingUniform(t)),
      -b,
      b,
    );
    const b5 = 1 / Math.sqrt(360);
    expectUniform(
      draw(shape, (t) => init.kaimingUniform(t, { a: Math.sqrt(5) })),
      -b5,
      b5,
    );
  });

  it("kaimingNormal has std gain/√fan for fanIn and fanOut", () => {
    const shape = [200, 1000]; // fanIn 1000, fanOut 200
    expectMoments(
      draw(shape, (t) => init.kaimingNormal(t, { mode: "fanOut", nonlinearity: "relu" })),
      0,
      Math.SQRT2 / Math.sqrt(200),
      3,
    );
    expectMoments(
      draw(shape, (t) => init.kaimingNormal(t, { nonlinearity: "tanh" })),
      0,
      5 / 3 / Math.sqrt(1000),
      3,
    );
    const t = empty([2, 2]);
    expect(() => init.kaimingNormal(t, { mode: "fan_in" as never })).toThrow(
      /kaiming: mode must be 'fanIn' or 'fanOut', got "fan_in"/,
    );
    t.dispose();
  });

  it("truncNormal stays in [a, b] with the truncated normal's mean and std", () => {
    for (const [mean, std, a, b] of [
      [0, 1, -2, 2],
      [1, 2, -1, 4],
      [0, 0.02, -0.04, 0.04],
      [0, 1, 0.5, 3],
    ] as const) {
      const v = draw([N], (t) => init.truncNormal(t, mean, std, a, b));
      const m = moments(v);
      expect(m.min).toBeGreaterThanOrEqual(a);
      expect(m.max).toBeLessThanOrEqual(b);
      const want = truncatedMoments(mean, std, a, b);
      expectMoments(v, want.mean, want.std, 3);
    }
    const t = empty([2]);
    expect(() => init.truncNormal(t, 0, 1, 2, -2)).toThrow(/truncNormal: need a < b, got a=2, b=-2/);
    expect(() => init.truncNormal(t, 0, 0)).toThrow(/truncNormal: std must be > 0, got 0/);
    t.dispose();
  });

  it("with wide bounds truncNormal is the plain normal", () => {
    expectMoments(
      draw([N], (t) => init.truncNormal(t, -1, 3, -100, 100)),
      -1,
      3,
      3,
    );
  });
});

describe("calculateGain and fans", () => {
  it("calculateGain returns PyTorch's values", () => {
    // torch.nn.init.calculate_gain in PyTorch 1.13.
    expect(init.calculateGain("linear")).toBe(1);
    expect(init.calculateGain("conv2d")).toBe(1);
    expect(init.calculateGain("conv_transpose2d")).toBe(1);
    expect(init.calculateGain("sigmoid")).toBe(1);
    expect(init.calculateGain("tanh")).toBeCloseTo(1.6666666666666667, 15);
    expect(init.calculateGain("relu")).toBeCloseTo(Math.SQRT2, 15); // torch: 1.4142135623730951
    expect(init.calculateGain("leaky_relu")).toBeCloseTo(1.4141428569978354, 15);
    expect(init.calculateGain("leaky_relu", 0.2)).toBeCloseTo(1.3867504905630728, 15);
    expect(init.calculateGain("selu")).toBe(0.75);
    expect(() => init.calculateGain("swish" as never)).toThrow(/calculateGain: unknown nonlinearity "swish"/);
  });

  it("fans() of Linear, Conv2d and ConvTranspose2d weights are PyTorch's", () => {
    const lin = new Linear(7, 3);
    expect(init.fans(lin.weight)).toEqual([7, 3]);
    const conv = new Conv2d(6, 4, [3, 5], { groups: 2 }); // [4, 3, 3, 5]
    expect(init.fans(conv.weight)).toEqual([3 * 15, 4 * 15]);
    const convT = new ConvTranspose2d(6, 4, [3, 5], { groups: 2 }); // [6, 2, 3, 5]
    expect(init.fans(convT.weight)).toEqual([2 * 15, 6 * 15]);
    const v = empty([5]);
    expect(() => init.fans(v)).toThrow(/fan in and fan out need a tensor of rank >= 2, got shape \[5\]/);
    for (const t of [lin, conv, convT, v]) t.dispose();
  });
});

describe("reproducibility", () => {
  const initialisers: [string, (t: Tensor, g?: Generator) => void][] = [
    ["uniform", (t, generator) => init.uniform(t, -1, 2, { generator })],
    ["normal", (t, generator) => init.normal(t, 0.5, 2, { generator })],
    ["xavierUniform", (t, generator) => init.xavierUniform(t, 1, { generator })],
    ["xavierNormal", (t, generator) => init.xavierNormal(t, 1, { generator })],
    ["kaimingUniform", (t, generator) => init.kaimingUniform(t, { a: Math.sqrt(5), generator })],
    ["kaimingNormal", (t, generator) => init.kaimingNormal(t, { generator })],
    ["truncNormal", (t, generator) => init.truncNormal(t, 0, 1, -2, 2, { generator })],
  ];

  it.each(initialisers)("%s: the same seed gives identical values on every backend", (_, fn) => {
    const ref = draw([64, 33], (t) => fn(t), "js", 123);
    for (const backend of TEST_BACKENDS) {
      expect(draw([64, 33], (t) => fn(t), backend, 123)).toEqual(ref);
    }
    expect(draw([64, 33], (t) => fn(t), "js", 124)).not.toEqual(ref);
  });

  it.each(initialisers)("%s: a Generator with the same seed replays the same values", (_, fn) => {
    const a = draw([10, 10], (t) => fn(t, new Generator(5)), "js", 1);
    const b = draw([10, 10], (t) => fn(t, new Generator(5)), "js", 2);
    expect(a).toEqual(b);
  });

  it("layers built after the same manualSeed have identical weights on every backend", () => {
    const build = (backend: string) => {
      manualSeed(99);
      const mods = [new Linear(5, 4), new Conv2d(3, 4, 3), new ConvTranspose2d(4, 2, 2), new Embedding(6, 3)];
      const out = mods.flatMap((m) => [...m.parameters()].map((p) => Array.from(p.to(backend).dataSync())));
      for (const m of mods) m.dispose();
      return out;
    };
    const ref = build("js");
    for (const backend of TEST_BACKENDS) expect(build(backend)).toEqual(ref);
  });
});

describe("default layer initialisation matches PyTorch's distributions", () => {
  it("Linear(in, out): weight and bias U(±1/√in)", () => {
    manualSeed(1);
    const m = new Linear(400, 300);
    const b = 1 / 20;
    expectUniform(values(m.weight), -b, b);
    const bias = moments(values(m.bias!));
    expect(bias.min).toBeGreaterThanOrEqual(-b);
    expect(bias.max).toBeLessThanOrEqual(b);
    expect(bias.max - bias.min).toBeGreaterThan(1.9 * b); // 300 draws span the range
    m.dispose();
  });

  it("Conv2d(in, out, k): weight and bias U(±1/√(in/groups·kh·kw))", () => {
    manualSeed(2);
    const m = new Conv2d(64, 512, 3, { groups: 4 }); // fanIn 16·9 = 144
    const b = 1 / 12;
    expectUniform(values(m.weight), -b, b);
    const bias = moments(values(m.bias!));
    expect(bias.min).toBeGreaterThanOrEqual(-b);
    expect(bias.max).toBeLessThanOrEqual(b);
    expect(bias.max - bias.min).toBeGreaterThan(1.9 * b);
    m.dispose();
  });

  it("ConvTranspose2d(in, out, k): weight and bias U(±1/√(out/groups·kh·kw)) — fan-in from weight dim 1", () => {
    manualSeed(3);
    const m = new ConvTranspose2d(512, 32, 3, { groups: 2 }); // weight [512, 16, 3, 3], fanIn 144
    const b = 1 / 12;
    expectUniform(values(m.weight), -b, b);
    const bias = moments(values(m.bias!));
    expect(bias.min).toBeGreaterThanOrEqual(-b);
    expect(bias.max).toBeLessThanOrEqual(b);
    expect(bias.max - bias.min).toBeGreaterThan(1.5 * b); // 32 draws
    m.dispose();
  });

  it("Embedding: weight N(0, 1) with the padding row zero", () => {
    manualSeed(4);
    const m = new Embedding(1000, 200, { paddingIdx: 3 });
    const w = values(m.weight);
    expect(Array.from(w.subarray(600, 800)).every((v) => v === 0)).toBe(true);
    const rest = Float64Array.from([...w.subarray(0, 600), ...w.subarray(800)]);
    expectMoments(rest, 0, 1, 3);
    m.dispose();
  });
});
