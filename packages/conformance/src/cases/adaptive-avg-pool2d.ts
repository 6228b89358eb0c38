/** Fused `adaptiveAvgPool2d` (or core's composite): output sizes below, equal to and above the input's, uneven windows. */
import * as fc from "fast-check";
import { MODERATE, tensorArb } from "../arbitraries.js";
import { ops } from "../ops.js";
import { tolerance } from "../tolerances.js";
import type { ConformanceCase } from "../types.js";
import { FLOATS } from "./common.js";

export const cases: ConformanceCase[] = FLOATS.map(
  (dtype): ConformanceCase<{ out: [number, number] }> => ({
    name: `adaptiveAvgPool2d[${dtype}]`,
    kernel: "adaptiveAvgPool2d",
    dtype,
    ops: ["adaptiveAvgPool2d"],
    arbitrary: fc
      .record({
        n: fc.constantFrom(0, 1, 2),
        c: fc.integer({ min: 1, max: 3 }),
        h: fc.integer({ min: 1, max: 7 }),
        w: fc.integer({ min: 1, max: 7 }),
        oh: fc.integer({ min: 1, max: 8 }),
        ow: fc.integer({ min: 1, max: 8 }),
      })
      .chain((p) =>
        tensorArb(dtype, [p.n, p.c, p.h, p.w], { ...MODERATE, specials: true }).map((x) => ({
          inputs: [x],
          attrs: { out: [p.oh, p.ow] as [number, number] },
        })),
      ),
    run: ([x], a) => ops.adaptiveAvgPool2d!(x, a.out),
    tolerance: tolerance(dtype, "reduction"),
  }),
);
