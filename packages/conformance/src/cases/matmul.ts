/**
 * The `matmul` primitive through core's matmul: 1-D·1-D, matrix, batched with broadcast batch dims,
 * transposed and sliced operand views (core may pass them as transA/transB), 0-size M, N or K.
 */
import type { DType } from "@tessera/core";
import * as fc from "fast-check";
import { broadcastShapesArb, type Domain, dimArb, tensorArb } from "../arbitraries.js";
import { ops } from "../ops.js";
import { tolerance } from "../tolerances.js";
import type { ConformanceCase, Sample } from "../types.js";
import { FLOATS } from "./common.js";

// |x| ≤ 4 and K ≤ 24: the assumptions behind the *.matmul tolerances.
const VALUES: Domain = { min: -4, max: 4 };

function matmulSample(dtype: DType, domain: Domain): fc.Arbitrary<Sample<undefined>> {
  const k = fc.oneof(
    { arbitrary: dimArb(0, 7), weight: 3 },
    { arbitrary: fc.integer({ min: 8, max: 24 }), weight: 1 },
  );
  return fc
    .record({
      batch: broadcastShapesArb(2, { maxRank: 2, maxDim: 3 }),
      m: dimArb(0, 6),
      n: dimArb(0, 6),
      k,
      // 0: both matrices, 1: a is a vector [K], 2: b is a vector [K], 3: both vectors.
      vec: fc.constantFrom(0, 0, 0, 1, 2, 3),
    })
    .chain(({ batch, m, n, k, vec }) => {
      const aShape = vec & 1 ? [k] : [...batch.inputs[0]!, m, k];
      const bShape = vec & 2 ? [k] : [...batch.inputs[1]!, k, n];
      return fc
        .tuple(tensorArb(dtype, aShape, domain), tensorArb(dtype, bShape, domain))
        .map(([a, b]) => ({ inputs: [a, b], attrs: undefined }));
    });
}

export const cases: ConformanceCase[] = [...FLOATS, "float64" as DType].map(
  (dtype): ConformanceCase => ({
    name: `matmul[${dtype}]`,
    kernel: "matmul",
    dtype,
    ops: ["matmul"],
    arbitrary: matmulSample(dtype, VALUES),
    run: ([a, b]) => ops.matmul!(a, b),
    tolerance: tolerance(dtype, "matmul"),
  }),
);
