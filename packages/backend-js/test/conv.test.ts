import { type ConvAttrs, type ConvTransposeAttrs, Tensor } from "@tessera/core";
import { describe, it } from "vitest";
import { JsBackend } from "../src/index.js";
import { expectClose, make, numelOf, randomValues, read } from "./helpers.js";

const be = new JsBackend();
const F = be.fused as Required<typeof be.fused>;

type Dims4 = [number, number, number, number];

/** Direct 7-loop convolution in float64. */
function refConv(x: number[], xs: Dims4, w: number[], ws: Dims4, bias: number[] | null, a: ConvAttrs) {
  const [N, C, H, W] = xs;
  const [O, Cg, kh, kw] = ws;
  const Og = O / a.groups;
  const Ho = Math.floor((H + 2 * a.padding[0] - a.dilation[0] * (kh - 1) - 1) / a.stride[0]) + 1;
  const Wo = Math.floor((W + 2 * a.padding[1] - a.dilation[1] * (kw - 1) - 1) / a.stride[1]) + 1;
  const out = new Array<number>(N * O * Ho * Wo).fill(0);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++) {
      const g = Math.floor(o / Og);
      for (let oy = 0; oy < Ho; oy++)
        for (let ox = 0; ox < Wo; ox++) {
          let s = bias ? bias[o]! : 0;
          for (let c = 0; c < Cg; c++)
            for (let ky = 0; ky < kh; ky++)
              for (let kx = 0; kx < kw; kx++) {
                const iy = oy * a.stride[0] - a.padding[0] + ky * a.dilation[0];
                const ix = ox * a.stride[1] - a.padding[1] + kx * a.dilation[1];
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                s += x[((n * C + g * Cg + c) * H + iy) * W + ix]! * w[((o * Cg + c) * kh + ky) * kw + kx]!;
              }
          out[((n * O + o) * Ho + oy) * Wo + ox] = s;
        }
    }
  return { out, shape: [N, O, Ho, Wo] };
}

/** Scatter form of the transposed convolution in float64. */
function refConvT(
  x: number[],
  xs: Dims4,
  w: number[],
  ws: Dims4,
  bias: number[] | null,
  a: ConvTransposeAttrs,
) {
  const [N, C, H, W] = xs;
  const [, Og, kh, kw] = ws;
  const Cg = C / a.groups;
  const O = Og * a.groups;
  const Ho = (H - 1) * a.stride[0] - 2 * a.padding[0] + a.dilation[0] * (kh - 1) + a.outputPadding[0] + 1;
  const Wo = (W - 1) * a.stride[1] - 2 * a.padding[1] + a.dilation[1] * (kw - 1) + a.outputPadding[1] + 1;
  const out = new Array<number>(N * O * Ho * Wo).fill(0);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) {
      const g = Math.floor(c / Cg);
      for (let iy = 0; iy < H; iy++)
        for (let ix = 0; ix < W; ix++)
          for (let o = 0; o < Og; o++)
            for (let ky = 0; ky < kh; ky++)
              for (let kx = 0; kx < kw; kx++) {
                const oy = iy * a.stride[0] - a.padding[0] + ky * a.dilation[0];
                const ox = ix * a.stride[1] - a.padding[1] + kx * a.dilation[1];
                if (oy < 0 || oy >= Ho || ox < 0 || ox >= Wo) continue;
                out[((n * O + g * Og + o) * Ho + oy) * Wo + ox]! +=
                  x[((n * C + c) * H + iy) * W + ix]! * w[((c * Og + o) * kh + ky) * kw + kx]!;
              }
    }
  if (bias) for (let i = 0; i < out.length; i++) out[i]! += bias[Math.floor(i / (Ho * Wo)) % O]!;
  return { out, shape: [N, O, Ho, Wo] };
}

const conv = (s: number[], p: number[], d: number[], g: number): ConvAttrs => ({
  stride: s as [number, number],
  padding: p as [number, number],
  dilation: d as [number, number],
  groups: g,
});

describe("conv2d", () => {
  const cases: [Dims4, Dims4, ConvAttrs][] = [
    [[2, 3, 13, 11], [5, 3, 3, 3], conv([1, 1], [1, 1], [1, 1], 1)],
    [[2, 3, 13, 11], [5, 3, 4, 4], conv([4, 4], [0, 0], [1, 1], 1)],
    [[2, 3, 13, 11], [5, 3, 3, 5], conv([2, 2], [1, 2], [1, 1], 1)],
    [[1, 4, 9, 10], [6, 2, 3, 3], conv([1, 2], [2, 1], [2, 3], 2)],
    [[2, 6, 5, 7], [6, 1, 3, 3], conv([1, 1], [1, 1], [1, 1], 6)],
    [[2, 8, 6, 5], [4, 8, 1, 1], conv([1, 1], [0, 0], [1, 1], 1)],
    [[3, 4, 6, 5], [6, 2, 1, 1], conv([1, 1], [0, 0], [1, 1], 2)],
    [[1, 1, 1, 1], [1, 1, 1, 1], conv([1, 1], [0, 0], [1, 1], 1)],
    [[0, 3, 5, 5], [2, 3, 3, 3], conv([1, 1], [1, 1], [1, 1], 1)],
    [[1, 2, 3, 3], [2, 2, 3, 3], conv([3, 3], [0, 0], [1, 1], 1)],
  ];
  for (const dtype of ["float64", "float32"] as const) {
    it(`${dtype} im2col+GEMM matches direct convolution (stride, padding, dilation, groups, 1×1, 0-size)`, () => {
      for (const [xs, ws, attrs] of cases) {
        for (const withBias of [true, false]) {
          const xv = randomValues(numelOf(xs), xs[1] + ws[0]);
          const wv = randomValues(numelOf(ws), 5);
          const bv = randomValues(ws[0], 6);
          const x = make(be, xs, xv, dtype);
          const w = make(be, ws, wv, dtype);
          const b = withBias ? make(be, [ws[0]], bv, dtype) : null;
          const ref = refConv(read(x), xs, read(w), ws, b ? read(b) : null, attrs);
          const out = Tensor.empty(ref.shape, dtype, be);
          F.conv2d(x.kernelView, w.kernelView, b?.kernelView ?? null, attrs, out.kernelView);
          expectClose(
            read(out),
            ref.out,
            dtype === "float32" ? 1e-5 : 1e-12,
            dtype === "float32" ? 1e-5 : 1e-12,
          );
          for (const t of [x, w, b, out]) t?.dispose();
        }
      }
    });
  }
});

