/**
 * Composite-level ops that every model leans on, built by core from copy/gather primitives: cat, pad
 * (constant value, negative pads crop), flip. Exact: they only move values.
 */
import { DTYPES, type DType } from "@tessera/core";
import * as fc from "fast-check";
import { ANY, axisArb, type Domain, shapeArb, tensorArb } from "../arbitraries.js";
import { ops } from "../ops.js";
import type { ConformanceCase, HostTensor } from "../types.js";
import { oneTensor } from "./common.js";

const domain = (dtype: DType): Domain => (dtype === "int32" ? { min: -1e6, max: 1e6, integer: true } : ANY);
const TYPES = DTYPES.filter((d) => d !== "float64");

export const cases: ConformanceCase[] = TYPES.flatMap((dtype): ConformanceCase[] => [
  {
    name: `cat[${dtype}]`,
    kernel: "copy",
    dtype,
    ops: ["cat"],
    arbitrary: shapeArb({ minRank: 1, maxRank: 3, maxNumel: 32 }).chain((shape) =>
      axisArb(shape.length).chain((dim) => {
        const d = dim < 0 ? dim + shape.length : dim;
        return fc
          .array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 4 })
          .chain((sizes) =>
            fc.tuple(
              ...sizes.map((s) =>
                tensorArb(
                  dtype,
                  shape.map((x, i) => (i === d ? s : x)),
                  domain(dtype),
                ),
              ),
            ),
          )
          .map((inputs: HostTensor[]) => ({ inputs, attrs: { dim } }));
      }),
    ),
    run: (inputs, a: { dim: number }) => ops.cat!(inputs, a.dim),
    tolerance: "exact",
  },
  {
    name: `pad[${dtype}]`,
    kernel: "copy",
    dtype,
    ops: ["pad"],
    arbitrary: oneTensor(dtype, domain(dtype), { minRank: 1, maxRank: 3, minDim: 2 }, (s) =>
      fc.record({
        pads: fc
          .integer({ min: 1, max: s.length })
          .chain((k) => fc.array(fc.integer({ min: -1, max: 2 }), { minLength: 2 * k, maxLength: 2 * k })),
        value:
          dtype === "bool"
            ? fc.constantFrom(0, 1)
            : dtype === "int32"
              ? fc.integer({ min: -5, max: 5 })
              : fc.constantFrom(0, -0, 1.5, Number.NEGATIVE_INFINITY),
      }),
    ),
    run: ([x], a: { pads: number[]; value: number }) => ops.pad!(x, a.pads, a.value),
    tolerance: "exact",
  },
  {
    name: `flip[${dtype}]`,
    kernel: "copy",
    dtype,
    ops: ["flip"],
    arbitrary: oneTensor(dtype, domain(dtype), { minRank: 1, maxRank: 3 }, (s) =>
      fc.record({
        dims: fc.uniqueArray(fc.integer({ min: 0, max: s.length - 1 }), {
          minLength: 1,
          maxLength: s.length,
        }),
      }),
    ),
    run: ([x], a: { dims: number[] }) => ops.flip!(x, a.dims),
    tolerance: "exact",
  },
]);
