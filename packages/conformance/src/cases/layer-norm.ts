/**
 * Fused `layerNorm` (or core's composite): trailing one or two dims normalised, with and without
 * weight/bias, eps from 1e-5 to 0.1, constant rows (zero variance) and non-contiguous inputs.
 */
import * as fc from "fast-check";
import { MODERATE, shapeArb, tensorArb } from "../arbitraries.js";
import { ops } from "../ops.js";
import { tolerance } from "../tolerances.js";
import type { ConformanceCase, HostTensor } from "../types.js";
import { FLOATS } from "./common.js";

interface Attrs {
  normalized: number[];
  affine: "none" | "weight" | "both";
  eps: number;
}

export const cases: ConformanceCase[] = FLOATS.map(
  (dtype): ConformanceCase<Attrs> => ({
    name: `layerNorm[${dtype}]`,
    kernel: "layerNorm",
    dtype,
    ops: ["layerNorm"],
    arbitrary: shapeArb({ minRank: 1, maxRank: 3, minDim: 1 }).chain((shape) =>
      fc
        .record({
          k: fc.integer({ min: 1, max: Math.min(2, shape.length) }),
          affine: fc.constantFrom("none" as const, "weight" as const, "both" as const),
          eps: fc.constantFrom(1e-5, 1e-3, 0.1),
        })
        .chain(({ k, affine, eps }) => {
          const normalized = shape.slice(shape.length - k);
          const params = affine === "none" ? 0 : affine === "weight" ? 1 : 2;
          return fc
            .tuple(
              tensorArb(dtype, shape, MODERATE),
              ...Array.from({ length: params }, () => tensorArb(dtype, normalized, MODERATE)),
            )
            .map((inputs: HostTensor[]) => ({ inputs, attrs: { normalized, affine, eps } }));
        }),
    ),
    run: ([x, w, b], a) => ops.layerNorm!(x, a.normalized, w ?? null, b ?? null, a.eps),
    tolerance: tolerance(dtype, "reduction"),
  }),
);
