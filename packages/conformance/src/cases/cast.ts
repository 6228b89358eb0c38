/**
 * Dtype conversion (`copy` with a dtype change) through Tensor.cast, for every ordered pair of dtypes.
 * Float → int32 truncates toward zero; values outside int32, NaN and ±Inf are undefined there (as in C
 * and PyTorch), so those pairs draw in-range values only. → bool is x ≠ 0 (NaN is true).
 */
import { DTYPES, type DType } from "@tessera/core";
import { ANY, type Domain } from "../arbitraries.js";
import type { ConformanceCase } from "../types.js";
import { oneTensor } from "./common.js";

function domain(from: DType, to: DType): Domain {
  if (from === "int32") return { min: -(2 ** 31), max: 2 ** 31 - 1, integer: true };
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
      tolerance: "exact",
    }),
  ),
);
