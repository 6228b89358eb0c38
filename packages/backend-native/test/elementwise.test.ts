/**
 * The native elementwise primitives (copy, fill, unary, binary, where, random, gather, scatterAdd)
 * against backend-js on the same storages, bit for bit: random strided views (permuted, stepped,
 * offset, broadcast with stride 0, empty dims) over inputs full of edge values (NaN, ±Inf, ±0,
 * halves, out-of-int32-range floats, INT32_MIN). Outputs must agree exactly (any NaN matches any
 * NaN). Transcendental float32 ops compute in float64 on both sides; libm and V8 may differ in the
 * last float64 bits (V8 tanh is ~2 ulps off), so those compare within 2 ulps of the output dtype. Malformed calls throw.
 */

import { JsBackend } from "@tessera/backend-js";
import {
  type Backend,
  BINARY_OPS,
  type DataId,
  type DType,
  storageArray,
  UNARY_OPS,
  type View,
} from "@tessera/core";
import { describe, expect, it } from "vitest";
import { NativeBackend } from "../src/index.js";
import { nativeAvailable } from "./native-available.js";
import { rng } from "./rng.js";

const F_SPECIAL = [
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  0,
  -0,
  0.5,
  -0.5,
  1.5,
  2.5,
  -2.5,
  1,
  -1,
  3e9,
  -3e9,
  2147483647.5,
  -2147483648,
  1e-40,
  65504,
  70000,
  1e-8,
  100,
  -100,
];
const I_SPECIAL = [0, 1, -1, 2, -2, 2147483647, -2147483648, 65536, 46341, -46341, 7, -7];

function fillStorage(dtype: DType, n: number, r: () => number): ReturnType<typeof storageArray> {
  const a = storageArray(dtype, n);
  for (let i = 0; i < n; i++) {
    const pick = r();
    switch (dtype) {
      case "float32":
      case "float64":
        a[i] =
          pick < 0.3
            ? F_SPECIAL[Math.floor(r() * F_SPECIAL.length)]!
            : pick < 0.5
              ? Math.round((r() * 2 - 1) * 8) / 2
              : (r() * 2 - 1) * 10 ** (r() * 6 - 3);
        break;
      case "int32":
        a[i] = pick < 0.3 ? I_SPECIAL[Math.floor(r() * I_SPECIAL.length)]! : Math.floor((r() * 2 - 1) * 100);
        break;
      case "bool":
        a[i] = r() < 0.5 ? 1 : 0;
        break;
      default:
        // Half bit patterns: every class (NaN, ±Inf, ±0, subnormals) appears.
        a[i] =
          pick < 0.2
            ? [0x7c00, 0xfc00, 0x7e00, 0x8000, 0, 0x0001, 0x8001][Math.floor(r() * 7)]!
            : Math.floor(r() * 65536);
    }
  }
  return a;
}

interface Pair {
  js: Backend;
  nat: Backend;
}

interface Made {
  js: View;
  nat: View;
  size: number;
}

/** A random view of `shape` (permuted, stepped, offset; inputs may broadcast) on both backends. */
function makeView(p: Pair, dtype: DType, shape: number[], r: () => number, input: boolean): Made {
  const rank = shape.length;
  const order = shape.map((_, i) => i).sort(() => r() - 0.5);
  const strides = new Array<number>(rank).fill(0);
  let s = 1;
  for (const d of order.reverse()) {
    const bcast = input && r() < 0.2;
    const step = r() < 0.3 ? 2 : 1;
    strides[d] = bcast ? 0 : s * step;
    if (!bcast) s *= shape[d]! * step + (r() < 0.3 ? 1 : 0);
  }
  const offset = Math.floor(r() * 3);
  let extent = offset + 1;
  for (let d = 0; d < rank; d++) extent += Math.max(0, shape[d]! - 1) * strides[d]!;
  const size = Math.max(extent, 1);
  const data = fillStorage(dtype, size, r);
  const mk = (b: Backend): View => {
    const id = b.allocate(dtype, size) as DataId;
    b.write(id, data, 0);
    return { id, dtype, shape, strides, offset };
  };
  return { js: mk(p.js), nat: mk(p.nat), size };
}

