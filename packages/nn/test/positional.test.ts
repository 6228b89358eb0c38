import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Generator, memory, randn, sum, type Tensor, tensor, tidy } from "@tessera/core";
import { describe, expect, it } from "vitest";
import {
  LearnablePositionalEncoding,
  LearnableSinusoidalPositionalEncoding,
  resamplePositionEmbedding,
  SinusoidalPositionalEncoding,
  SinusoidalPositionalEncoding2d,
  sinusoidalEncoding1d,
  sinusoidalEncoding2d,
} from "../src/index.js";
import { TEST_BACKENDS } from "./support/backends.js";
import { FIXTURES_DIR } from "./support/torch-module.js";

/** Reference tables from scripts/gen-attention-positional-fixtures.py (numpy float64 / torch float32). */
interface Fixtures {
  sinusoidal1d: { n: number; d: number; table: number[] }[];
  sincos2d: { grid: [number, number]; d: number; clsToken: boolean; table: number[] }[];
  resample: {
    from: [number, number];
    to: [number, number];
    numPrefixTokens: number;
    dim: number;
    input: number[];
    output: number[];
  }[];
}
const FIX = JSON.parse(readFileSync(join(FIXTURES_DIR, "positional.json"), "utf8")) as Fixtures;

/** Tables are float64 math rounded once to float32 on both sides: they may differ by one float32 ulp (≤ 6e-8 for |v| ≤ 1). */
const TABLE_ATOL = 1e-6;
/** Bilinear resampling in float32 here and in torch: a few ulps of the values (|v| < 5). */
const RESAMPLE_ATOL = 2e-6;

function maxDiff(t: Tensor, want: readonly number[]): number {
  const got = t.dataSync() as Float32Array;
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  return worst;
}

describe("positional tables match the references", () => {
  for (const c of FIX.sinusoidal1d) {
    it(`sinusoidalEncoding1d(${c.n}, ${c.d}) equals Vaswani's formula`, () => {
      const t = sinusoidalEncoding1d(c.n, c.d);
      expect(t.shape).toEqual([c.n, c.d]);
      expect(maxDiff(t, c.table)).toBeLessThanOrEqual(TABLE_ATOL);
      t.dispose();
    });
  }

  for (const c of FIX.sincos2d) {
    it(`sinusoidalEncoding2d(${c.grid}, ${c.d}, cls ${c.clsToken}) equals MAE's get_2d_sincos_pos_embed`, () => {
      const t = sinusoidalEncoding2d(c.grid, c.d, { clsToken: c.clsToken });
      expect(t.shape).toEqual([(c.clsToken ? 1 : 0) + c.grid[0] * c.grid[1], c.d]);
      expect(maxDiff(t, c.table)).toBeLessThanOrEqual(TABLE_ATOL);
      t.dispose();
    });
  }

  it("row 0 of the 1-D table is [0, 1, 0, 1, …] (the autoencoder seed's pos)", () => {
    const t = sinusoidalEncoding1d(1, 6);
    expect([...(t.dataSync() as Float32Array)]).toEqual([0, 1, 0, 1, 0, 1]);
    t.dispose();
  });

  it("tables reject bad sizes with the argument named", () => {
    expect(() => sinusoidalEncoding2d(4, 6)).toThrow(
      "sinusoidalEncoding2d: dim must be a multiple of 4, got 6",
    );
    expect(() => sinusoidalEncoding2d([4, 0], 8)).toThrow(
      "sinusoidalEncoding2d: a grid must be a positive integer or [height, width], got [4,0]",
    );
    expect(() => sinusoidalEncoding1d(4, 0)).toThrow(
      "sinusoidalEncoding1d: dim must be an integer >= 1, got 0",
    );
  });
});

describe.each(TEST_BACKENDS)("resamplePositionEmbedding on %s", (backend) => {
  for (const c of FIX.resample) {
    it(`${c.from} → ${c.to} with ${c.numPrefixTokens} prefix tokens equals timm's bilinear resample_abs_pos_embed`, () => {
      tidy(() => {
        const n = c.numPrefixTokens + c.from[0] * c.from[1];
        const pe = tensor(Float32Array.from(c.input), { shape: [1, n, c.dim], backend });
        const out = resamplePositionEmbedding(pe, c.from, c.to, { numPrefixTokens: c.numPrefixTokens });
        expect(out.shape).toEqual([1, c.numPrefixTokens + c.to[0] * c.to[1], c.dim]);
        expect(maxDiff(out, c.output)).toBeLessThanOrEqual(RESAMPLE_ATOL);
        // Unbatched [N, D] gives the same rows.
        const flat = resamplePositionEmbedding(pe.squeeze(0), c.from, c.to, {
          numPrefixTokens: c.numPrefixTokens,
        });
        expect(flat.shape).toEqual(out.shape.slice(1));
        expect(maxDiff(flat, c.output)).toBeLessThanOrEqual(RESAMPLE_ATOL);
      });
    });
  }

  it("the same grid returns the same values and the prefix tokens pass through untouched", () => {
    tidy(() => {
      const pe = randn([1, 1 + 12, 4], { backend });
      const same = resamplePositionEmbedding(pe, [3, 4], [3, 4], { numPrefixTokens: 1 });
      expect(same.dataSync()).toEqual(pe.dataSync());
      const up = resamplePositionEmbedding(pe, [3, 4], [6, 8], { numPrefixTokens: 1 });
      expect(up.slice(1, 0, 1).dataSync()).toEqual(pe.slice(1, 0, 1).dataSync());
    });
  });

  it("is differentiable: the gradient reaches every source token, and nothing is left behind", () => {
    const pe = randn([1, 1 + 9, 4], { backend });
    pe.requiresGrad = true;
    const before = memory().numTensors;
    tidy(() => sum(resamplePositionEmbedding(pe, 3, 5, { numPrefixTokens: 1 })).backward());
    const g = pe.grad!.dataSync() as Float32Array;
    expect(g.slice(0, 4)).toEqual(new Float32Array([1, 1, 1, 1])); // the cls token, copied once
    for (let i = 4; i < g.length; i++) expect(g[i]).toBeGreaterThan(0);
    pe.grad = null;
    expect(memory().numTensors).toBe(before);
    pe.dispose();
  });

  it("a token count that does not fit the grid is an error naming the layout", () => {
    tidy(() => {
      const pe = randn([1, 10, 4], { backend });
      expect(() => resamplePositionEmbedding(pe, [3, 4], 5, { numPrefixTokens: 1 })).toThrow(
        "resamplePositionEmbedding: pe must be [1, 13, D] or [13, D] (1 prefix tokens + a 3×4 grid), got [1, 10, 4]",
      );
    });
  });
});

