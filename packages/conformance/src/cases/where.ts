/** The `where` primitive: cond ? a : b with three-way broadcasting; selection is exact for every dtype. */
import type { DType } from "@tessera/core";
import { ANY, type Domain } from "../arbitraries.js";
import { ops } from "../ops.js";
import { mapBroadcast, readHost } from "../oracle.js";
import type { ConformanceCase } from "../types.js";
import { broadcastTensors } from "./common.js";

const DTYPES: readonly DType[] = ["float32", "float16", "bfloat16", "int32", "bool"];
const COND: Domain = { min: 0, max: 1, integer: true };

export const cases: ConformanceCase[] = DTYPES.map(
  (dtype): ConformanceCase => ({
    name: `where[${dtype}]`,
    kernel: "where",
    dtype,
    requires: ["bool"],
    ops: ["where"],
    arbitrary: broadcastTensors(
      ["bool", dtype, dtype],
      [COND, dtype === "int32" ? { min: -1e6, max: 1e6, integer: true } : ANY, ANY],
    ),
    run: ([c, a, b]) => ops.where!(c, a, b),
    // Three-way broadcast; the selected element is copied unchanged (NaN, -0 and all).
    oracle: ([c, a, b]) => [
      mapBroadcast(dtype, [readHost(c!), readHost(a!), readHost(b!)], (ci, ai, bi) => (ci !== 0 ? ai : bi)),
    ],
    tolerance: "exact",
  }),
);