function contiguousView(p: Pair, dtype: DType, shape: number[], r: () => number): Made {
  const rank = shape.length;
  const strides = new Array<number>(rank);
  let s = 1;
  for (let d = rank - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d]!;
  }
  const offset = Math.floor(r() * 2);
  const size = Math.max(offset + s, 1);
  const data = fillStorage(dtype, size, r);
  const mk = (b: Backend): View => {
    const id = b.allocate(dtype, size) as DataId;
    b.write(id, data, 0);
    return { id, dtype, shape, strides, offset };
  };
  return { js: mk(p.js), nat: mk(p.nat), size };
}

/** Rewrites an int32 operand with small values (int32 pow stays below 2^53, where it is exact). */
function smallInts(p: Pair, m: Made, r: () => number, lo: number, hi: number): void {
  const a = storageArray("int32", m.size);
  for (let i = 0; i < m.size; i++) a[i] = lo + Math.floor(r() * (hi - lo + 1));
  p.js.write(m.js.id, a, 0);
  p.nat.write(m.nat.id, a, 0);
}

function randShape(r: () => number, maxRank = 4, maxDim = 5): number[] {
  const rank = Math.floor(r() * (maxRank + 1));
  return Array.from({ length: rank }, () => (r() < 0.05 ? 0 : 1 + Math.floor(r() * maxDim)));
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);
function f32Bits(x: number): number {
  F32[0] = x;
  return U32[0]!;
}

/** Reads both outputs and compares them; `ulps` allows float32 last-bit differences. */
function expectSame(p: Pair, m: Made, what: string, ulps = 0): void {
  const a = p.js.readSync!(m.js.id, 0, m.size);
  const b = p.nat.readSync!(m.nat.id, 0, m.size);
  const dtype = m.js.dtype;
  for (let i = 0; i < m.size; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (dtype === "float16" || dtype === "bfloat16") {
      const nan = (h: number) => (dtype === "float16" ? (h & 0x7fff) > 0x7c00 : (h & 0x7fff) > 0x7f80);
      if (nan(x) && nan(y)) continue;
    } else if (Number.isNaN(x) && Number.isNaN(y)) continue;
    if (Object.is(x, y)) continue;
    if (ulps > 0 && dtype === "float32" && Math.sign(x) === Math.sign(y)) {
      if (Math.abs(f32Bits(x) - f32Bits(y)) <= ulps) continue;
    }
    if (ulps > 0 && dtype === "float64" && Math.abs(x - y) <= ulps * 2.3e-16 * Math.abs(x) + 1e-300) continue;
    throw new Error(`${what}: element ${i}: backend-js ${x}, native ${y}`);
  }
}

const DTYPES: DType[] = ["float32", "int32", "bool", "float16", "bfloat16", "float64"];
const TRANSCENDENTAL = new Set(["exp", "log", "log1p", "expm1", "sin", "cos", "tanh", "sigmoid", "erf"]);