describe.each(TEST_BACKENDS)("positional encoding modules on %s", (backend) => {
  it("SinusoidalPositionalEncoding adds the table's first N rows and keeps it out of the state dict", () => {
    const pos = new SinusoidalPositionalEncoding(8, { maxLen: 20 }).to(backend);
    expect([...pos.stateDict().keys()]).toEqual([]);
    expect([...pos.namedBuffers()].map(([k, t]) => [k, t.shape])).toEqual([["pe", [20, 8]]]);
    expect(pos.pe.backendName).toBe(backend);
    tidy(() => {
      const x = randn([2, 5, 8], { backend });
      const y = pos.forward(x).sub(x);
      const want = sinusoidalEncoding1d(5, 8, { backend }).dataSync() as Float32Array;
      const got = y.dataSync() as Float32Array;
      for (let i = 0; i < got.length; i++)
        expect(Math.abs(got[i]! - want[i % 40]!)).toBeLessThanOrEqual(1e-6);
      expect(() => pos.forward(randn([2, 21, 8], { backend }))).toThrow(
        "SinusoidalPositionalEncoding: input must be [B, N, 8] or [N, 8] with N <= 20, got [2, 21, 8]",
      );
    });
    pos.dispose();
  });

  it("SinusoidalPositionalEncoding2d adds the grid table (zero cls row) to exactly H·W (+1) tokens", () => {
    const pos = new SinusoidalPositionalEncoding2d(8, [2, 3], { clsToken: true }).to(backend);
    expect([...pos.stateDict().keys()]).toEqual([]);
    tidy(() => {
      const x = randn([2, 7, 8], { backend });
      const d = pos.forward(x).sub(x).dataSync() as Float32Array;
      const want = sinusoidalEncoding2d([2, 3], 8, { clsToken: true }).dataSync() as Float32Array;
      for (let i = 0; i < d.length; i++) expect(Math.abs(d[i]! - want[i % 56]!)).toBeLessThanOrEqual(1e-6);
      expect(() => pos.forward(randn([2, 6, 8], { backend }))).toThrow("with N = 7, got [2, 6, 8]");
    });
    pos.dispose();
  });

  it("LearnablePositionalEncoding: key pos_embed [1, N, D], trunc-normal std 0.02 init, gradient to used rows only", () => {
    const pos = new LearnablePositionalEncoding(200, 64, { generator: new Generator(4) }).to(backend);
    expect([...pos.stateDict()].map(([k, t]) => [k, t.shape])).toEqual([["pos_embed", [1, 200, 64]]]);
    const w = pos.posEmbed.dataSync() as Float32Array;
    let s = 0;
    let s2 = 0;
    for (const v of w) {
      s += v;
      s2 += v * v;
    }
    // 12800 draws: the sample mean is within 4 standard errors (7e-4) of 0, the std within 3%.
    expect(Math.abs(s / w.length)).toBeLessThan(7e-4);
    expect(Math.sqrt(s2 / w.length)).toBeGreaterThan(0.0194);
    expect(Math.sqrt(s2 / w.length)).toBeLessThan(0.0206);
    const again = new LearnablePositionalEncoding(200, 64, { generator: new Generator(4) });
    expect(again.posEmbed.dataSync()).toEqual(w);
    again.dispose();

    const x = randn([3, 150, 64], { backend });
    const before = memory().numTensors;
    tidy(() => sum(pos.forward(x)).backward());
    const g = pos.posEmbed.grad!.dataSync() as Float32Array;
    expect(g[0]).toBe(3); // summed over the batch of 3
    expect(g[149 * 64 + 63]).toBe(3);
    expect(g[150 * 64]).toBe(0); // positions past N get no gradient
    pos.zeroGrad();
    expect(memory().numTensors).toBe(before);
    x.dispose();
    pos.dispose();
  });

  it("LearnableSinusoidalPositionalEncoding starts as the sinusoidal table and is trainable", () => {
    const pos = new LearnableSinusoidalPositionalEncoding(10, 6).to(backend);
    expect([...pos.stateDict()].map(([k, t]) => [k, t.shape])).toEqual([["pos_embed", [1, 10, 6]]]);
    expect(pos.posEmbed.requiresGrad).toBe(true);
    const table = sinusoidalEncoding1d(10, 6);
    expect(pos.posEmbed.dataSync()).toEqual(table.dataSync());
    table.dispose();
    tidy(() => {
      const x = randn([10, 6], { backend });
      sum(pos.forward(x)).backward();
    });
    expect(pos.posEmbed.grad!.shape).toEqual([1, 10, 6]);
    pos.dispose();
  });
});
