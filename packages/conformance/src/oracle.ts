/**
 * Host-side building blocks for the float64 oracles of the primitive cases. An oracle computes a case's
 * expected outputs straight from its host arrays (storage values + view description) in plain JavaScript,
 * with no backend involved, so a bug shared by the tested and the reference backend still fails the case.
 *
 * Written for clarity, not speed: explicit index lists, row-major strides and broadcasting by hand.
 * Values are JS numbers (float64); results are rounded to the output dtype once, with the same rules
 * core's `tensor()` and `cast` define (half types through core's binary16/bfloat16 codecs).
 */
import { bf16ToF32, type DType, f16ToF32, f32ToBf16, f32ToF16 } from "@tessera/core";
import type { Output } from "./compare.js";
import type { HostTensor } from "./types.js";

/** A dense row-major host array: what an oracle reads its inputs as and returns as outputs. */
export interface Dense extends Output {
  dtype: DType;
  shape: number[];
  values: number[];
}

/**
 * The value `dtype` holds for the JS number `x`: float32 and the half types round to nearest even
 * (halves from the float32 value, as PyTorch converts), int32 truncates toward zero with NaN → 0 and
 * wraps modulo 2³² (the int32 wraparound of add/mul), bool is x ≠ 0 (NaN is true).
 */
export function roundTo(dtype: DType, x: number): number {
  switch (dtype) {
    case "float64":
      return x;
    case "float32":
      return Math.fround(x);
    case "float16":
      return f16ToF32(f32ToF16(x));
    case "bfloat16":
      return bf16ToF32(f32ToBf16(x));
    case "int32":
      return Number.isNaN(x) ? 0 : Math.trunc(x) | 0;
    case "bool":
      return x !== 0 ? 1 : 0;
  }
}

export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function rowMajorStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/** Every multi-index of `shape` in row-major order (one empty index for a 0-d shape, none if 0-size). */
export function indices(shape: readonly number[]): number[][] {
  const out: number[][] = [];
  const n = numelOf(shape);
  for (let flat = 0; flat < n; flat++) {
    const idx = new Array<number>(shape.length);
    let rem = flat;
    for (let k = shape.length - 1; k >= 0; k--) {
      idx[k] = rem % shape[k]!;
      rem = Math.floor(rem / shape[k]!);
    }
    out.push(idx);
  }
  return out;
}

export function flatIndex(shape: readonly number[], idx: readonly number[]): number {
  const strides = rowMajorStrides(shape);
  let p = 0;
  for (let k = 0; k < shape.length; k++) {
    const i = idx[k]!;
    if (!(i >= 0 && i < shape[k]!))
      throw new RangeError(`oracle: index ${i} out of range for dim ${k} of [${shape.join(",")}]`);
    p += i * strides[k]!;
  }
  return p;
}

/** The element of `t` at multi-index `idx`. */
export function at(t: Dense, idx: readonly number[]): number {
  return t.values[flatIndex(t.shape, idx)]!;
}

/** Where the view's element `idx` lies in the host tensor's base storage (a multi-index of `h.base`). */
function baseIndex(h: HostTensor, idx: readonly number[]): number[] {
  const v = h.view;
  switch (v.kind) {
    case "contiguous":
      return [...idx];
    case "transpose": {
      // base has dims dim0/dim1 swapped; the view swaps them back.
      const b = [...idx];
      b[v.dim0] = idx[v.dim1]!;
      b[v.dim1] = idx[v.dim0]!;
      return b;
    }
    case "permute": {
      // view dim i is base dim perm[i].
      const b = new Array<number>(idx.length);
      v.perm.forEach((p, i) => {
        b[p] = idx[i]!;
      });
      return b;
    }
    case "slice": {
      const b = [...idx];
      b[v.dim] = v.start + idx[v.dim]! * v.step;
      return b;
    }
    case "expand":
      // base has size 1 where the view repeats: stride 0 there.
      return idx.map((i, k) => (h.base[k] === 1 ? 0 : i));
  }
}

/** The host tensor as the case sees it: its logical elements in row-major order, rounded to its dtype. */
export function readHost(h: HostTensor): Dense {
  const stored = h.values.map((x) => roundTo(h.dtype, x));
  const values = indices(h.shape).map((idx) => stored[flatIndex(h.base, baseIndex(h, idx))]!);
  return { dtype: h.dtype, shape: [...h.shape], values };
}

/** A dense output: `values` (exact float64 results) rounded once to `dtype`. */
export function dense(dtype: DType, shape: readonly number[], values: readonly number[]): Dense {
  return { dtype, shape: [...shape], values: values.map((x) => roundTo(dtype, x)) };
}

/** NumPy broadcasting: align right, a size-1 dim stretches; throws on incompatible shapes. */
export function broadcastShape(...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let k = 0; k < s.length; k++) {
      const o = rank - s.length + k;
      const d = s[k]!;
      if (d === 1) continue;
      if (out[o] !== 1 && out[o] !== d) throw new RangeError(`oracle: shapes do not broadcast`);
      out[o] = d;
    }
  }
  return out;
}

/** The element of `t` that broadcasting maps to output index `idx`. */
export function atBroadcast(t: Dense, idx: readonly number[]): number {
  const off = idx.length - t.shape.length;
  return at(
    t,
    t.shape.map((d, k) => (d === 1 ? 0 : idx[k + off]!)),
  );
}

/** An elementwise map over broadcast operands: out[idx] = f(a[idx], b[idx], …), rounded to `dtype`. */
export function mapBroadcast(
  dtype: DType,
  operands: readonly Dense[],
  f: (...xs: number[]) => number,
): Dense {
  const shape = broadcastShape(...operands.map((t) => t.shape));
  const values = indices(shape).map((idx) => f(...operands.map((t) => atBroadcast(t, idx))));
  return dense(dtype, shape, values);
}

/** A dim in [0, rank) from a possibly negative one (rank 0 accepts 0 and -1, like PyTorch). */
export function normDim(dim: number, rank: number): number {
  const r = Math.max(rank, 1);
  if (!(dim >= -r && dim < r)) throw new RangeError(`oracle: dim ${dim} out of range for rank ${rank}`);
  return dim < 0 ? dim + r : dim;
}

/** Round half to even (torch.round, NumPy's rint), keeping the sign of a zero result; ±Inf and NaN pass through. */
export function roundHalfEven(x: number): number {
  if (!Number.isFinite(x)) return x;
  const f = Math.floor(x);
  const frac = x - f; // exact for doubles: f and x share the exponent range
  let r: number;
  if (frac < 0.5) r = f;
  else if (frac > 0.5) r = f + 1;
  else r = f % 2 === 0 ? f : f + 1;
  return r === 0 ? (x < 0 || Object.is(x, -0) ? -0 : 0) : r;
}
