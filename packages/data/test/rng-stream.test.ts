import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Rng } from "../src/rng.js";

describe("Rng", () => {
  it("derive(seed, ...keys) is a pure function of its arguments, and distinct keys give distinct streams", () => {
    const draw = (r: Rng) => Array.from({ length: 8 }, () => r.nextUint32());
    expect(draw(Rng.derive(7, 3, 11))).toEqual(draw(Rng.derive(7, 3, 11)));
    expect(draw(Rng.derive(7, 3, 11))).not.toEqual(draw(Rng.derive(7, 3, 12)));
    expect(draw(Rng.derive(7, 3, 11))).not.toEqual(draw(Rng.derive(8, 3, 11)));
  });

  it("permutation(n) holds every index once", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 0, max: 300 }), (seed, n) => {
        const p = Array.from(new Rng(seed).permutation(n)).sort((a, b) => a - b);
        expect(p).toEqual(Array.from({ length: n }, (_, i) => i));
      }),
      { numRuns: 100, seed: 42 },
    );
  });

  it("random() is uniform in [0, 1) and beta(a) has mean 1/2 (10,000 draws, 4-sigma bounds)", () => {
    const r = new Rng(1);
    const n = 10_000;
    let sum = 0;
    let betaSum = 0;
    for (let i = 0; i < n; i++) {
      const u = r.random();
      expect(u >= 0 && u < 1).toBe(true);
      sum += u;
      betaSum += r.beta(0.8);
    }
    // Uniform: sd 1/sqrt(12); Beta(0.8, 0.8): variance 1/(4·2.6) ≈ 0.096. 4 standard errors each.
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(4 * Math.sqrt(1 / 12 / n));
    expect(Math.abs(betaSum / n - 0.5)).toBeLessThan(4 * Math.sqrt(0.096 / n));
  });
});
