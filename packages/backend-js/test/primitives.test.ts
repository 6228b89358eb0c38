import {
  bf16ToF32,
  castScalar,
  type DType,
  f16ToF32,
  f32ToBf16,
  f32ToF16,
  philoxFill,
  type RandomDistribution,
  Tensor,
} from "@tessera/core";
import { describe, expect, it } from "vitest";
import { JsBackend } from "../src/index.js";
import { make, numelOf, randomValues, read } from "./helpers.js";

const be = new JsBackend();

describe("unary / binary fast paths", () => {
  it("contiguous and transposed (strided) operands give identical results", () => {
    const x = make(be, [6, 7], randomValues(42, 1, -3, 3));
    const y = make(be, [6, 7], randomValues(42, 2, -3, 3));
    const xt = x.transpose(0, 1).contiguous();
    for (const op of ["exp", "tanh", "abs", "sigmoid", "relu"] as const) {
      const a = Tensor.empty([6, 7], "float32", be);
      be.unary(op, x.kernelView, a.kernelView);
      const b = Tensor.empty([7, 6], "float32", be);
      be.unary(op, x.transpose(0, 1).kernelView, b.kernelView);
      expect(read(b)).toEqual(read(a.transpose(0, 1).contiguous()));
    }
    for (const op of ["add", "mul", "div", "maximum", "lt"] as const) {
      const dt = op === "lt" ? "bool" : "float32";
      const a = Tensor.empty([6, 7], dt, be);
      be.binary(op, x.kernelView, y.kernelView, a.kernelView);
      const b = Tensor.empty([7, 6], dt, be);
      be.binary(op, xt.kernelView, y.transpose(0, 1).kernelView, b.kernelView);
      expect(read(b)).toEqual(read(a.transpose(0, 1).contiguous()));
    }
  });

  it("a stride-0 broadcast operand is read once per row", () => {
    const x = make(be, [3, 4], randomValues(12, 3));
    const s = make(be, [1], [2.5]);
    const out = Tensor.empty([3, 4], "float32", be);
    be.binary("mul", x.kernelView, s.asStrided([3, 4], [0, 0], 0).kernelView, out.kernelView);
    expect(read(out)).toEqual(read(x).map((v) => Math.fround(v * 2.5)));
  });
});

describe("copy between dtypes", () => {
  const dtypes: DType[] = ["float32", "float64", "int32", "bool", "float16", "bfloat16"];
  const values = [0, -0, 1.5, -2.7, 3, 65504, 1e-5, -1e9, Number.NaN, Number.POSITIVE_INFINITY];
  /** What `to` holds after converting a value read from `from` (the contract's rules, one value at a time). */
  function convert(v: number, to: DType): number {
    if (to === "bool") return v !== 0 ? 1 : 0;
    if (to === "int32") return Number.isFinite(v) ? Math.trunc(v) | 0 : 0;
    if (to === "float16") return f16ToF32(f32ToF16(v));
    if (to === "bfloat16") return bf16ToF32(f32ToBf16(v));
    return castScalar(to, v);
  }
  it("every dtype pair converts like the scalar rules, contiguous and strided", () => {
    for (const from of dtypes) {
      const src = make(be, [2, 5], values, from);
      const srcValues = read(src);
      for (const to of dtypes) {
        for (const strided of [false, true]) {
          const dst = Tensor.empty(strided ? [5, 2] : [2, 5], to, be);
          const view = strided ? src.transpose(0, 1) : src;
          be.copy(view.kernelView, dst.kernelView);
          const expected = (
            strided ? [0, 5, 1, 6, 2, 7, 3, 8, 4, 9].map((i) => srcValues[i]!) : srcValues
          ).map((v) => convert(v, to));
          const got = read(dst);
          for (let i = 0; i < 10; i++) {
            if (!Object.is(got[i], expected[i]) && !(got[i] === 0 && expected[i] === 0)) {
              expect.fail(
                `${from}→${to}${strided ? " strided" : ""} [${i}]: got ${got[i]}, expected ${expected[i]}`,
              );
            }
          }
          if (view !== src) view.dispose();
          dst.dispose();
        }
      }
      src.dispose();
    }
  });

  it("fill writes contiguous and strided views", () => {
    const t = make(be, [3, 4], new Array(12).fill(0));
    be.fill(t.slice(1, 1, 3).kernelView, 7);
    expect(read(t)).toEqual([0, 7, 7, 0, 0, 7, 7, 0, 0, 7, 7, 0]);
    be.fill(t.kernelView, -1.5);
    expect(read(t)).toEqual(new Array(12).fill(-1.5));
  });
});

