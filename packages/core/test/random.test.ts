import { describe, expect, it } from "vitest";
import "@tessera/backend-js";
import {
  bernoulli,
  Generator,
  manualSeed,
  normal,
  philox4x32,
  rand,
  randint,
  randn,
  tensor,
  tidy,
} from "../src/index.js";

describe("counter-based generator", () => {
  it("philox4x32-10 matches the Random123 known-answer vectors", () => {
    const out = new Uint32Array(4);
    philox4x32(0, 0, 0, 0, out);
    expect([...out].map((x) => x.toString(16))).toEqual(["6627e8d5", "e169c58d", "bc57ac4c", "9b00dbd8"]);
  });

  it("the same seed gives the same numbers, another seed different ones", () => {
    tidy(() => {
      manualSeed(42);
      const a = randn([100]).dataSync();
      manualSeed(42);
      const b = randn([100]).dataSync();
      manualSeed(43);
      const c = randn([100]).dataSync();
      expect(b).toEqual(a);
      expect(c).not.toEqual(a);
    });
  });

  it("consecutive draws continue the stream instead of repeating it", () => {
    tidy(() => {
      const g = new Generator(7);
      const first = rand([8], { generator: g }).dataSync();
      const second = rand([8], { generator: g }).dataSync();
      const both = rand([16], { generator: new Generator(7) }).dataSync();
      expect([...first, ...second]).toEqual([...both]);
    });
  });

  it("a saved generator state replays the same draw", () => {
    tidy(() => {
      const g = new Generator(3);
      rand([5], { generator: g });
      const state = g.getState();
      const a = randn([9], { generator: g }).dataSync();
      g.setState(state);
      expect(randn([9], { generator: g }).dataSync()).toEqual(a);
    });
  });

  it("uniform draws lie in [0,1) with mean near 1/2; normal has mean 0 and std 1", () => {
    tidy(() => {
      const g = new Generator(11);
      const u = rand([20000], { generator: g }).dataSync();
      let mu = 0;
      for (const v of u) {
        expect(v >= 0 && v < 1).toBe(true);
        mu += v;
      }
      // Standard error of the mean of U(0,1) at n=20000 is 0.002; 5 sigma.
      expect(Math.abs(mu / u.length - 0.5)).toBeLessThan(0.01);
      const z = normal([20000], 2, 3, { generator: g }).dataSync();
      let m = 0;
      let s = 0;
      for (const v of z) m += v;
      m /= z.length;
      for (const v of z) s += (v - m) ** 2;
      expect(Math.abs(m - 2)).toBeLessThan(0.11); // 5 · 3/√20000
      expect(Math.abs(Math.sqrt(s / z.length) - 3)).toBeLessThan(0.08);
    });
  });

  it("randint stays in [low, high) and covers it; bernoulli matches p", () => {
    tidy(() => {
      const g = new Generator(5);
      const r = randint(-3, 4, [5000], { generator: g });
      expect(r.dtype).toBe("int32");
      const seen = new Set(r.dataSync());
      expect([...seen].sort((a, b) => a - b)).toEqual([-3, -2, -1, 0, 1, 2, 3]);
      const b = bernoulli(0.25, { shape: [20000], generator: g }).dataSync();
      let ones = 0;
      for (const v of b) ones += v;
      const frac = ones / b.length;
      expect(Math.abs(frac - 0.25)).toBeLessThan(0.0155); // 5 · sqrt(.25·.75/20000)
      const p = tensor([0, 1, 0, 1]);
      expect(bernoulli(p, { generator: g }).dataSync()).toEqual(new Float32Array([0, 1, 0, 1]));
    });
  });

  it("rejects invalid distribution parameters", () => {
    expect(() => randint(3, 3, [2])).toThrow(/randint: need integers low < high, got low=3, high=3/);
    expect(() => bernoulli(1.5)).toThrow(/bernoulli: p must be in \[0, 1\], got 1.5/);
    expect(() => normal([2], 0, -1)).toThrow(/normal: std must be >= 0/);
  });
});
