/** Tensor creation: from JS data, constant fills, ranges and the seeded random distributions. */
import type { Backend, RandomDistribution } from "../backend.js";
import {
  castScalar,
  type DType,
  encodeHalf,
  isDType,
  isHalf,
  type StorageArray,
  storageArray,
} from "../dtype.js";
import { findBackend, getBackend } from "../engine.js";
import { defaultGenerator, type Generator } from "../random.js";
import { fmtShape } from "../shape.js";
import { Tensor } from "../tensor.js";

export interface CreateOptions {
  dtype?: DType;
  /** Backend name; default: the active backend. */
  backend?: string;
}

export interface RandomOptions extends CreateOptions {
  generator?: Generator;
}

export type NestedInput = number | boolean | readonly NestedInput[];
export type TypedInput =
  | Float32Array
  | Float64Array
  | Int32Array
  | Uint8Array
  | Int8Array
  | Int16Array
  | Uint16Array
  | Uint32Array;

function resolveBackend(opts?: CreateOptions): Backend {
  return opts?.backend ? findBackend(opts.backend) : getBackend();
}

function checkDtype(op: string, dtype: unknown): DType {
  if (!isDType(dtype)) throw new TypeError(`${op}: unknown dtype '${String(dtype)}'`);
  return dtype;
}

/** Converts JS values into the storage representation of `dtype`. */
function toStorage(dtype: DType, values: ArrayLike<number>): StorageArray {
  if (isHalf(dtype)) return encodeHalf(dtype as "float16" | "bfloat16", values);
  const out = storageArray(dtype, values.length);
  if (dtype === "int32" || dtype === "bool")
    for (let i = 0; i < values.length; i++) out[i] = castScalar(dtype, values[i]!);
  else (out as Float32Array | Float64Array).set(values);
  return out;
}

function inferNested(
  data: NestedInput,
  op: string,
): { shape: number[]; flat: number[]; isBool: boolean; isInt: boolean } {
  const shape: number[] = [];
  let probe: NestedInput = data;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    probe = probe.length ? (probe as readonly NestedInput[])[0]! : 0;
  }
  const flat: number[] = [];
  let isBool = true;
  let isInt = true;
  const walk = (v: NestedInput, depth: number, path: string) => {
    if (depth === shape.length) {
      if (Array.isArray(v))
        throw new RangeError(`${op}: ragged nested array at ${path} (expected shape ${fmtShape(shape)})`);
      if (typeof v === "boolean") {
        isInt = false;
        flat.push(v ? 1 : 0);
        return;
      }
      if (typeof v !== "number")
        throw new TypeError(`${op}: element at ${path} is ${typeof v}, expected a number or boolean`);
      isBool = false;
      if (!Number.isInteger(v)) isInt = false;
      flat.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) {
      throw new RangeError(`${op}: ragged nested array at ${path} (expected shape ${fmtShape(shape)})`);
    }
    const children = v as readonly NestedInput[];
    for (let i = 0; i < children.length; i++) walk(children[i]!, depth + 1, `${path}[${i}]`);
  };
  walk(data, 0, "data");
  if (flat.length === 0) isBool = false;
  return { shape, flat, isBool, isInt };
}

/**
 * A tensor from nested arrays, a typed array (with `shape`) or a scalar. Default dtype: float32 for numbers
 * (like torch.tensor for floats), bool for booleans, int32 for Int32Array.
 */
