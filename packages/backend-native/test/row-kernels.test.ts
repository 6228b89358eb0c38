/**
 * The native row kernels (reduce, softmax/logSoftmax, layerNorm, gelu, crossEntropy, adamUpdate and
 * the backward kernels) on shapes large enough to take their multithreaded, tiled and split paths,
 * which the conformance catalogue's small tensors never reach. Forward kernels are compared with
 * backend-js on the same inputs; backward kernels with float64 references computed here from the
 * same float32 inputs. Tolerances are stated where they are used.
 */
import { JsBackend } from "@tessera/backend-js";
import { type Backend, contiguousStrides, type DType, storageArray, type View } from "@tessera/core";
import { describe, expect, it } from "vitest";
import { NativeBackend } from "../src/index.js";
import { nativeAvailable } from "./native-available.js";
import { rng } from "./rng.js";

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Contiguous storage on `b` holding `values`. */
function put(b: Backend, dtype: DType, shape: readonly number[], values: ArrayLike<number>): View {
  const n = size(shape);
  const id = b.allocate(dtype, n);
  const a = storageArray(dtype, n);
  for (let i = 0; i < n; i++) a[i] = values[i]!;
  if (n > 0) b.write(id, a, 0);
  return { id, dtype, shape: [...shape], strides: contiguousStrides(shape), offset: 0 };
}

function empty(b: Backend, dtype: DType, shape: readonly number[]): View {
  return put(b, dtype, shape, new Float64Array(size(shape)));
}

function get(b: Backend, v: View): number[] {
  return Array.from(b.readSync!(v.id, v.offset, size(v.shape)));
}

/** Float32-rounded random values in [lo, hi). */
function values(n: number, r: () => number, lo = -4, hi = 4): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
  return a;
}

/** Fails with the first element outside |a − e| ≤ atol + rtol·|e|; NaN must match NaN, ±Inf exactly. */
function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol: number,
  atol: number,
  what: string,
) {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const ok = Number.isNaN(e)
      ? Number.isNaN(a)
      : !Number.isFinite(e)
        ? a === e
        : Math.abs(a - e) <= atol + rtol * Math.abs(e);
    if (!ok) expect.fail(`${what}: element ${i} is ${a}, expected ${e} (rtol ${rtol}, atol ${atol})`);
  }
}

function expectExact(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string) {
  expectClose(actual, expected, 0, 0, what);
}

const ULP = 2 ** -23;

