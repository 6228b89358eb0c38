/**
 * Dtype conversion (`copy` with a dtype change) through Tensor.cast, for every ordered pair of dtypes.
 * Float → int32 truncates toward zero; values outside int32, NaN and ±Inf are undefined there (as in C
 * and PyTorch), so those pairs draw in-range values only. → bool is x ≠ 0 (NaN is true).
 */
import { DTYPES, type DType } from "@tessera/core";
import { ANY, type Domain } from "../arbitraries.js";
import { dense, readHost } from "../oracle.js";
import type { ConformanceCase } from "../types.js";
import { oneTensor } from "./common.js";

function domain(from: DType, to: DType): Domain {
  if (from === "int32") return { min: -(2 ** 31), max: 2 ** 31 - 1, integer: true };
  // The bound must survive rounding to `from`: binary16 holds at most 65504 (larger values become ±Inf),
  // and bfloat16's 8-bit significand rounds values above 2³¹ − 2²³ up to 2³¹, outside int32.
  if (to === "int32" && from === "float16") return { min: -65504, max: 65504, tiny: true };
  if (to === "int32" && from === "bfloat16")
    return { min: -(2 ** 31) + 2 ** 24, max: 2 ** 31 - 2 ** 24, tiny: true };
  if (to === "int32") return { min: -(2 ** 31) + 128, max: 2 ** 31 - 129, tiny: true };
  return ANY;
}

export const cases: ConformanceCase[] = DTYPES.flatMap((from) =>
  DTYPES.filter((to) => to !== from).map(
    (to): ConformanceCase => ({
      name: `cast.${from}->${to}`,
      kernel: "copy",
      dtype: from,
      requires: [to],
      ops: [],
      arbitrary: oneTensor(from, domain(from, to)),
      run: ([x]) => x!.cast(to),
      // The value `from` holds, rounded to `to` once (→ int32 truncates toward zero, → bool is x ≠ 0).
      oracle: ([x]) => {
        const v = readHost(x!);
        return [dense(to, v.shape, v.values)];
      },
      tolerance: "exact",
    }),
  ),
);