describe.skipIf(!nativeAvailable)("native elementwise primitives vs backend-js", () => {
  const pair = (): Pair => ({ js: new JsBackend(), nat: new NativeBackend({ fused: [] }) });

  it("copy converts every dtype pair like copyMode", () => {
    const p = pair();
    const r = rng(1);
    for (const from of DTYPES)
      for (const to of DTYPES)
        for (let t = 0; t < 12; t++) {
          const shape = randShape(r);
          const src = makeView(p, from, shape, r, true);
          const dst = makeView(p, to, shape, r, false);
          p.js.copy(src.js, dst.js);
          p.nat.copy(src.nat, dst.nat);
          expectSame(
            p,
            dst,
            `copy ${from}->${to} ${JSON.stringify(shape)} ${JSON.stringify(src.js.strides)}`,
          );
        }
  });

  it("copy of a large contiguous and a large transposed tensor (threaded)", () => {
    const p = pair();
    const r = rng(2);
    for (const [from, to] of [
      ["float32", "float32"],
      ["float32", "int32"],
      ["float16", "float32"],
      ["float32", "bfloat16"],
    ] as [DType, DType][]) {
      const src = makeView(p, from, [300, 257], r, false);
      const dst = contiguousView(p, to, [300, 257], r);
      p.js.copy(src.js, dst.js);
      p.nat.copy(src.nat, dst.nat);
      expectSame(p, dst, `large copy ${from}->${to}`);
    }
  });

  it("fill writes castScalar / half-encoded values into strided views", () => {
    const p = pair();
    const r = rng(3);
    for (const dtype of DTYPES)
      for (const v of [...F_SPECIAL, 0.1, 1 / 3, 65519, 65520, 3.4e38, 1e39]) {
        const dst = makeView(p, dtype, randShape(r), r, false);
        p.js.fill(dst.js, v);
        p.nat.fill(dst.nat, v);
        expectSame(p, dst, `fill ${dtype} ${v}`);
      }
  });

  it("unary ops on float32, int32 and bool", () => {
    const p = pair();
    const r = rng(4);
    for (const op of UNARY_OPS)
      for (const dtype of ["float32", "int32", "bool", "float64"] as DType[]) {
        // Core computes these in float32 for integer inputs; int32 exp(700) wrapped by ToInt32
        // would only compare libm's last float64 bit.
        if (TRANSCENDENTAL.has(op) && dtype === "int32") continue;
        const outDtype: DType = op === "isnan" ? "bool" : dtype;
        for (let t = 0; t < 10; t++) {
          const shape = randShape(r);
          const x = makeView(p, dtype, shape, r, true);
          const out = makeView(p, outDtype, shape, r, false);
          p.js.unary(op, x.js, out.js);
          p.nat.unary(op, x.nat, out.nat);
          expectSame(
            p,
            out,
            `unary ${op}[${dtype}] ${JSON.stringify(shape)}`,
            TRANSCENDENTAL.has(op) ? 2 : 0,
          );
        }
        const wide = makeView(p, dtype, [97, 3, 301], r, true);
        const wideOut = makeView(p, outDtype, [97, 3, 301], r, false);
        p.js.unary(op, wide.js, wideOut.js);
        p.nat.unary(op, wide.nat, wideOut.nat);
        expectSame(p, wideOut, `unary ${op}[${dtype}] large strided`, TRANSCENDENTAL.has(op) ? 2 : 0);
        const big = contiguousView(p, dtype, [70001], r);
        const bigOut = contiguousView(p, outDtype, [70001], r);
        p.js.unary(op, big.js, bigOut.js);
        p.nat.unary(op, big.nat, bigOut.nat);
        expectSame(p, bigOut, `unary ${op}[${dtype}] large`, TRANSCENDENTAL.has(op) ? 2 : 0);
      }
  });

  it("binary ops on float32, int32 and bool, with broadcasting", () => {
    const p = pair();
    const r = rng(5);
    const COMPARE = new Set(["eq", "ne", "lt", "le", "gt", "ge", "logicalAnd", "logicalOr"]);
    for (const op of BINARY_OPS)
      for (const dtype of ["float32", "int32", "bool", "float64"] as DType[]) {
        const outDtype: DType = COMPARE.has(op) ? "bool" : dtype;
        for (let t = 0; t < 12; t++) {
          const shape = randShape(r);
          const a = makeView(p, dtype, shape, r, true);
          const b = makeView(p, dtype, shape, r, true);
          if (op === "pow" && dtype === "int32") {
            smallInts(p, a, r, -20, 20);
            smallInts(p, b, r, -3, 10);
          }
          const out = makeView(p, outDtype, shape, r, false);
          p.js.binary(op, a.js, b.js, out.js);
          p.nat.binary(op, a.nat, b.nat, out.nat);
          expectSame(p, out, `binary ${op}[${dtype}] ${JSON.stringify(shape)}`, op === "pow" ? 2 : 0);
        }
        // Large strided operands: threads split rows mid-way.
        {
          const shape = [123, 517];
          const a = makeView(p, dtype, shape, r, true);
          const b = makeView(p, dtype, shape, r, true);
          if (op === "pow" && dtype === "int32") {
            smallInts(p, a, r, -20, 20);
            smallInts(p, b, r, -3, 10);
          }
          const out = makeView(p, outDtype, shape, r, false);
          p.js.binary(op, a.js, b.js, out.js);
          p.nat.binary(op, a.nat, b.nat, out.nat);
          expectSame(p, out, `binary ${op}[${dtype}] large strided`, op === "pow" ? 2 : 0);
        }
        // Large: contiguous operands, and a scalar (stride-0) right operand.
        const a = contiguousView(p, dtype, [513, 130], r);
        const b = contiguousView(p, dtype, [513, 130], r);
        const s = contiguousView(p, dtype, [1], r);
        if (op === "pow" && dtype === "int32") {
          smallInts(p, a, r, -20, 20);
          smallInts(p, b, r, -3, 10);
          smallInts(p, s, r, 0, 10);
        }
        const sb: View = { ...s.js, shape: [513, 130], strides: [0, 0] };
        const sbn: View = { ...s.nat, shape: [513, 130], strides: [0, 0] };
        const out = contiguousView(p, outDtype, [513, 130], r);
        p.js.binary(op, a.js, b.js, out.js);
        p.nat.binary(op, a.nat, b.nat, out.nat);
        expectSame(p, out, `binary ${op}[${dtype}] large`, op === "pow" ? 2 : 0);
        p.js.binary(op, a.js, sb, out.js);
        p.nat.binary(op, a.nat, sbn, out.nat);
        expectSame(p, out, `binary ${op}[${dtype}] scalar`, op === "pow" ? 2 : 0);
      }
  });

  it("where selects raw elements of every dtype", () => {
    const p = pair();
    const r = rng(6);
    for (const dtype of DTYPES)
      for (let t = 0; t < 20; t++) {
        const shape = t === 0 ? [200, 300] : randShape(r);
        const c = makeView(p, "bool", shape, r, true);
        const a = makeView(p, dtype, shape, r, true);
        const b = makeView(p, dtype, shape, r, true);
        // backend-js writes half outputs as contiguous (Backend outputs are), so only they are.
        const out =
          dtype === "float16" || dtype === "bfloat16"
            ? contiguousView(p, dtype, shape, r)
            : makeView(p, dtype, shape, r, false);
        p.js.where(c.js, a.js, b.js, out.js);
        p.nat.where(c.nat, a.nat, b.nat, out.nat);
        expectSame(p, out, `where[${dtype}] ${JSON.stringify(shape)}`);
      }
  });

  it("random reproduces philoxFill bit for bit (counters past 2^32 too)", () => {
    const p = pair();
    const r = rng(7);
    const dists = [
      { kind: "uniform", low: -2, high: 3 },
      { kind: "uniform", low: 0, high: 1 },
      { kind: "normal", mean: 0.5, std: 2 },
      { kind: "bernoulli", p: 0.3 },
      { kind: "randint", low: -5, high: 17 },
      { kind: "randint", low: -1e9, high: 2e9 },
    ] as const;
    for (const dtype of ["float32", "int32", "bool", "float16", "bfloat16"] as DType[])
      for (const dist of dists)
        for (const n of [0, 1, 3, 5, 1000, 40003]) {
          const dst = contiguousView(p, dtype, [n], r);
          const state = {
            key: [Math.floor(r() * 2 ** 32), Math.floor(r() * 2 ** 32)] as [number, number],
            counter: r() < 0.5 ? Math.floor(r() * 1000) : 2 ** 32 - 3 + Math.floor(r() * 2 ** 40),
          };
          p.js.random(dst.js, dist, state);
          p.nat.random(dst.nat, dist, state);
          expectSame(p, dst, `random ${dist.kind}[${dtype}] n=${n}`);
        }
  });

  it("gather and scatterAdd along every dim", () => {
    const p = pair();
    const r = rng(8);
    for (const dtype of DTYPES)
      for (let t = 0; t < 25; t++) {
        // Fixed large cases first: many additions per dst element (their order shows in float32 bits).
        const fixed: [number[], number, number[]][] = [
          [[5, 300], 0, [200, 300]],
          [[6, 7, 130], 1, [6, 90, 129]],
          [[40, 600], 1, [40, 900]],
        ];
        const [xs, dim, is] =
          t < fixed.length
            ? fixed[t]!
            : (() => {
                const xs = randShape(r, 4, 4).map((d) => Math.max(d, 1));
                const dim = xs.length === 0 ? 0 : Math.floor(r() * xs.length);
                const is = xs.map((d, i) => (i === dim ? 1 + Math.floor(r() * 5) : 1 + Math.floor(r() * d)));
                return [xs, dim, is] as [number[], number, number[]];
              })();
        const rank = xs.length;
        const x = contiguousView(p, dtype, xs, r);
        const idx = contiguousView(p, "int32", is, r);
        const size = rank === 0 ? 1 : xs[dim]!;
        const ivals = storageArray("int32", idx.size);
        for (let i = 0; i < idx.size; i++) ivals[i] = Math.floor(r() * size);
        p.js.write(idx.js.id, ivals, 0);
        p.nat.write(idx.nat.id, ivals, 0);
        const out = contiguousView(p, dtype, is, r);
        p.js.gather(x.js, idx.js, dim, out.js);
        p.nat.gather(x.nat, idx.nat, dim, out.nat);
        expectSame(p, out, `gather[${dtype}] ${JSON.stringify(xs)} dim ${dim}`);
        if (dtype === "bool") continue;
        const src = contiguousView(p, dtype, is, r);
        if (t < fixed.length && (dtype === "float32" || dtype === "float64")) {
          // Finite values only, so the sums do not all end NaN/Inf and the summation order shows.
          const v = storageArray(dtype, src.size);
          for (let i = 0; i < src.size; i++) v[i] = Math.fround((r() * 2 - 1) * 10 ** (r() * 4 - 2));
          p.js.write(src.js.id, v, 0);
          p.nat.write(src.nat.id, v, 0);
        }
        p.js.scatterAdd(x.js, idx.js, src.js, dim);
        p.nat.scatterAdd(x.nat, idx.nat, src.nat, dim);
        expectSame(p, x, `scatterAdd[${dtype}] ${JSON.stringify(xs)} dim ${dim}`);
      }
  });

  it("out-of-range indices and malformed calls throw instead of touching memory", () => {
    const p = pair();
    const r = rng(9);
    const x = contiguousView(p, "float32", [3, 4], r);
    const idx = contiguousView(p, "int32", [2, 4], r);
    const out = contiguousView(p, "float32", [2, 4], r);
    const before = Array.from(p.nat.readSync!(x.nat.id, 0, x.size));
    for (const bad of [3, -1, 2147483647]) {
      const v = storageArray("int32", idx.size);
      v[idx.size - 1] = bad;
      p.nat.write(idx.nat.id, v, 0);
      expect(() => p.nat.gather(x.nat, idx.nat, 0, out.nat)).toThrow(/out of bounds/);
      expect(() => p.nat.scatterAdd(x.nat, idx.nat, out.nat, 0)).toThrow(/out of bounds/);
    }
    expect(Array.from(p.nat.readSync!(x.nat.id, 0, x.size))).toEqual(before);
    const wide = contiguousView(p, "int32", [2, 5], r);
    expect(() => p.nat.gather(x.nat, wide.nat, 0, contiguousView(p, "float32", [2, 5], r).nat)).toThrow(
      /larger than/,
    );
    const y = contiguousView(p, "float32", [4, 3], r);
    expect(() => p.nat.copy(x.nat, y.nat)).toThrow(/same shape/);
    expect(() => p.nat.binary("add", x.nat, y.nat, x.nat)).toThrow(/same shape/);
    expect(() => p.nat.where(x.nat, x.nat, x.nat, y.nat)).toThrow(/one shape/);
  });
});