describe("convTranspose2d", () => {
  const ct = (s: number[], p: number[], d: number[], g: number, op: number[]): ConvTransposeAttrs => ({
    ...conv(s, p, d, g),
    outputPadding: op as [number, number],
  });
  const cases: [Dims4, Dims4, ConvTransposeAttrs][] = [
    [[2, 4, 5, 7], [4, 3, 2, 2], ct([2, 2], [0, 0], [1, 1], 1, [0, 0])],
    [[2, 4, 5, 7], [4, 3, 4, 4], ct([2, 2], [1, 1], [1, 1], 1, [0, 0])],
    [[1, 4, 3, 4], [4, 2, 3, 3], ct([2, 3], [1, 0], [1, 1], 2, [1, 2])],
    [[2, 6, 4, 3], [6, 1, 3, 2], ct([1, 2], [0, 1], [2, 2], 3, [0, 1])],
    [[1, 2, 1, 1], [2, 3, 1, 1], ct([1, 1], [0, 0], [1, 1], 1, [0, 0])],
    [[0, 2, 3, 3], [2, 3, 2, 2], ct([2, 2], [0, 0], [1, 1], 1, [0, 0])],
  ];
  for (const dtype of ["float64", "float32"] as const) {
    it(`${dtype} GEMM+col2im matches the scatter definition (outputPadding, groups, dilation)`, () => {
      for (const [xs, ws, attrs] of cases) {
        for (const withBias of [true, false]) {
          const O = ws[1] * attrs.groups;
          const x = make(be, xs, randomValues(numelOf(xs), 3), dtype);
          const w = make(be, ws, randomValues(numelOf(ws), 4), dtype);
          const b = withBias ? make(be, [O], randomValues(O, 5), dtype) : null;
          const ref = refConvT(read(x), xs, read(w), ws, b ? read(b) : null, attrs);
          const out = Tensor.empty(ref.shape, dtype, be);
          F.convTranspose2d(x.kernelView, w.kernelView, b?.kernelView ?? null, attrs, out.kernelView);
          expectClose(
            read(out),
            ref.out,
            dtype === "float32" ? 1e-5 : 1e-12,
            dtype === "float32" ? 1e-5 : 1e-12,
          );
          for (const t of [x, w, b, out]) t?.dispose();
        }
      }
    });
  }
});

describe("large convolutions are processed in bands of rows", () => {
  it("conv2d whose im2col exceeds the column budget matches direct convolution", () => {
    const xs: Dims4 = [1, 64, 40, 100];
    const ws: Dims4 = [2, 64, 3, 3];
    const attrs = conv([1, 1], [1, 1], [1, 1], 1);
    const x = make(be, xs, randomValues(numelOf(xs), 1), "float64");
    const w = make(be, ws, randomValues(numelOf(ws), 2), "float64");
    const ref = refConv(read(x), xs, read(w), ws, null, attrs);
    const out = Tensor.empty(ref.shape, "float64", be);
    F.conv2d(x.kernelView, w.kernelView, null, attrs, out.kernelView);
    expectClose(read(out), ref.out, 1e-12, 1e-12);
    for (const t of [x, w, out]) t.dispose();
  });

  it("convTranspose2d whose column matrix exceeds the budget matches the scatter definition", () => {
    const xs: Dims4 = [1, 2, 100, 200];
    const ws: Dims4 = [2, 8, 4, 4];
    const attrs: ConvTransposeAttrs = { ...conv([2, 2], [1, 1], [1, 1], 1), outputPadding: [1, 0] };
    const x = make(be, xs, randomValues(numelOf(xs), 3), "float64");
    const w = make(be, ws, randomValues(numelOf(ws), 4), "float64");
    const ref = refConvT(read(x), xs, read(w), ws, null, attrs);
    const out = Tensor.empty(ref.shape, "float64", be);
    F.convTranspose2d(x.kernelView, w.kernelView, null, attrs, out.kernelView);
    expectClose(read(out), ref.out, 1e-12, 1e-12);
    for (const t of [x, w, out]) t.dispose();
  });
});
