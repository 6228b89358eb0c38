/** The `fill` primitive through full(): every dtype, every value it can hold (NaN, ±Inf, -0 for floats). */
import { DTYPES, type DType } from "@tessera/core";
import * as fc from "fast-check";
import { ANY, shapeArb, valueArb } from "../arbitraries.js";
import { ops } from "../ops.js";
import { dense, numelOf } from "../oracle.js";
import type { ConformanceCase } from "../types.js";

interface Attrs {
  shape: number[];
  value: number;
}

const value = (dtype: DType) =>
  dtype === "int32" ? fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) : valueArb(dtype, ANY);

export const cases: ConformanceCase[] = DTYPES.map(
  (dtype): ConformanceCase<Attrs> => ({
    name: `fill[${dtype}]`,
    kernel: "fill",
    dtype,
    ops: ["full"],
    arbitrary: fc.record({ shape: shapeArb(), value: value(dtype) }).map((attrs) => ({ inputs: [], attrs })),
    run: (_inputs, a) => ops.full!(a.shape, dtype === "bool" ? a.value !== 0 : a.value, { dtype }),
    tolerance: "exact",
    // Every element is the value rounded to the dtype (bool: value ≠ 0).
    oracle: (_inputs, a) => [dense(dtype, a.shape, new Array<number>(numelOf(a.shape)).fill(a.value))],
  }),
);
