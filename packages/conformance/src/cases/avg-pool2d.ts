/** Fused `avgPool2d` (or core's composite): padding counted or not in the divisor, ceil-mode windows. */
import { MODERATE } from "../arbitraries.js";
import { ops } from "../ops.js";
import { tolerance } from "../tolerances.js";
import type { ConformanceCase } from "../types.js";
import { FLOATS } from "./common.js";
import { type PoolParams, poolSample } from "./pool-common.js";

export const cases: ConformanceCase[] = FLOATS.map(
  (dtype): ConformanceCase<PoolParams> => ({
    name: `avgPool2d[${dtype}]`,
    kernel: "avgPool2d",
    dtype,
    ops: ["avgPool2d"],
    arbitrary: poolSample(dtype, { ...MODERATE, specials: true }, false),
    run: ([x], a) =>
      ops.avgPool2d!(x, a.kernel, {
        stride: a.stride,
        padding: a.padding,
        ceilMode: a.ceilMode,
        countIncludePad: a.countIncludePad,
      }),
    tolerance: tolerance(dtype, "reduction"),
  }),
);
