/**
 * Named tolerances (Burn's named tolerances, ggml's NMSE). A case names one; the comparison rules are:
 * - NaN must match NaN, ±Inf must match exactly, for every tolerance;
 * - `exact`: bit-for-bit, including the sign of zero (integers, bools, copies, fills, random);
 * - `close`: |actual − expected| ≤ atol + rtol·|expected| per element; `signedZeros` also requires
 *   an exact ±0 to keep its sign where IEEE 754 defines it (correctly rounded elementwise ops);
 * - `nmse`: Σ(actual − expected)² / Σ expected² ≤ nmse over the finite elements, for large outputs
 *   where one element's error says little and accumulated rounding is spread evenly.
 * Overrides are by name only (`options.tolerances`), reported in the summary, never computed.
 */
import type { DType } from "@tessera/core";

export type ToleranceKind = "exact" | "close" | "nmse";

export interface Tolerance {
  kind: ToleranceKind;
  rtol: number;
  atol: number;
  nmse: number;
  signedZeros: boolean;
  /** Why these numbers. */
  why: string;
}

const ULP_F32 = 2 ** -23;
const ULP_F16 = 2 ** -10;
const ULP_BF16 = 2 ** -7;
/** Smallest normal float32: a backend flushing subnormals to zero stays within it. */
const MIN_NORMAL_F32 = 2 ** -126;

const close = (rtol: number, atol: number, why: string, signedZeros = false): Tolerance => ({
  kind: "close",
  rtol,
  atol,
  nmse: 0,
  signedZeros,
  why,
});
const nmse = (value: number, why: string): Tolerance => ({
  kind: "nmse",
  rtol: 0,
  atol: 0,
  nmse: value,
  signedZeros: false,
  why,
});

export const TOLERANCES = {
  exact: {
    kind: "exact",
    rtol: 0,
    atol: 0,
    nmse: 0,
    signedZeros: true,
    why: "integer, bool, copy, fill, cast and random results are defined bit for bit; nothing rounds differently",
  },

  "f32.elementwise": close(
    2 * ULP_F32,
    MIN_NORMAL_F32,
    "+ − × ÷ √, min/max, rounding and sign ops are correctly rounded in IEEE 754, so backends agree to the bit; " +
      "2 ulp absorbs a fused multiply-add in a composite and atol one min-normal allows flush-to-zero of subnormals",
    true,
  ),
  "f32.transcendental": close(
    1e-5,
    1e-6,
    "libm, SLEEF and CUDA expf/logf/erff are within 1–4 ulp; 1e-5 relative (~80 ulp) also covers composites " +
      "built from two or three such calls (gelu = x·Φ(x)), and atol 1e-6 covers results near a zero of the function",
  ),
  "f32.reduction": close(
    1e-4,
    1e-5,
    "summation order differs between backends (pairwise, blocked, tree on GPU): error grows like n·ulp·Σ|x|; " +
      "cases keep n ≤ 64 and |x| ≤ 16, so 1e-4 relative with 1e-5 absolute bounds reordering without hiding a wrong term",
  ),
  "f32.matmul": close(
    1e-4,
    1e-4,
    "blocked/FMA GEMM reorders the K-sum; with K ≤ 24 and |x| ≤ 4 the reorder error is below 24·ulp·Σ|ab| ≈ 1e-5 " +
      "of the largest partial sum; atol 1e-4 covers cancellation to near zero",
  ),
  "f32.nmse": nmse(
    1e-7,
    "large outputs (convolutions, attention) accumulate long dot products in backend-specific order; " +
      "ggml test-backend-ops uses NMSE 1e-7 for f32 — a wrong tap or window shows up orders of magnitude above it",
  ),

  "f16.elementwise": close(
    ULP_F16,
    2 ** -24,
    "computed in f32 and rounded once to binary16 (or natively, correctly rounded): at most 1 ulp (2⁻¹⁰) apart; " +
      "atol is the smallest binary16 subnormal",
    true,
  ),
  "f16.transcendental": close(
    2 * ULP_F16,
    2 ** -14,
    "the f32 result (few ulp) rounded to binary16 can land either side of a rounding boundary: 2 ulp; " +
      "atol one binary16 min-normal for results near zero",
  ),
  "f16.reduction": close(
    4 * ULP_F16,
    1e-3,
    "composite paths round each intermediate (exp, sum, quotient) to binary16, a fused path rounds once: " +
      "up to ~3 roundings of 1 ulp; atol 1e-3 for sums cancelling near zero",
  ),
  "f16.matmul": close(
    4 * ULP_F16,
    1e-2,
    "K-sum accumulated in f32 then rounded: 1 ulp plus reorder; atol 1e-2 for |x| ≤ 4, K ≤ 24",
  ),
  "f16.nmse": nmse(1e-5, "binary16 storage alone gives NMSE ≈ 1e-7; composites round intermediates: 1e-5"),

  "bf16.elementwise": close(
    ULP_BF16,
    MIN_NORMAL_F32,
    "computed in f32 and rounded once to bfloat16: at most 1 ulp (2⁻⁷); bfloat16 has float32's exponent range",
    true,
  ),
  "bf16.transcendental": close(
    2 * ULP_BF16,
    1e-5,
    "f32 result rounded to bfloat16: 2 ulp either side of a boundary",
  ),
  "bf16.reduction": close(
    4 * ULP_BF16,
    1e-2,
    "as f16.reduction with bfloat16's 8-bit mantissa: up to ~3 roundings of 2⁻⁷ in composite paths",
  ),
  "bf16.matmul": close(
    4 * ULP_BF16,
    5e-2,
    "K-sum in f32, rounded to bfloat16; atol 5e-2 for |x| ≤ 4, K ≤ 24",
  ),
  "bf16.nmse": nmse(1e-4, "bfloat16 storage alone gives NMSE ≈ 1e-5; composites round intermediates: 1e-4"),

  "f64.elementwise": close(2 * 2 ** -52, 2 ** -1022, "float64 is correctly rounded as f32 is", true),
  "f64.transcendental": close(1e-12, 1e-14, "float64 libm functions are within a few ulp"),
  "f64.reduction": close(1e-10, 1e-12, "reordered float64 sums of n ≤ 64 terms"),
  "f64.matmul": close(1e-10, 1e-10, "reordered float64 K-sums"),
  "f64.nmse": nmse(1e-20, "float64 accumulation"),
} as const satisfies Record<string, Tolerance>;

