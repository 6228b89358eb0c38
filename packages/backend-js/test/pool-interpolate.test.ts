import { type PoolAttrs, Tensor } from "@tessera/core";
import { describe, expect, it } from "vitest";
import { JsBackend } from "../src/index.js";
import { expectClose, make, numelOf, randomValues, read } from "./helpers.js";

const be = new JsBackend();
const F = be.fused as Required<typeof be.fused>;

const attrs = (
  k: number[],
  s: number[],
  p: number[],
  d = [1, 1],
  ceilMode = false,
  countIncludePad = true,
): PoolAttrs => ({
  kernel: k as [number, number],
  stride: s as [number, number],
  padding: p as [number, number],
  dilation: d as [number, number],
  ceilMode,
  countIncludePad,
});

/** torch's pooled size, including the rule that the last window must start inside input + left padding. */
function outSize(n: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  const span = n + 2 * p - d * (k - 1) - 1;
  let o = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  if (ceil && (o - 1) * s >= n + p) o--;
  return o;
}

function runPool(
  kind: "max" | "avg",
  shape: number[],
  x: number[],
  a: PoolAttrs,
): { got: number[]; shape: number[] } {
  const [N, C, H, W] = shape as [number, number, number, number];
  const Ho = outSize(H, a.kernel[0], a.stride[0], a.padding[0], a.dilation[0], a.ceilMode);
  const Wo = outSize(W, a.kernel[1], a.stride[1], a.padding[1], a.dilation[1], a.ceilMode);
  const t = make(be, shape, x, "float64");
  const out = Tensor.empty([N, C, Ho, Wo], "float64", be);
  (kind === "max" ? F.maxPool2d : F.avgPool2d)(t.kernelView, a, out.kernelView);
  const got = read(out);
  t.dispose();
  out.dispose();
  return { got, shape: [N, C, Ho, Wo] };
}

/** Reference max pool: max over in-bounds taps of the dilated window (padding is -Inf). */
function refMax(x: number[], shape: number[], os: number[], a: PoolAttrs): number[] {
  const [, , H, W] = shape as [number, number, number, number];
  const [N, C, Ho, Wo] = os as [number, number, number, number];
  const out: number[] = [];
  for (let pl = 0; pl < N * C; pl++)
    for (let oy = 0; oy < Ho; oy++)
      for (let ox = 0; ox < Wo; ox++) {
        const vals: number[] = [];
        for (let ky = 0; ky < a.kernel[0]; ky++)
          for (let kx = 0; kx < a.kernel[1]; kx++) {
            const iy = oy * a.stride[0] - a.padding[0] + ky * a.dilation[0];
            const ix = ox * a.stride[1] - a.padding[1] + kx * a.dilation[1];
            if (iy >= 0 && iy < H && ix >= 0 && ix < W) vals.push(x[(pl * H + iy) * W + ix]!);
          }
        out.push(vals.some(Number.isNaN) ? Number.NaN : Math.max(...vals));
      }
  return out;
}

describe("maxPool2d", () => {
  it("matches the reference with padding, dilation, stride and ceil mode", () => {
    const cases: [number[], PoolAttrs][] = [
      [[2, 3, 13, 11], attrs([3, 3], [2, 2], [1, 1])],
      [[1, 2, 9, 10], attrs([3, 2], [2, 3], [1, 1], [2, 2])],
      [[1, 2, 7, 6], attrs([3, 3], [2, 2], [1, 0], [1, 1], true)],
      [[2, 1, 5, 5], attrs([2, 2], [2, 2], [0, 0], [1, 1], true)],
      [[1, 1, 1, 1], attrs([1, 1], [1, 1], [0, 0])],
    ];
    for (const [shape, a] of cases) {
      const x = randomValues(numelOf(shape), shape[2]!);
      const r = runPool("max", shape, x, a);
      expect(r.got).toEqual(refMax(x, shape, r.shape, a));
    }
  });

  it("propagates NaN from any tap and treats padding as -Inf (all-negative input stays negative)", () => {
    const x = randomValues(25, 1, -5, -1);
    x[12] = Number.NaN;
    const r = runPool("max", [1, 1, 5, 5], x, attrs([3, 3], [1, 1], [1, 1]));
    const ref = refMax(x, [1, 1, 5, 5], r.shape, attrs([3, 3], [1, 1], [1, 1]));
    expectClose(r.got, ref, 0, 0);
    expect(r.got[0]!).toBeLessThan(0);
    expect(r.got[12]).toBeNaN();
  });
});

