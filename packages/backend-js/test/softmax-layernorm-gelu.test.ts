import { type DType, Tensor } from "@tessera/core";
import { describe, expect, it } from "vitest";
import { JsBackend } from "../src/index.js";
import { erf } from "../src/kernels/math.js";
import { expectClose, make, numelOf, randomValues, read } from "./helpers.js";

const be = new JsBackend();
const F = be.fused as Required<typeof be.fused>;

function refSoftmax(x: number[], shape: number[], dim: number, log: boolean): number[] {
  const outer = numelOf(shape.slice(0, dim));
  const len = shape[dim]!;
  const inner = numelOf(shape.slice(dim + 1));
  const out = new Array<number>(x.length);
  for (let o = 0; o < outer; o++)
    for (let j = 0; j < inner; j++) {
      const at = (k: number) => (o * len + k) * inner + j;
      let m = Number.NEGATIVE_INFINITY;
      for (let k = 0; k < len; k++) m = Math.max(m, x[at(k)]!);
      let s = 0;
      for (let k = 0; k < len; k++) s += Math.exp(x[at(k)]! - m);
      for (let k = 0; k < len; k++)
        out[at(k)] = log ? x[at(k)]! - m - Math.log(s) : Math.exp(x[at(k)]! - m) / s;
    }
  return out;
}

function run1(
  fn: (x: Tensor, out: Tensor) => void,
  shape: number[],
  values: number[],
  dtype: DType = "float64",
): number[] {
  const x = make(be, shape, values, dtype);
  const out = Tensor.empty(shape, dtype, be);
  fn(x, out);
  const r = read(out);
  x.dispose();
  out.dispose();
  return r;
}

describe("softmax / logSoftmax", () => {
  const shapes: [number[], number][] = [
    [[2, 5, 7, 3], 3],
    [[2, 5, 7, 3], 1],
    [[2, 5, 7, 3], 0],
    [[3, 1, 4], 1],
    [[1], 0],
    [[4, 13], -1 + 2],
    [[0, 5], 1],
    [[5, 0], 1],
    [[3, 0, 2], 0],
  ];
  for (const log of [false, true]) {
    const name = log ? "logSoftmax" : "softmax";
    it(`${name} matches a float64 reference over every dim (odd, size-1 and 0-size shapes)`, () => {
      for (const [shape, dim] of shapes) {
        const x = randomValues(numelOf(shape), 7, -20, 20);
        const got = run1((a, o) => F[name](a.kernelView, dim, o.kernelView), shape, x);
        expectClose(got, refSoftmax(x, shape, dim, log), 1e-12, 1e-14);
      }
    });
    it(`${name} in float32 stays within 1e-6 of the reference, even for large logits`, () => {
      const shape = [6, 9];
      const x = Array.from(Float32Array.from(randomValues(54, 3, -1000, 1000)));
      const got = run1((a, o) => F[name](a.kernelView, 1, o.kernelView), shape, x, "float32");
      expectClose(got, refSoftmax(x, shape, 1, log), 1e-5, 1e-6);
    });
    it(`${name} gives NaN for an all -Inf row, a NaN row for a NaN, and exact 0/1 for ±Inf mixes`, () => {
      const I = Number.POSITIVE_INFINITY;
      const x = [-I, -I, -I, 1, Number.NaN, 2, 0, -I, 3];
      const got = run1((a, o) => F[name](a.kernelView, 1, o.kernelView), [3, 3], x);
      for (let i = 0; i < 6; i++) expect(got[i]).toBeNaN();
      const ref = refSoftmax(x, [3, 3], 1, log);
      expectClose(got.slice(6), ref.slice(6), 1e-12, 0);
      expect(got[7]).toBe(log ? -I : 0);
    });
    it(`${name} works in float16 and bfloat16 through the half decoder`, () => {
      for (const dtype of ["float16", "bfloat16"] as const) {
        const x = run1(
          (a, o) => F[name](a.kernelView, 1, o.kernelView),
          [2, 5],
          randomValues(10, 5, -3, 3),
          dtype,
        );
        const xs = read(make(be, [2, 5], randomValues(10, 5, -3, 3), dtype));
        expectClose(x, refSoftmax(xs, [2, 5], 1, log), 1e-2, 1e-2);
      }
    });
  }
});

