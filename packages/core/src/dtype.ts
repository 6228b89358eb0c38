/**
 * Data types. Storage is a typed array per dtype; float16 and bfloat16 are stored as their
 * 16-bit patterns (Uint16Array) and decoded to float32 for reading and for computing where a
 * backend has no native half-precision arithmetic.
 */
export type DType = "float32" | "float64" | "int32" | "bool" | "float16" | "bfloat16";

export const DTYPES: readonly DType[] = ["float32", "float64", "int32", "bool", "float16", "bfloat16"];

export type StorageArray = Float32Array | Float64Array | Int32Array | Uint8Array | Uint16Array;
/** What `data()` hands back: half-precision dtypes are decoded to Float32Array. */
export type DataArray = Float32Array | Float64Array | Int32Array | Uint8Array;

export function isDType(x: unknown): x is DType {
  return typeof x === "string" && (DTYPES as readonly string[]).includes(x);
}

export function bytesPerElement(dtype: DType): number {
  switch (dtype) {
    case "float64":
      return 8;
    case "float32":
    case "int32":
      return 4;
    case "float16":
    case "bfloat16":
      return 2;
    case "bool":
      return 1;
  }
}

export function isFloating(dtype: DType): boolean {
  return dtype !== "int32" && dtype !== "bool";
}

export function isHalf(dtype: DType): boolean {
  return dtype === "float16" || dtype === "bfloat16";
}

export function storageArray(dtype: DType, size: number): StorageArray {
  switch (dtype) {
    case "float32":
      return new Float32Array(size);
    case "float64":
      return new Float64Array(size);
    case "int32":
      return new Int32Array(size);
    case "bool":
      return new Uint8Array(size);
    case "float16":
    case "bfloat16":
      return new Uint16Array(size);
  }
}

// Promotion follows PyTorch's category order bool < int < float; within floats the wider wins,
// and float16 with bfloat16 gives float32 (neither holds the other).
const FLOAT_RANK: Record<string, number> = { float16: 1, bfloat16: 1, float32: 2, float64: 3 };

export function promoteTypes(a: DType, b: DType): DType {
  if (a === b) return a;
  const fa = isFloating(a);
  const fb = isFloating(b);
  if (fa && fb) {
    const ra = FLOAT_RANK[a]!;
    const rb = FLOAT_RANK[b]!;
    if (ra === rb) return "float32";
    return ra > rb ? a : b;
  }
  if (fa) return a;
  if (fb) return b;
  return a === "int32" || b === "int32" ? "int32" : "bool";
}

/** The dtype of `tensor op scalar`: a Python-style scalar never widens a tensor's dtype, except int ⊕ float. */
export function promoteWithScalar(t: DType, scalar: number | boolean): DType {
  if (typeof scalar === "boolean") return t;
  if (!isFloating(t) && !Number.isInteger(scalar)) return "float32";
  if (t === "bool") return Number.isInteger(scalar) ? "int32" : "float32";
  return t;
}

// ---- half precision codecs ------------------------------------------------------------------

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → bfloat16 bits, round to nearest even; NaN stays a quiet NaN. */
export function f32ToBf16(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x40) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16ToF32(h: number): number {
  u32[0] = h << 16;
  return f32[0]!;
}

/** float32 → IEEE binary16 bits, round to nearest even, with subnormals, overflow to ±Inf and NaN. */
export function f32ToF16(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  if ((h & 0x7fff) >= 0x7c00) {
    e = 0x1f;
    return sign | 0x7c00;
  }
  return sign | h;
}

export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Decode stored half bits to float32 values. */
export function decodeHalf(
  dtype: "float16" | "bfloat16",
  bits: Uint16Array,
  out?: Float32Array,
): Float32Array {
  const res = out ?? new Float32Array(bits.length);
  if (dtype === "bfloat16") {
    const view = new Uint32Array(res.buffer, res.byteOffset, res.length);
    for (let i = 0; i < bits.length; i++) view[i] = bits[i]! << 16;
  } else {
    for (let i = 0; i < bits.length; i++) res[i] = f16ToF32(bits[i]!);
  }
  return res;
}

/** Encode float values to half bits. */
export function encodeHalf(
  dtype: "float16" | "bfloat16",
  values: ArrayLike<number>,
  out?: Uint16Array,
): Uint16Array {
  const res = out ?? new Uint16Array(values.length);
  const enc = dtype === "bfloat16" ? f32ToBf16 : f32ToF16;
  for (let i = 0; i < values.length; i++) res[i] = enc(values[i]!);
  return res;
}

/** Converts a JS number to what a dtype stores (used by fills, scalars and host writes). */
export function castScalar(dtype: DType, x: number): number {
  switch (dtype) {
    case "int32":
      return Number.isNaN(x) ? 0 : Math.trunc(x) | 0;
    case "bool":
      return x !== 0 ? 1 : 0;
    case "float32":
      return Math.fround(x);
    case "float16":
      return f16ToF32(f32ToF16(x));
    case "bfloat16":
      return bf16ToF32(f32ToBf16(x));
    default:
      return x;
  }
}