describe("avgPool2d", () => {
  it("ceil-mode windows that overhang the padded input are clipped in the divisor", () => {
    const ones = new Array(25).fill(1);
    // No padding: a window clipped by ceil mode averages only the real pixels -> exactly 1.
    expect(runPool("avg", [1, 1, 5, 5], ones, attrs([2, 2], [2, 2], [0, 0], [1, 1], true)).got).toEqual(
      new Array(9).fill(1),
    );
    // Padding 1 with countIncludePad: the corner window holds 4 real pixels of 9 -> 4/9.
    const r = runPool("avg", [1, 1, 5, 5], ones, attrs([3, 3], [2, 2], [1, 1], [1, 1], true));
    expectClose(r.got, [4 / 9, 6 / 9, 4 / 9, 6 / 9, 1, 6 / 9, 4 / 9, 6 / 9, 4 / 9], 1e-15, 0);
    // countIncludePad=false divides by the real pixels only.
    const e = runPool("avg", [1, 1, 5, 5], ones, attrs([3, 3], [2, 2], [1, 1], [1, 1], true, false));
    expect(e.got).toEqual(new Array(9).fill(1));
  });

  it("matches a reference sum/divisor on random data with asymmetric attributes", () => {
    const shape = [2, 2, 8, 7];
    const x = randomValues(numelOf(shape), 9);
    for (const cip of [true, false]) {
      const a = attrs([3, 2], [2, 2], [1, 1], [1, 1], true, cip);
      const r = runPool("avg", shape, x, a);
      const [, , Ho, Wo] = r.shape as [number, number, number, number];
      const ref: number[] = [];
      for (let pl = 0; pl < 4; pl++)
        for (let oy = 0; oy < Ho; oy++)
          for (let ox = 0; ox < Wo; ox++) {
            const y0 = oy * 2 - 1;
            const x0 = ox * 2 - 1;
            const y1 = Math.min(y0 + 3, 8 + 1);
            const x1 = Math.min(x0 + 2, 7 + 1);
            let s = 0;
            let cnt = 0;
            for (let iy = Math.max(y0, 0); iy < Math.min(y1, 8); iy++)
              for (let ix = Math.max(x0, 0); ix < Math.min(x1, 7); ix++) {
                s += x[(pl * 8 + iy) * 7 + ix]!;
                cnt++;
              }
            ref.push(s / (cip ? (y1 - y0) * (x1 - x0) : cnt));
          }
      expectClose(r.got, ref, 1e-14, 1e-15);
    }
  });
});

describe("adaptiveAvgPool2d", () => {
  it("uses overlapping windows [floor(i·H/o), ceil((i+1)·H/o)) and handles output larger than input", () => {
    for (const [H, W, Ho, Wo] of [
      [13, 11, 3, 4],
      [5, 7, 5, 7],
      [3, 2, 5, 4],
      [6, 6, 1, 1],
    ] as const) {
      const x = randomValues(H * W * 2, H + Wo);
      const t = make(be, [1, 2, H, W], x, "float64");
      const out = Tensor.empty([1, 2, Ho, Wo], "float64", be);
      F.adaptiveAvgPool2d(t.kernelView, out.kernelView);
      const ref: number[] = [];
      for (let pl = 0; pl < 2; pl++)
        for (let i = 0; i < Ho; i++)
          for (let j = 0; j < Wo; j++) {
            let s = 0;
            let c = 0;
            for (let y = Math.floor((i * H) / Ho); y < Math.ceil(((i + 1) * H) / Ho); y++)
              for (let z = Math.floor((j * W) / Wo); z < Math.ceil(((j + 1) * W) / Wo); z++) {
                s += x[(pl * H + y) * W + z]!;
                c++;
              }
            ref.push(s / c);
          }
      expectClose(read(out), ref, 1e-14, 1e-15);
      t.dispose();
      out.dispose();
    }
  });
});

describe("interpolate", () => {
  function run(
    shape: number[],
    os: number[],
    mode: "nearest" | "bilinear",
    alignCorners: boolean,
    scale?: [number, number],
  ) {
    const x = randomValues(numelOf(shape), 5);
    const t = make(be, shape, x, "float64");
    const out = Tensor.empty(os, "float64", be);
    F.interpolate(
      t.kernelView,
      { mode, alignCorners, scale: scale ?? [shape[2]! / os[2]!, shape[3]! / os[3]!] },
      out.kernelView,
    );
    const got = read(out);
    t.dispose();
    out.dispose();
    return { x, got };
  }

  it("identity size is an exact copy in every mode", () => {
    for (const mode of ["nearest", "bilinear"] as const)
      for (const ac of [false, true]) {
        const r = run([2, 2, 5, 6], [2, 2, 5, 6], mode, ac);
        expect(r.got).toEqual(r.x);
      }
  });

  it("align corners maps corners onto corners and a 1-pixel output reads pixel 0", () => {
    const r = run([1, 1, 4, 5], [1, 1, 7, 9], "bilinear", true);
    expect(r.got[0]).toBe(r.x[0]);
    expect(r.got[8]).toBe(r.x[4]);
    expect(r.got[62]).toBe(r.x[19]);
    const one = run([1, 1, 4, 5], [1, 1, 1, 1], "bilinear", true);
    expect(one.got).toEqual([one.x[0]]);
  });

  it("nearest upsampling by 2 repeats each pixel; bilinear at 0-size output writes nothing", () => {
    const r = run([1, 1, 2, 3], [1, 1, 4, 6], "nearest", false);
    expect(r.got.slice(0, 6)).toEqual([r.x[0], r.x[0], r.x[1], r.x[1], r.x[2], r.x[2]]);
    expect(run([1, 1, 2, 3], [1, 1, 0, 6], "bilinear", false).got).toEqual([]);
  });
});

describe("interpolate with non-finite pixels", () => {
  it("an axis of unchanged size reads only the pixel itself, so an Inf neighbour does not turn it NaN", () => {
    const I = Number.POSITIVE_INFINITY;
    const t = make(be, [1, 1, 2, 3], [1, I, 3, 4, 5, 6], "float32");
    const out = Tensor.empty([1, 1, 4, 3], "float32", be);
    F.interpolate(t.kernelView, { mode: "bilinear", alignCorners: false, scale: [0.5, 1.5] }, out.kernelView);
    const got = read(out);
    expect(got[0]).toBe(1);
    expect(got[2]).toBe(3);
    // The Inf pixel itself blends with a zero weight on its own copy: NaN, PyTorch's arithmetic.
    expect(got[1]).toBeNaN();
    expect(got.filter(Number.isNaN).length).toBe(3);
    t.dispose();
    out.dispose();
  });
});