export function tensor(
  data: NestedInput | TypedInput,
  opts: CreateOptions & { shape?: readonly number[] } = {},
): Tensor {
  const backend = resolveBackend(opts);
  let shape: readonly number[];
  let values: ArrayLike<number>;
  let dtype: DType;
  if (ArrayBuffer.isView(data)) {
    shape = opts.shape ?? [data.length];
    const n = shape.reduce((a, b) => a * b, 1);
    if (n !== data.length) {
      throw new RangeError(
        `tensor: shape ${fmtShape(shape)} needs ${n} elements but the typed array has ${data.length}`,
      );
    }
    values = data;
    dtype =
      opts.dtype ??
      (data instanceof Int32Array ? "int32" : data instanceof Float64Array ? "float64" : "float32");
  } else {
    const info = inferNested(data, "tensor");
    shape = opts.shape ?? info.shape;
    if (opts.shape && opts.shape.reduce((a, b) => a * b, 1) !== info.flat.length) {
      throw new RangeError(
        `tensor: shape ${fmtShape(opts.shape)} does not match ${info.flat.length} elements`,
      );
    }
    values = info.flat;
    dtype = opts.dtype ?? (info.isBool ? "bool" : "float32");
  }
  checkDtype("tensor", dtype);
  const out = Tensor.empty(shape, dtype, backend);
  if (out.size > 0) backend.write(out.storage.id, toStorage(dtype, values), 0);
  return out;
}

export function full(shape: readonly number[], value: number | boolean, opts: CreateOptions = {}): Tensor {
  const dtype = checkDtype("full", opts.dtype ?? (typeof value === "boolean" ? "bool" : "float32"));
  const out = Tensor.empty(shape, dtype, resolveBackend(opts));
  if (out.size > 0) out.backend.fill(out.kernelView, castScalar(dtype, Number(value)));
  return out;
}

export function zeros(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return full(shape, 0, opts);
}

export function ones(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return full(shape, 1, opts);
}

function likeOpts(t: Tensor, opts?: CreateOptions): CreateOptions {
  return { dtype: opts?.dtype ?? t.dtype, backend: opts?.backend ?? t.backendName };
}

export function zerosLike(t: Tensor, opts?: CreateOptions): Tensor {
  return zeros(t.shape, likeOpts(t, opts));
}
export function onesLike(t: Tensor, opts?: CreateOptions): Tensor {
  return ones(t.shape, likeOpts(t, opts));
}
export function fullLike(t: Tensor, value: number | boolean, opts?: CreateOptions): Tensor {
  return full(t.shape, value, likeOpts(t, opts));
}
export function emptyLike(t: Tensor, opts?: CreateOptions): Tensor {
  const o = likeOpts(t, opts);
  return Tensor.empty(t.shape, o.dtype, resolveBackend(o));
}
export function empty(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return Tensor.empty(shape, checkDtype("empty", opts.dtype ?? "float32"), resolveBackend(opts));
}

/**
 * Values start, start+step, … below end (torch.arange). Dtype: int32 when all arguments are integers, else float32.
 * `arange(5)` counts from 0.
 */
export function arange(start: number, end?: number, step = 1, opts: CreateOptions = {}): Tensor {
  if (end === undefined) {
    end = start;
    start = 0;
  }
  if (step === 0 || !Number.isFinite(step))
    throw new RangeError(`arange: step must be finite and non-zero, got ${step}`);
  if (!Number.isFinite(start) || !Number.isFinite(end))
    throw new RangeError(`arange: bounds must be finite, got ${start}..${end}`);
  const n = Math.max(0, Math.ceil((end - start) / step));
  const dtype =
    opts.dtype ??
    (Number.isInteger(start) && Number.isInteger(end) && Number.isInteger(step) ? "int32" : "float32");
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = start + i * step;
  return tensor(values, { ...opts, dtype, shape: [n] });
}

/** `steps` values evenly spaced from start to end inclusive (torch.linspace). */
export function linspace(start: number, end: number, steps: number, opts: CreateOptions = {}): Tensor {
  if (!Number.isInteger(steps) || steps < 0)
    throw new RangeError(`linspace: steps must be a non-negative integer, got ${steps}`);
  const values = new Float64Array(steps);
  const step = steps > 1 ? (end - start) / (steps - 1) : 0;
  // Fill from both ends like PyTorch, so the last value is exactly `end`.
  const half = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++)
    values[i] = i < half || steps === 1 ? start + step * i : end - step * (steps - 1 - i);
  return tensor(values, { ...opts, dtype: opts.dtype ?? "float32", shape: [steps] });
}

