/**
 * Fused `adamUpdate` (or core's composite): Adam and AdamW, with and without weight decay, early and
 * later steps (bias corrections), in place on param, m and v — all three are compared afterwards.
 */
import * as fc from "fast-check";
import { MODERATE, shapeArb, tensorArb } from "../arbitraries.js";
import { ops } from "../ops.js";
import { tolerance } from "../tolerances.js";
import type { ConformanceCase } from "../types.js";
import { FLOATS } from "./common.js";

interface Attrs {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decoupled: boolean;
  step: number;
}

export const cases: ConformanceCase[] = FLOATS.map(
  (dtype): ConformanceCase<Attrs> => ({
    name: `adamUpdate[${dtype}]`,
    kernel: "adamUpdate",
    dtype,
    ops: ["adamUpdate"],
    arbitrary: shapeArb({ maxRank: 3 }).chain((shape) =>
      fc
        .tuple(
          // In-place updates write through their operands: contiguous tensors only.
          tensorArb(dtype, shape, MODERATE, { views: false }),
          tensorArb(dtype, shape, MODERATE, { views: false }),
          tensorArb(dtype, shape, { min: -1, max: 1 }, { views: false }),
          tensorArb(dtype, shape, { min: 0, max: 2 }, { views: false }),
          fc.record({
            lr: fc.constantFrom(1e-3, 1e-2, 0.1),
            beta1: fc.constantFrom(0.9, 0.5),
            beta2: fc.constantFrom(0.999, 0.99),
            eps: fc.constantFrom(1e-8, 1e-6),
            weightDecay: fc.constantFrom(0, 0, 0.01),
            decoupled: fc.boolean(),
            step: fc.integer({ min: 1, max: 20 }),
          }),
        )
        .map(([p, g, m, v, attrs]) => ({ inputs: [p, g, m, v], attrs })),
    ),
    run: ([p, g, m, v], a) => {
      ops.adamUpdate!(p, g, m, v, a);
      return [p!, m!, v!];
    },
    tolerance: tolerance(dtype, "reduction"),
  }),
);