function refLayerNorm(
  x: number[],
  size: number,
  w: number[] | null,
  b: number[] | null,
  eps: number,
): number[] {
  const out = new Array<number>(x.length);
  for (let r = 0; r < x.length / size; r++) {
    const row = x.slice(r * size, (r + 1) * size);
    const mean = row.reduce((s, v) => s + v, 0) / size;
    const v = row.reduce((s, a) => s + (a - mean) ** 2, 0) / size;
    for (let i = 0; i < size; i++) {
      out[r * size + i] = ((row[i]! - mean) / Math.sqrt(v + eps)) * (w ? w[i]! : 1) + (b ? b[i]! : 0);
    }
  }
  return out;
}

describe("layerNorm", () => {
  it("matches a float64 reference with and without affine parameters (trailing 1 and 2 dims)", () => {
    const cases: [number[], number][] = [
      [[2, 5, 7], 7],
      [[2, 5, 7], 35],
      [[3, 1], 1],
      [[1, 13], 13],
      [[0, 4], 4],
    ];
    for (const [shape, size] of cases) {
      for (const affine of ["both", "weight", "bias", "none"]) {
        const xv = randomValues(numelOf(shape), 11, -3, 5);
        const wv = randomValues(size, 12, 0.5, 2);
        const bv = randomValues(size, 13);
        const x = make(be, shape, xv, "float64");
        const w = affine === "both" || affine === "weight" ? make(be, [size], wv, "float64") : null;
        const b = affine === "both" || affine === "bias" ? make(be, [size], bv, "float64") : null;
        const out = Tensor.empty(shape, "float64", be);
        F.layerNorm(x.kernelView, w?.kernelView ?? null, b?.kernelView ?? null, size, 1e-5, out.kernelView);
        expectClose(read(out), refLayerNorm(xv, size, w ? wv : null, b ? bv : null, 1e-5), 1e-12, 1e-12);
        for (const t of [x, w, b, out]) t?.dispose();
      }
    }
  });

  it("keeps precision when the mean dwarfs the variance (float32 input offset by 1e4)", () => {
    const xv = Array.from(Float32Array.from(randomValues(26, 4, 1e4, 1e4 + 1)));
    const got = run1(
      (x, o) => F.layerNorm(x.kernelView, null, null, 13, 1e-5, o.kernelView),
      [2, 13],
      xv,
      "float32",
    );
    expectClose(got, refLayerNorm(xv, 13, null, null, 1e-5), 1e-4, 1e-4);
  });

  it("a constant row normalises to 0 (eps keeps the division finite) and NaN propagates", () => {
    const got = run1(
      (x, o) => F.layerNorm(x.kernelView, null, null, 3, 1e-5, o.kernelView),
      [2, 3],
      [4, 4, 4, 1, Number.NaN, 2],
    );
    expect(got.slice(0, 3)).toEqual([0, 0, 0]);
    for (const v of got.slice(3)) expect(v).toBeNaN();
  });
});

describe("gelu", () => {
  const special = [0, -0, 1e-8, -1e-8, 3, -3, 10, -10, 30, -30, Number.POSITIVE_INFINITY, Number.NaN];
  it("erf form matches 0.5·x·(1 + erf(x/√2)) and keeps -0, ±Inf and NaN", () => {
    const xv = [...randomValues(37, 21, -6, 6), ...special];
    const got = run1((x, o) => F.gelu(x.kernelView, "none", o.kernelView), [xv.length], xv);
    expectClose(
      got,
      xv.map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2))),
      1e-12,
      0,
    );
    expect(Object.is(got[37 + 1], -0)).toBe(true);
  });
  it("tanh form matches the tanh approximation and is within 1e-3 of the erf form", () => {
    const xv = [...randomValues(37, 22, -6, 6), ...special];
    const got = run1((x, o) => F.gelu(x.kernelView, "tanh", o.kernelView), [xv.length], xv, "float32");
    const c = Math.sqrt(2 / Math.PI);
    const ref = Array.from(Float32Array.from(xv)).map(
      (v) => 0.5 * v * (1 + Math.tanh(c * (v + 0.044715 * v ** 3))),
    );
    expectClose(got, ref, 1e-6, 1e-7);
    const exact = run1(
      (x, o) => F.gelu(x.kernelView, "none", o.kernelView),
      [37],
      xv.slice(0, 37),
      "float32",
    );
    expectClose(got.slice(0, 37), exact, 0, 1e-3);
  });
  it("erf is accurate to 2e-7 against known values", () => {
    const known: [number, number][] = [
      [0.1, 0.1124629160182849],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [2, 0.9953222650189527],
      [-1.5, -0.9661051464753108],
    ];
    for (const [x, e] of known) expect(Math.abs(erf(x) - e)).toBeLessThan(2e-7);
  });
});
