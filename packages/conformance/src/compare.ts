/** Element comparison under a named tolerance; returns the first mismatch or null. */
import type { DType } from "@tessera/core";
import { getTolerance, type ToleranceName } from "./tolerances.js";
import type { Mismatch } from "./types.js";

export interface Output {
  dtype: DType;
  shape: readonly number[];
  values: ArrayLike<number>;
}

const fmtShape = (s: readonly number[]) => `[${s.join(",")}]`;

/** A number as a report shows it: keeps -0, NaN and ±Inf legible. */
export function fmtNumber(x: number): string {
  if (Object.is(x, -0)) return "-0";
  return String(x);
}

export function compareOutputs(
  actual: Output,
  expected: Output,
  name: ToleranceName,
  output: number,
): Mismatch | null {
  const mismatch = (index: number, a: number | string, e: number | string, message: string): Mismatch => ({
    output,
    index,
    actual: a,
    expected: e,
    tolerance: name,
    message,
  });
  if (actual.dtype !== expected.dtype) {
    return mismatch(
      -1,
      actual.dtype,
      expected.dtype,
      `output ${output}: dtype ${actual.dtype}, expected ${expected.dtype}`,
    );
  }
  const sa = fmtShape(actual.shape);
  const se = fmtShape(expected.shape);
  if (sa !== se) return mismatch(-1, sa, se, `output ${output}: shape ${sa}, expected ${se}`);

  const tol = getTolerance(name);
  const a = actual.values;
  const e = expected.values;
  let errSq = 0;
  let refSq = 0;
  for (let i = 0; i < e.length; i++) {
    const x = a[i]!;
    const y = e[i]!;
    const at = (why: string) =>
      mismatch(
        i,
        x,
        y,
        `output ${output} ${fmtShape(expected.shape)} element ${i}: ${fmtNumber(x)}, expected ${fmtNumber(y)} (${why})`,
      );
    if (Number.isNaN(y) || Number.isNaN(x)) {
      if (Number.isNaN(y) !== Number.isNaN(x)) return at("NaN must match NaN");
      continue;
    }
    if (!Number.isFinite(y) || !Number.isFinite(x)) {
      if (x !== y) return at("±Inf must match exactly");
      continue;
    }
    if (tol.kind === "exact") {
      if (!Object.is(x, y)) return at("exact");
      continue;
    }
    if (tol.signedZeros && x === 0 && y === 0 && !Object.is(x, y)) return at(`${name}: sign of zero`);
    if (tol.kind === "close") {
      if (!(Math.abs(x - y) <= tol.atol + tol.rtol * Math.abs(y))) {
        return at(
          `${name}: |diff| ${Math.abs(x - y).toExponential(3)} > atol ${tol.atol} + rtol ${tol.rtol}·|expected|`,
        );
      }
      continue;
    }
    errSq += (x - y) ** 2;
    refSq += y * y;
  }
  if (tol.kind === "nmse") {
    const value = refSq > 0 ? errSq / refSq : errSq;
    if (!(value <= tol.nmse)) {
      const worst = worstIndex(a, e);
      return mismatch(
        worst,
        a[worst] ?? Number.NaN,
        e[worst] ?? Number.NaN,
        `output ${output} ${fmtShape(expected.shape)}: NMSE ${value.toExponential(3)} > ${tol.nmse} (${name}); ` +
          `largest difference at element ${worst}: ${fmtNumber(a[worst]!)}, expected ${fmtNumber(e[worst]!)}`,
      );
    }
  }
  return null;
}

function worstIndex(a: ArrayLike<number>, e: ArrayLike<number>): number {
  let best = 0;
  let bestDiff = -1;
  for (let i = 0; i < e.length; i++) {
    const d = Math.abs(a[i]! - e[i]!);
    if (Number.isFinite(d) && d > bestDiff) {
      bestDiff = d;
      best = i;
    }
  }
  return best;
}
