/**
 * Fused `crossEntropy` (or core's composite): [N,C] and unbatched [C] logits with int32 targets,
 * ignored targets (-100), class weights, label smoothing and every reduction. An all-ignored batch
 * with 'mean' gives NaN on both sides.
 */
import * as fc from "fast-check";
import { dimArb, hostTensor, tensorArb } from "../arbitraries.js";
import { ops } from "../ops.js";
import { tolerance } from "../tolerances.js";
import type { ConformanceCase, HostTensor } from "../types.js";
import { FLOATS } from "./common.js";
import { LOGITS } from "./softmax.js";

interface Attrs {
  reduction: "none" | "mean" | "sum";
  labelSmoothing: number;
}

export const cases: ConformanceCase[] = FLOATS.map(
  (dtype): ConformanceCase<Attrs> => ({
    name: `crossEntropy[${dtype}]`,
    kernel: "crossEntropy",
    dtype,
    requires: ["int32"],
    ops: ["crossEntropy"],
    arbitrary: fc
      .record({
        n: dimArb(0, 6),
        unbatched: fc.boolean(),
        c: fc.integer({ min: 1, max: 6 }),
        weighted: fc.boolean(),
        reduction: fc.constantFrom("none" as const, "mean" as const, "sum" as const),
        labelSmoothing: fc.constantFrom(0, 0, 0.1, 0.5),
      })
      .chain((p) => {
        const unbatched = p.unbatched && p.n === 1;
        const logitShape = unbatched ? [p.c] : [p.n, p.c];
        const targetShape = unbatched ? [] : [p.n];
        const count = unbatched ? 1 : p.n;
        return fc
          .tuple(
            tensorArb(dtype, logitShape, { ...LOGITS, min: -20, max: 20, specials: false }),
            fc.array(
              fc.oneof(
                { arbitrary: fc.integer({ min: 0, max: p.c - 1 }), weight: 5 },
                { arbitrary: fc.constant(-100), weight: 1 },
              ),
              {
                minLength: count,
                maxLength: count,
              },
            ),
            p.weighted
              ? tensorArb(dtype, [p.c], { min: 0, max: 2 }).map((w) => [w])
              : fc.constant([] as HostTensor[]),
          )
          .map(([logits, target, w]) => ({
            inputs: [logits, hostTensor("int32", targetShape, target), ...w],
            attrs: { reduction: p.reduction, labelSmoothing: p.labelSmoothing },
          }));
      }),
    run: ([logits, target, weight], a) =>
      ops.crossEntropy!(logits, target, {
        weight: weight ?? null,
        reduction: a.reduction,
        labelSmoothing: a.labelSmoothing,
      }),
    tolerance: tolerance(dtype, "reduction"),
  }),
);
