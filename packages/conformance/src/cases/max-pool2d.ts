/** Fused `maxPool2d` (or core's composite): a selection, so exact; -Inf padding, NaN propagates, ceil mode, dilation. */
import { ops } from "../ops.js";
import type { ConformanceCase } from "../types.js";
import { FLOATS } from "./common.js";
import { type PoolParams, poolSample } from "./pool-common.js";

export const cases: ConformanceCase[] = FLOATS.map(
  (dtype): ConformanceCase<PoolParams> => ({
    name: `maxPool2d[${dtype}]`,
    kernel: "maxPool2d",
    dtype,
    ops: ["maxPool2d"],
    arbitrary: poolSample(dtype, { min: -100, max: 100, specials: true }, true),
    run: ([x], a) =>
      ops.maxPool2d!(x, a.kernel, {
        stride: a.stride,
        padding: a.padding,
        dilation: a.dilation,
        ceilMode: a.ceilMode,
      }),
    tolerance: "exact",
  }),
);
