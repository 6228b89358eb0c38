/** Test helpers: tensors from plain numbers on a given backend, a seeded generator, float64 comparisons. */
import { castScalar, type DType, encodeHalf, isHalf, storageArray, Tensor } from "@tessera/core";
import { expect } from "vitest";
import type { JsBackend } from "../src/index.js";

/** Deterministic uniform numbers in [lo, hi) (mulberry32), so failures replay. */
export function rng(seed: number): (lo?: number, hi?: number) => number {
  let a = seed >>> 0;
  return (lo = -1, hi = 1) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return lo + u * (hi - lo);
  };
}

export function randomValues(n: number, seed: number, lo = -1, hi = 1): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => r(lo, hi));
}

export function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A contiguous tensor on `be` holding `values` (rounded to `dtype`). */
export function make(
  be: JsBackend,
  shape: readonly number[],
  values: ArrayLike<number>,
  dtype: DType = "float32",
): Tensor {
  const t = Tensor.empty(shape, dtype, be);
  const n = numelOf(shape);
  if (n === 0) return t;
  let stored: ReturnType<typeof storageArray>;
  if (isHalf(dtype)) stored = encodeHalf(dtype as "float16" | "bfloat16", Float32Array.from(values));
  else {
    stored = storageArray(dtype, n);
    for (let i = 0; i < n; i++) stored[i] = castScalar(dtype, values[i]!);
  }
  be.write(t.storage.id, stored, 0);
  return t;
}

export function read(t: Tensor): number[] {
  return Array.from(t.dataSync() as ArrayLike<number>);
}

/** Elementwise closeness with NaN matching NaN and infinities matching exactly; reports the first miss. */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol = 1e-5,
  atol = 1e-6,
): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e) || !Number.isFinite(e)) {
      if (!Object.is(a, e)) expect.fail(`element ${i}: got ${a}, expected ${e}`);
      continue;
    }
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) expect.fail(`element ${i}: got ${a}, expected ${e}`);
  }
}