describe.skipIf(!nativeAvailable)("native row kernels", () => {
  const nb = nativeAvailable ? new NativeBackend() : (null as unknown as NativeBackend);
  const js = new JsBackend();
  // biome-ignore lint/suspicious/noExplicitAny: the fused table is indexed by kernel name
  const nf = () => nb.fused as any;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  const jf = js.fused as any;

  describe("reduce agrees with backend-js on large shapes", () => {
    const r = rng(7);
    // Rows split into pieces (few outputs, long rows), columns split across rows, tiled columns,
    // reduced axes that are not neighbours, size-1 dims that coalesce away, a full reduction.
    const cases: { shape: number[]; axes: number[] }[] = [
      { shape: [3, 70000], axes: [1] },
      { shape: [100000, 3], axes: [0] },
      { shape: [2, 300, 700], axes: [1] },
      { shape: [64, 33, 40], axes: [0, 2] },
      { shape: [6, 40, 5, 30, 7], axes: [1, 3] },
      { shape: [5, 1, 7, 1, 9], axes: [1, 3] },
      { shape: [1 << 19], axes: [0] },
      { shape: [257, 1031], axes: [0, 1] },
    ];
    for (const { shape, axes } of cases) {
      const outShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
      it(`sum/prod/max/min float32 ${JSON.stringify(shape)} over ${JSON.stringify(axes)}`, () => {
        const n = size(shape);
        const x = values(n, r);
        // A few NaNs in the max/min input: every output containing one must be NaN.
        const xn = Float32Array.from(x);
        for (let k = 0; k < 5; k++) xn[Math.floor(r() * n)] = Number.NaN;
        for (const op of ["sum", "prod", "max", "min"] as const) {
          const src = op === "max" || op === "min" ? xn : op === "prod" ? x.map((v) => 1 + v / 4096) : x;
          const vn = put(nb, "float32", shape, src);
          const on = empty(nb, "float32", outShape);
          const vj = put(js, "float32", shape, src);
          const oj = empty(js, "float32", outShape);
          nb.reduce(op, vn, axes, on);
          js.reduce(op, vj, axes, oj);
          const a = get(nb, on);
          const e = get(js, oj);
          if (op === "sum") {
            // Both accumulate in float64 and round once: only the summation order differs, by far less
            // than one float32 ulp of Σ|x|; allow 2 ulp of the largest possible sum.
            const bound = 2 * ULP * 4 * (n / a.length);
            expectClose(a, e, 0, bound, `sum ${shape}`);
          } else if (op === "prod") {
            expectClose(a, e, 4 * ULP, 0, `prod ${shape}`);
          } else {
            expectExact(a, e, `${op} ${shape}`);
          }
        }
      });
    }

    it("int32 sums and products wrap modulo 2^32, bool max/min/prod, argmax/argmin with ties and NaN", () => {
      const shape = [40, 3000];
      const n = size(shape);
      const xi = new Int32Array(n);
      for (let i = 0; i < n; i++)
        xi[i] = r() < 0.5 ? 2147483647 - Math.floor(r() * 5) : Math.floor((r() - 0.5) * 10);
      const xb = new Uint8Array(n);
      for (let i = 0; i < n; i++) xb[i] = r() < 0.999 ? 1 : 0;
      const xf = Float32Array.from({ length: n }, () => Math.floor(r() * 7) - 3);
      for (let k = 0; k < 20; k++) xf[Math.floor(r() * n)] = Number.NaN;
      for (const axes of [[0], [1], [0, 1]]) {
        const outShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
        for (const [dtype, src, ops] of [
          ["int32", xi, ["sum", "prod", "max", "min"]],
          ["bool", xb, ["prod", "max", "min"]],
        ] as const) {
          for (const op of ops) {
            const on = empty(nb, dtype, outShape);
            const oj = empty(js, dtype, outShape);
            nb.reduce(op, put(nb, dtype, shape, src), axes, on);
            js.reduce(op, put(js, dtype, shape, src), axes, oj);
            expectExact(get(nb, on), get(js, oj), `${dtype} ${op} over ${axes}`);
          }
        }
        if (axes.length !== 1) continue;
        for (const op of ["argmax", "argmin"] as const) {
          for (const [dtype, src] of [
            ["float32", xf],
            ["int32", xi],
            ["bool", xb],
          ] as const) {
            const on = empty(nb, "int32", outShape);
            const oj = empty(js, "int32", outShape);
            nb.reduce(op, put(nb, dtype, shape, src), axes, on);
            js.reduce(op, put(js, dtype, shape, src), axes, oj);
            expectExact(get(nb, on), get(js, oj), `${dtype} ${op} over ${axes}`);
          }
        }
      }
    });

    it("max/min keep the first of ±0 and argmax/argmin the first NaN, whichever vector lane meets it", () => {
      // Rows long enough for several vector iterations; the first zero / NaN sits in a later lane than
      // a second one (47 is in lane 3, 7 or 15 and 49 in lane 1 for 4, 8 or 16 lanes).
      const len = 100;
      const rows: number[][] = [];
      for (const [first, second] of [
        [-0, 0],
        [0, -0],
      ]) {
        const row = new Array<number>(len).fill(-1);
        row[47] = first!;
        row[49] = second!;
        rows.push(row);
        rows.push(row.map((v) => (v === -1 ? 1 : v)));
      }
      const nanRow = Array.from({ length: len }, (_, i) => i % 7);
      nanRow[47] = Number.NaN;
      nanRow[49] = Number.NaN;
      rows.push(nanRow);
      const flat = rows.flat();
      const shape = [rows.length, len];
      for (const op of ["max", "min", "argmax", "argmin"] as const) {
        const dtype = op.startsWith("arg") ? "int32" : "float32";
        const on = empty(nb, dtype, [rows.length, 1]);
        const oj = empty(js, dtype, [rows.length, 1]);
        nb.reduce(op, put(nb, "float32", shape, flat), [1], on);
        js.reduce(op, put(js, "float32", shape, flat), [1], oj);
        const a = get(nb, on);
        const e = get(js, oj);
        for (let i = 0; i < e.length; i++) {
          const same = Object.is(a[i], e[i]) || (Number.isNaN(a[i]!) && Number.isNaN(e[i]!));
          if (!same)
            expect.fail(
              `${op} row ${i}: ${Object.is(a[i], -0) ? "-0" : a[i]}, expected ${Object.is(e[i], -0) ? "-0" : e[i]}`,
            );
        }
      }
    });

    it("rejects malformed calls", () => {
      const x = put(nb, "float32", [4, 5], new Float32Array(20));
      expect(() => nb.reduce("sum", x, [1], empty(nb, "float32", [4, 5]))).toThrow(/reduced axes/);
      expect(() => nb.reduce("sum", x, [2], empty(nb, "float32", [4, 1]))).toThrow(/axis out of range/);
      expect(() => nb.reduce("argmax", x, [0, 1], empty(nb, "int32", [1, 1]))).toThrow(/exactly one axis/);
      expect(() => nb.reduce("argmax", x, [1], empty(nb, "float32", [4, 1]))).toThrow(/int32/);
    });
  });

  describe("softmax and logSoftmax agree with backend-js", () => {
    const r = rng(11);
    for (const { shape, dim } of [
      { shape: [37, 5000], dim: 1 },
      { shape: [8, 300, 200], dim: 1 },
      { shape: [3, 700, 1], dim: 0 },
      { shape: [4000, 3], dim: 1 },
    ]) {
      it(`${JSON.stringify(shape)} over dim ${dim}, with -Inf, NaN and +Inf rows`, () => {
        const n = size(shape);
        const x = values(n, r, -20, 20);
        // Poison a few elements: their rows (along dim) must come out as backend-js's (NaN rows).
        for (const v of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])
          x[Math.floor(r() * n)] = v;
        if (dim === shape.length - 1) for (let i = 0; i < shape[dim]!; i++) x[i] = Number.NEGATIVE_INFINITY;
        for (const k of ["softmax", "logSoftmax"]) {
          const on = empty(nb, "float32", shape);
          const oj = empty(js, "float32", shape);
          nf()[k](put(nb, "float32", shape, x), dim, on);
          jf[k](put(js, "float32", shape, x), dim, oj);
          // float32 exp (≤ 2 ulp) against float64 Math.exp, float64 sums on both sides: a few ulp.
          expectClose(get(nb, on), get(js, oj), 1e-6, 1e-7, `${k} ${shape}`);
        }
      });
    }
  });

  describe("softmaxBackward and logSoftmaxBackward match float64 references", () => {
    const r = rng(13);
    for (const { shape, dim } of [
      { shape: [33, 3000], dim: 1 },
      { shape: [5, 400, 300], dim: 1 },
      { shape: [2, 3, 4], dim: 0 },
    ]) {
      it(`${JSON.stringify(shape)} over dim ${dim}`, () => {
        const n = size(shape);
        const len = shape[dim]!;
        const inner = size(shape.slice(dim + 1));
        const outer = n / (len * inner);
        const x = values(n, r, -3, 3);
        const dy = values(n, r, -1, 1);
        for (const log of [false, true]) {
          const y = new Float32Array(n);
          const on = empty(nb, "float32", shape);
          nf()[log ? "logSoftmax" : "softmax"](put(nb, "float32", shape, x), dim, on);
          y.set(get(nb, on));
          const ref = new Float64Array(n);
          const scale = new Float64Array(n);
          for (let o = 0; o < outer; o++)
            for (let j = 0; j < inner; j++) {
              let s = 0;
              for (let k = 0; k < len; k++) {
                const p = (o * len + k) * inner + j;
                s += log ? dy[p]! : dy[p]! * y[p]!;
              }
              for (let k = 0; k < len; k++) {
                const p = (o * len + k) * inner + j;
                ref[p] = log ? dy[p]! - Math.exp(y[p]!) * s : y[p]! * (dy[p]! - s);
                scale[p] = log
                  ? Math.abs(dy[p]!) + Math.abs(Math.exp(y[p]!) * s)
                  : Math.abs(y[p]!) * (Math.abs(dy[p]!) + Math.abs(s));
              }
            }
          const dx = empty(nb, "float32", shape);
          nf()[log ? "logSoftmaxBackward" : "softmaxBackward"](
            put(nb, "float32", shape, y),
            put(nb, "float32", shape, dy),
            dim,
            dx,
          );
          const a = get(nb, dx);
          // One rounding of the result plus a float32 exp (≤ 2 ulp) scaled by the terms' magnitude.
          for (let i = 0; i < n; i++) {
            const tol = 4 * ULP * scale[i]! + 1e-30;
            if (!(Math.abs(a[i]! - ref[i]!) <= tol))
              expect.fail(
                `${log ? "log" : ""}softmaxBackward ${shape}: element ${i} is ${a[i]}, expected ${ref[i]}`,
              );
          }
        }
      });
    }
  });

  describe("layerNorm", () => {
    const r = rng(17);
    it("forward agrees with backend-js, with and without weight/bias, and a large mean", () => {
      for (const [rows, sz] of [
        [3000, 64],
        [7, 50000],
        [100, 1],
      ]) {
        const n = rows! * sz!;
        const x = values(n, r);
        for (let i = 0; i < sz!; i++) x[i] = 1000 + x[i]! / 100; // row 0: mean ≫ std
        const w = values(sz!, r);
        const bias = values(sz!, r);
        for (const [hasW, hasB] of [
          [true, true],
          [true, false],
          [false, true],
          [false, false],
        ]) {
          const shape = [rows!, sz!];
          const on = empty(nb, "float32", shape);
          const oj = empty(js, "float32", shape);
          nf().layerNorm(
            put(nb, "float32", shape, x),
            hasW ? put(nb, "float32", [sz!], w) : null,
            hasB ? put(nb, "float32", [sz!], bias) : null,
            sz,
            1e-5,
            on,
          );
          jf.layerNorm(
            put(js, "float32", shape, x),
            hasW ? put(js, "float32", [sz!], w) : null,
            hasB ? put(js, "float32", [sz!], bias) : null,
            sz,
            1e-5,
            oj,
          );
          // float64 statistics on both sides; x − mean in float32 pairs and a float32 rstd: a few ulp of
          // |x̂·w| + |b| (outputs are O(4)·O(4)).
          expectClose(get(nb, on), get(js, oj), 1e-5, 1e-5, `layerNorm [${rows},${sz}] w=${hasW} b=${hasB}`);
        }
      }
    });

    it("backward matches a float64 reference and does not depend on the thread count", () => {
      for (const [rows, sz] of [
        [5000, 48],
        [3, 20000],
      ]) {
        const n = rows! * sz!;
        const shape = [rows!, sz!];
        const x = values(n, r);
        const dy = values(n, r, -1, 1);
        const w = values(sz!, r);
        const eps = 1e-5;
        for (const hasW of [true, false]) {
          const dxRef = new Float64Array(n);
          const dwRef = new Float64Array(sz!);
          const dbRef = new Float64Array(sz!);
          const dwAbs = new Float64Array(sz!);
          const dbAbs = new Float64Array(sz!);
          const dxScale = new Float64Array(n);
          for (let row = 0; row < rows!; row++) {
            const o = row * sz!;
            let s = 0;
            for (let i = 0; i < sz!; i++) s += x[o + i]!;
            const mean = s / sz!;
            let ss = 0;
            for (let i = 0; i < sz!; i++) ss += (x[o + i]! - mean) ** 2;
            const rstd = 1 / Math.sqrt(ss / sz! + eps);
            let sg = 0;
            let sgx = 0;
            let gmax = 0;
            for (let i = 0; i < sz!; i++) {
              const h = (x[o + i]! - mean) * rstd;
              const g = dy[o + i]! * (hasW ? w[i]! : 1);
              sg += g;
              sgx += g * h;
              gmax = Math.max(gmax, Math.abs(g));
              dwRef[i]! += dy[o + i]! * h;
              dbRef[i]! += dy[o + i]!;
              dwAbs[i]! += Math.abs(dy[o + i]! * h);
              dbAbs[i]! += Math.abs(dy[o + i]!);
            }
            for (let i = 0; i < sz!; i++) {
              const h = (x[o + i]! - mean) * rstd;
              const g = dy[o + i]! * (hasW ? w[i]! : 1);
              dxRef[o + i] = rstd * (g - sg / sz! - (h * sgx) / sz!);
              dxScale[o + i] = rstd * (Math.abs(g) + gmax + Math.abs(h) * gmax * 4);
            }
          }
          const run = () => {
            const dx = empty(nb, "float32", shape);
            const dw = empty(nb, "float32", [sz!]);
            const db = empty(nb, "float32", [sz!]);
            nf().layerNormBackward(
              put(nb, "float32", shape, x),
              hasW ? put(nb, "float32", [sz!], w) : null,
              put(nb, "float32", shape, dy),
              sz,
              eps,
              dx,
              dw,
              db,
            );
            return { dx: get(nb, dx), dw: get(nb, dw), db: get(nb, db) };
          };
          const threads = nb.numThreads;
          nb.setNumThreads(1);
          const one = run();
          nb.setNumThreads(Math.max(2, threads));
          const many = run();
          nb.setNumThreads(threads);
          expectExact(many.dw, one.dw, "dweight, 1 thread vs many");
          expectExact(many.db, one.db, "dbias, 1 thread vs many");
          // dx: x̂ in float32 (a few ulp) times terms of size ≤ dxScale.
          for (let i = 0; i < n; i++)
            if (!(Math.abs(many.dx[i]! - dxRef[i]!) <= 16 * ULP * dxScale[i]!))
              expect.fail(
                `layerNormBackward dx [${rows},${sz}] w=${hasW}: element ${i} is ${many.dx[i]}, expected ${dxRef[i]}`,
              );
          // dweight/dbias: float64 sums of float32 products; x̂ carries a few ulp.
          for (let i = 0; i < sz!; i++) {
            if (!(Math.abs(many.dw[i]! - dwRef[i]!) <= 8 * ULP * dwAbs[i]!))
              expect.fail(`dweight ${i}: ${many.dw[i]}, expected ${dwRef[i]}`);
            if (!(Math.abs(many.db[i]! - dbRef[i]!) <= 2 * ULP * dbAbs[i]!))
              expect.fail(`dbias ${i}: ${many.db[i]}, expected ${dbRef[i]}`);
          }
          // Absent dweight/dbias: dx alone is written and equals the full call's.
          const dxOnly = empty(nb, "float32", shape);
          nf().layerNormBackward(
            put(nb, "float32", shape, x),
            hasW ? put(nb, "float32", [sz!], w) : null,
            put(nb, "float32", shape, dy),
            sz,
            eps,
            dxOnly,
            null,
            null,
          );
          expectExact(get(nb, dxOnly), many.dx, "dx without parameter gradients");
        }
      }
    });
  });

  describe("gelu", () => {
    // erf by its Taylor series (|x| < 3) or continued fraction for erfc, to float64 accuracy.
    const erf = (x: number): number => {
      const ax = Math.abs(x);
      if (ax < 3) {
        let term = x;
        let sum = x;
        for (let k = 1; k < 200; k++) {
          term *= (-x * x) / k;
          const t = term / (2 * k + 1);
          sum += t;
          if (Math.abs(t) < 1e-18 * Math.abs(sum)) break;
        }
        return (2 / Math.sqrt(Math.PI)) * sum;
      }
      // erfc(a) = exp(−a²)/√π · 1/(a + 1/2/(a + 1/(a + 3/2/(a + …)))), evaluated bottom-up.
      let f = ax;
      for (let k = 60; k >= 1; k--) f = ax + k / 2 / f;
      const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
      return x > 0 ? 1 - erfc : erfc - 1;
    };
    const C = Math.sqrt(2 / Math.PI);
    const ref = (v: number, tanh: boolean): [number, number] => {
      if (tanh) {
        const u = C * (v + 0.044715 * v ** 3);
        const t = Math.tanh(u);
        return [0.5 * v * (1 + t), 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * C * (1 + 3 * 0.044715 * v * v)];
      }
      const cdf = v < -3 ? 0.5 * (1 - erf(-v / Math.SQRT2)) : 0.5 * (1 + erf(v / Math.SQRT2));
      return [v * cdf, cdf + (v * Math.exp(-0.5 * v * v)) / Math.sqrt(2 * Math.PI)];
    };
    it("forward and backward of both forms match float64 references (and backend-js forward)", () => {
      const n = 200001;
      const x = new Float32Array(n);
      for (let i = 0; i < n; i++) x[i] = -12 + (24 * i) / (n - 1);
      x.set([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, -0, 1e-30, -1e-30], 0);
      const r = rng(19);
      const dy = values(n, r, -1, 1);
      for (const tanh of [false, true]) {
        const approx = tanh ? "tanh" : "none";
        const out = empty(nb, "float32", [n]);
        nf().gelu(put(nb, "float32", [n], x), approx, out);
        const oj = empty(js, "float32", [n]);
        jf.gelu(put(js, "float32", [n], x), approx, oj);
        const a = get(nb, out);
        expectClose(a, get(js, oj), 1e-5, 1e-6, `gelu ${approx} vs backend-js`);
        const dx = empty(nb, "float32", [n]);
        nf().geluBackward(put(nb, "float32", [n], x), put(nb, "float32", [n], dy), approx, dx);
        const d = get(nb, dx);
        const fw = new Float64Array(n);
        const bw = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          const [f, g] = ref(x[i]!, tanh);
          fw[i] = f;
          bw[i] = dy[i]! * g;
        }
        // The conformance family for transcendental composites: 1e-5 relative, 1e-6 absolute.
        expectClose(a, fw, 1e-5, 1e-6, `gelu ${approx} vs float64`);
        expectClose(d, bw, 1e-5, 1e-6, `geluBackward ${approx} vs float64`);
      }
    });
  });

  it("fused row kernels throw on malformed calls instead of reading out of bounds", () => {
    const x = put(nb, "float32", [4, 6], new Float32Array(24));
    const w5 = put(nb, "float32", [5], new Float32Array(5));
    expect(() => nf().softmax(x, 1, empty(nb, "float32", [4, 5]))).toThrow(/shape/);
    expect(() => nf().softmax(x, 2, empty(nb, "float32", [4, 6]))).toThrow(/dim out of range/);
    expect(() =>
      nf().softmaxBackward(x, empty(nb, "float32", [4, 5]), 1, empty(nb, "float32", [4, 6])),
    ).toThrow(/one shape/);
    expect(() => nf().layerNorm(x, null, null, 5, 1e-5, empty(nb, "float32", [4, 6]))).toThrow(/multiple/);
    expect(() => nf().layerNorm(x, w5, null, 6, 1e-5, empty(nb, "float32", [4, 6]))).toThrow(
      /normalizedSize/,
    );
    expect(() => nf().layerNormBackward(x, null, x, 6, 1e-5, empty(nb, "float32", [4, 6]), w5, null)).toThrow(
      /normalizedSize/,
    );
    expect(() =>
      nf().geluBackward(x, empty(nb, "float32", [24]), "none", empty(nb, "float32", [4, 6])),
    ).toThrow(/one shape/);
    const t = put(nb, "int32", [4], [0, 1, 2, 3]);
    expect(() =>
      nf().crossEntropy(
        x,
        t,
        w5,
        { ignoreIndex: -100, labelSmoothing: 0, reduction: "sum" },
        empty(nb, "float32", []),
      ),
    ).toThrow(/C elements/);
    expect(() =>
      nf().crossEntropy(
        x,
        t,
        null,
        { ignoreIndex: -100, labelSmoothing: 0, reduction: "none" },
        empty(nb, "float32", []),
      ),
    ).toThrow(/\[N\]/);
    const v = put(nb, "float32", [24], new Float32Array(24));
    const adam = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, step: 1 };
    expect(() => nf().adamUpdate(v, v, v, w5, adam)).toThrow(/one size/);
  });

  describe("crossEntropy and adamUpdate agree with backend-js", () => {
    const r = rng(23);
    it("crossEntropy with weights, ignored rows and label smoothing, every reduction", () => {
      const N = 700;
      const C = 1000;
      const logits = values(N * C, r, -10, 10);
      const target = Int32Array.from({ length: N }, () => (r() < 0.1 ? -100 : Math.floor(r() * C)));
      const w = values(C, r, 0.1, 2);
      for (const hasW of [false, true])
        for (const labelSmoothing of [0, 0.1])
          for (const reduction of ["none", "mean", "sum"] as const) {
            const attrs = { ignoreIndex: -100, labelSmoothing, reduction };
            const outShape = reduction === "none" ? [N] : [];
            const on = empty(nb, "float32", outShape);
            const oj = empty(js, "float32", outShape);
            nf().crossEntropy(
              put(nb, "float32", [N, C], logits),
              put(nb, "int32", [N], target),
              hasW ? put(nb, "float32", [C], w) : null,
              attrs,
              on,
            );
            jf.crossEntropy(
              put(js, "float32", [N, C], logits),
              put(js, "int32", [N], target),
              hasW ? put(js, "float32", [C], w) : null,
              attrs,
              oj,
            );
            // float32 exp inside a float64 log-sum-exp: a few float32 ulp of each row's loss.
            expectClose(
              get(nb, on),
              get(js, oj),
              1e-6,
              1e-6,
              `crossEntropy w=${hasW} ε=${labelSmoothing} ${reduction}`,
            );
          }
      const bad = Int32Array.from(target);
      bad[5] = C;
      expect(() =>
        nf().crossEntropy(
          put(nb, "float32", [N, C], logits),
          put(nb, "int32", [N], bad),
          null,
          { ignoreIndex: -100, labelSmoothing: 0, reduction: "mean" },
          empty(nb, "float32", []),
        ),
      ).toThrow(/out of bounds/);
    });

    it("adamUpdate, Adam and AdamW, rounds the same float64 arithmetic once per value", () => {
      const n = 300007;
      const p = values(n, r);
      const g = values(n, r, -1, 1);
      const m = values(n, r, -0.1, 0.1);
      const v = values(n, r, 0, 0.01);
      for (const decoupled of [false, true]) {
        const attrs = {
          lr: 1e-3,
          beta1: 0.9,
          beta2: 0.999,
          eps: 1e-8,
          weightDecay: 0.01,
          decoupled,
          step: 7,
        };
        const vn = [p, g, m, v].map((a) => put(nb, "float32", [n], a));
        const vj = [p, g, m, v].map((a) => put(js, "float32", [n], a));
        nf().adamUpdate(vn[0], vn[1], vn[2], vn[3], attrs);
        jf.adamUpdate(vj[0], vj[1], vj[2], vj[3], attrs);
        // Same float64 expression on both sides; libm pow/sqrt may differ from V8's by a float64 ulp,
        // which can flip a float32 rounding: 1 ulp.
        for (const i of [0, 2, 3])
          expectClose(get(nb, vn[i]!), get(js, vj[i]!), ULP, 0, `adam (decoupled ${decoupled}) view ${i}`);
      }
    });
  });
});