describe("reduce", () => {
  function refReduce(
    op: "sum" | "max" | "min" | "prod",
    x: number[],
    shape: number[],
    axes: number[],
  ): number[] {
    const outShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const n = numelOf(outShape);
    const init = op === "sum" ? 0 : op === "prod" ? 1 : op === "max" ? -Infinity : Infinity;
    const out = new Array<number>(n).fill(init);
    const strides = shape.map((_, i) => numelOf(shape.slice(i + 1)));
    const oStrides = outShape.map((_, i) => numelOf(outShape.slice(i + 1)));
    for (let f = 0; f < x.length; f++) {
      let o = 0;
      for (let d = 0; d < shape.length; d++) {
        const c = Math.floor(f / strides[d]!) % shape[d]!;
        if (!axes.includes(d)) o += c * oStrides[d]!;
      }
      const v = x[f]!;
      if (op === "sum") out[o]! += v;
      else if (op === "prod") out[o]! *= v;
      else if (Number.isNaN(v) || Number.isNaN(out[o]!)) out[o] = Number.NaN;
      else out[o] = op === "max" ? Math.max(out[o]!, v) : Math.min(out[o]!, v);
    }
    return out;
  }
  it("single, leading, trailing, middle and split axis sets match a reference (float64, with NaN)", () => {
    const shape = [3, 4, 5, 2];
    const x = randomValues(120, 8, -2, 2);
    x[17] = Number.NaN;
    const t = make(be, shape, x, "float64");
    for (const axes of [[0], [1], [3], [0, 1], [2, 3], [1, 2], [0, 2], [1, 3], [0, 1, 2, 3]]) {
      for (const op of ["sum", "max", "min", "prod"] as const) {
        const out = Tensor.empty(
          shape.map((d, i) => (axes.includes(i) ? 1 : d)),
          "float64",
          be,
        );
        be.reduce(op, t.kernelView, axes, out.kernelView);
        const ref = refReduce(op, x, shape, axes);
        const got = read(out);
        for (let i = 0; i < ref.length; i++) {
          const ok = Number.isNaN(ref[i]!)
            ? Number.isNaN(got[i]!)
            : Math.abs(got[i]! - ref[i]!) <= 1e-12 * (1 + Math.abs(ref[i]!));
          if (!ok) expect.fail(`${op} over [${axes}] element ${i}: got ${got[i]}, expected ${ref[i]}`);
        }
        out.dispose();
      }
    }
    t.dispose();
  });

  it("sum over an empty axis is 0", () => {
    const t = Tensor.empty([3, 0], "float32", be);
    const out = Tensor.empty([3, 1], "float32", be);
    be.reduce("sum", t.kernelView, [1], out.kernelView);
    expect(read(out)).toEqual([0, 0, 0]);
  });
});

describe("random", () => {
  const dists: RandomDistribution[] = [
    { kind: "uniform", low: -2, high: 3 },
    { kind: "normal", mean: 1, std: 0.5 },
    { kind: "bernoulli", p: 0.3 },
    { kind: "randint", low: -5, high: 17 },
  ];
  it("is bit-identical with core's philoxFill reference for every dtype and odd lengths", () => {
    for (const dist of dists) {
      for (const dtype of ["float32", "float64", "int32", "float16", "bfloat16"] as const) {
        for (const n of [1, 7, 33]) {
          const state = { key: [0x12345678, 0x9abcdef0] as const, counter: 5 };
          const t = Tensor.empty([n], dtype, be);
          be.random(t.kernelView, dist, state);
          const ref = new Float64Array(n);
          philoxFill(ref, dist, state);
          expect(read(t)).toEqual(Array.from(ref, (v) => castScalar(dtype, v)));
          t.dispose();
        }
      }
    }
  });
});

describe("where", () => {
  it("contiguous and broadcast (stride-0) operands select per element", () => {
    const cond = make(be, [2, 3], [1, 0, 1, 0, 0, 1], "bool");
    const a = make(be, [2, 3], [1, 2, 3, 4, 5, 6]);
    const b = make(be, [2, 3], [-1, -2, -3, -4, -5, -6]);
    const out = Tensor.empty([2, 3], "float32", be);
    be.where(cond.kernelView, a.kernelView, b.kernelView, out.kernelView);
    expect(read(out)).toEqual([1, -2, 3, -4, -5, 6]);
    const s = make(be, [1], [9]);
    be.where(cond.kernelView, a.kernelView, s.asStrided([2, 3], [0, 0], 0).kernelView, out.kernelView);
    expect(read(out)).toEqual([1, 9, 3, 9, 9, 6]);
  });
});