/** Identity matrix of n rows and m (default n) columns. */
export function eye(n: number, m = n, opts: CreateOptions = {}): Tensor {
  if (!Number.isInteger(n) || n < 0 || !Number.isInteger(m) || m < 0)
    throw new RangeError(`eye: sizes must be non-negative integers, got ${n}, ${m}`);
  const values = new Float64Array(n * m);
  for (let i = 0; i < Math.min(n, m); i++) values[i * m + i] = 1;
  return tensor(values, { ...opts, dtype: opts.dtype ?? "float32", shape: [n, m] });
}

function randomTensor(
  op: string,
  shape: readonly number[],
  dist: RandomDistribution,
  dtype: DType,
  opts: RandomOptions,
): Tensor {
  checkDtype(op, dtype);
  const out = Tensor.empty(shape, dtype, resolveBackend(opts));
  const gen = opts.generator ?? defaultGenerator;
  if (out.size > 0) out.backend.random(out.kernelView, dist, gen.next(dist.kind, out.size));
  return out;
}

/** Uniform on [0, 1). */
export function rand(shape: readonly number[], opts: RandomOptions = {}): Tensor {
  return randomTensor("rand", shape, { kind: "uniform", low: 0, high: 1 }, opts.dtype ?? "float32", opts);
}

/** Uniform on [low, high). */
export function uniform(shape: readonly number[], low = 0, high = 1, opts: RandomOptions = {}): Tensor {
  return randomTensor("uniform", shape, { kind: "uniform", low, high }, opts.dtype ?? "float32", opts);
}

/** Standard normal. */
export function randn(shape: readonly number[], opts: RandomOptions = {}): Tensor {
  return randomTensor("randn", shape, { kind: "normal", mean: 0, std: 1 }, opts.dtype ?? "float32", opts);
}

export function normal(shape: readonly number[], mean = 0, std = 1, opts: RandomOptions = {}): Tensor {
  if (!(std >= 0)) throw new RangeError(`normal: std must be >= 0, got ${std}`);
  return randomTensor("normal", shape, { kind: "normal", mean, std }, opts.dtype ?? "float32", opts);
}

/** Integers uniform on [low, high), int32 by default. */
export function randint(
  low: number,
  high: number,
  shape: readonly number[],
  opts: RandomOptions = {},
): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) {
    throw new RangeError(`randint: need integers low < high, got low=${low}, high=${high}`);
  }
  return randomTensor("randint", shape, { kind: "randint", low, high }, opts.dtype ?? "int32", opts);
}

/** 1 with probability p (a number, or a tensor of probabilities drawn elementwise), else 0. */
export function bernoulli(
  p: number | Tensor,
  opts: RandomOptions & { shape?: readonly number[] } = {},
): Tensor {
  if (typeof p === "number") {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`bernoulli: p must be in [0, 1], got ${p}`);
    return randomTensor(
      "bernoulli",
      opts.shape ?? [],
      { kind: "bernoulli", p },
      opts.dtype ?? "float32",
      opts,
    );
  }
  // Tensor p: u < p elementwise, with u drawn from the same stream as rand().
  const u = rand(p.shape, { ...opts, dtype: "float32", backend: p.backendName });
  const pf = p.cast("float32");
  const mask = Tensor.empty(p.shape, "bool", p.backend);
  if (mask.size > 0) p.backend.binary("lt", u.kernelView, pf.kernelView, mask.kernelView);
  const out = mask.cast(opts.dtype ?? p.dtype);
  u.dispose();
  pf.dispose();
  mask.dispose();
  return out;
}

export function randLike(t: Tensor, opts?: RandomOptions): Tensor {
  return rand(t.shape, { ...opts, ...likeOpts(t, opts) });
}
export function randnLike(t: Tensor, opts?: RandomOptions): Tensor {
  return randn(t.shape, { ...opts, ...likeOpts(t, opts) });
}
export function randintLike(t: Tensor, low: number, high: number, opts?: RandomOptions): Tensor {
  return randint(low, high, t.shape, { ...opts, backend: opts?.backend ?? t.backendName });
}
