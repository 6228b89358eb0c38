/**
 * Fused `softmax` (or core's composite where a backend lacks it) over any dim, including -Inf entries
 * (masking), fully masked rows (NaN), large magnitudes that overflow a naive exp, and 0-size dims.
 */
import * as fc from "fast-check";
import { axisArb, type Domain } from "../arbitraries.js";
import { ops } from "../ops.js";
import { tolerance } from "../tolerances.js";
import type { ConformanceCase } from "../types.js";
import { FLOATS, oneTensor } from "./common.js";

/** Logits: moderate, sometimes ±100 (overflows exp without the max shift), sometimes -Inf/NaN. */
export const LOGITS: Domain = { min: -100, max: 100, specials: true };

export function softmaxCases(name: "softmax" | "logSoftmax", file: string): ConformanceCase[] {
  return FLOATS.map(
    (dtype): ConformanceCase<{ dim: number }> => ({
      name: `${file}[${dtype}]`,
      kernel: name,
      dtype,
      ops: [name],
      arbitrary: oneTensor(dtype, LOGITS, { maxRank: 3 }, (s) => fc.record({ dim: axisArb(s.length) })),
      run: ([x], a) => ops[name]!(x, a.dim),
      tolerance: tolerance(dtype, "reduction"),
    }),
  );
}

export const cases = softmaxCases("softmax", "softmax");