export type ToleranceName = keyof typeof TOLERANCES;
export type ToleranceFamily = "elementwise" | "transcendental" | "reduction" | "matmul" | "nmse";

const PREFIX: Partial<Record<DType, string>> = {
  float32: "f32",
  float16: "f16",
  bfloat16: "bf16",
  float64: "f64",
};

/** The tolerance of `family` for `dtype`; integer and bool dtypes are always `exact`. */
export function tolerance(dtype: DType, family: ToleranceFamily): ToleranceName {
  const p = PREFIX[dtype];
  return p ? (`${p}.${family}` as ToleranceName) : "exact";
}

export function isToleranceName(name: string): name is ToleranceName {
  return Object.hasOwn(TOLERANCES, name);
}

export function getTolerance(name: ToleranceName): Tolerance {
  return TOLERANCES[name];
}

/**
 * Named tolerances of the half-precision gradient cases (`grad.*[float16]`, `grad.*[bfloat16]`).
 *
 * A half gradient cannot be held to a fixed distance from the exact one: the backward of softmax,
 * layerNorm or attention subtracts nearly equal terms (y·(g − Σg·y)), so one rounding of a forward
 * output (2⁻¹¹ or 2⁻⁸ of |y|·|g|) can be most of a small gradient, and no rtol/atol or NMSE both passes
 * that and catches a wrong kernel. So the check is relative to the dtype's own error on that sample
 * (the fp64-reference rule of PyTorch's inductor tests): with e the float64 gradient at the same
 * half-rounded inputs and weights, r backend-js's gradient computed in the half dtype and a the tested
 * backend's, per gradient tensor
 *
 *   max|a − e| ≤ multiplier · max|r − e| + floor · max|e|
 *
 * and a's NaN/±Inf must sit where r's do. A wrong rule, a dropped term or a wrong element lands far
 * outside; a backend that rounds more (a composite where backend-js fuses) or less (accumulating in
 * float32) passes.
 */
export interface GradHalfTolerance {
  dtype: DType;
  /** How many times backend-js's own half error the tested backend may be from float64. */
  multiplier: number;
  /** Allowed error relative to max|e| even when backend-js happens to be (near) exact. */
  floor: number;
  why: string;
}

export const GRAD_HALF_TOLERANCES = {
  "f16.grad": {
    dtype: "float16",
    multiplier: 2,
    floor: ULP_F16,
    why:
      "backend-js's fused kernels round each op's result once; a composite or a differently ordered backward " +
      "rounds a few more intermediates of similar size (backend-js's primitives-only composites stay within " +
      "1.5× over 100 samples of every half case), so 2× backend-js's own error; the floor, 1 ulp of binary16 " +
      "(2⁻¹⁰) of the largest gradient element, covers samples where backend-js happens to round exactly",
  },
  "bf16.grad": {
    dtype: "bfloat16",
    multiplier: 2,
    floor: ULP_BF16,
    why: "as f16.grad with bfloat16's 8-bit significand: 2× backend-js's own error, floor 1 ulp (2⁻⁷) of max|e|",
  },
} as const satisfies Record<string, GradHalfTolerance>;

export type GradHalfToleranceName = keyof typeof GRAD_HALF_TOLERANCES;

/** The half-gradient tolerance of `dtype`, or null for float32/float64 (those use the case's rtol/atol). */
export function gradHalfTolerance(dtype: DType): GradHalfToleranceName | null {
  return dtype === "float16" ? "f16.grad" : dtype === "bfloat16" ? "bf16.grad" : null;
}
