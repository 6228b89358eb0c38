/** The `gather` primitive through core's gather (torch.gather) and indexSelect: exact for every dtype. */
import { type DType, numel } from "@tessera/core";
import * as fc from "fast-check";
import { ANY, axisArb, hostTensor, shapeArb, tensorArb } from "../arbitraries.js";
import { ops } from "../ops.js";
import type { ConformanceCase, Sample } from "../types.js";

const DTYPES: readonly DType[] = ["float32", "float16", "bfloat16", "int32", "bool"];

interface Attrs {
  dim: number;
}

/** x of rank ≥ 1, a dim, and an int32 index with x's rank, no larger than x off `dim`, values in range. */
function gatherSample(dtype: DType): fc.Arbitrary<Sample<Attrs>> {
  return shapeArb({ minRank: 1, maxRank: 3, minDim: 1, maxNumel: 60 }).chain((xs) =>
    axisArb(xs.length).chain((dim) => {
      const d = dim < 0 ? dim + xs.length : dim;
      const idxShape = fc.tuple(
        ...xs.map((s, i) => (i === d ? fc.integer({ min: 0, max: 6 }) : fc.integer({ min: 0, max: s }))),
      );
      return fc
        .tuple(
          tensorArb(dtype, xs, dtype === "int32" ? { min: -1e6, max: 1e6, integer: true } : ANY),
          idxShape,
        )
        .chain(([x, is]) =>
          fc
            .array(fc.integer({ min: 0, max: xs[d]! - 1 }), { minLength: numel(is), maxLength: numel(is) })
            .map((idx) => ({ inputs: [x, hostTensor("int32", is, idx)], attrs: { dim } })),
        );
    }),
  );
}

function indexSelectSample(dtype: DType): fc.Arbitrary<Sample<Attrs>> {
  return shapeArb({ minRank: 1, maxRank: 3, minDim: 1, maxNumel: 60 }).chain((xs) =>
    axisArb(xs.length).chain((dim) => {
      const d = dim < 0 ? dim + xs.length : dim;
      return fc
        .tuple(
          tensorArb(dtype, xs, dtype === "int32" ? { min: -1e6, max: 1e6, integer: true } : ANY),
          fc.array(fc.integer({ min: 0, max: xs[d]! - 1 }), { maxLength: 6 }),
        )
        .map(([x, idx]) => ({ inputs: [x, hostTensor("int32", [idx.length], idx)], attrs: { dim } }));
    }),
  );
}

export const cases: ConformanceCase[] = DTYPES.flatMap((dtype): ConformanceCase<Attrs>[] => [
  {
    name: `gather[${dtype}]`,
    kernel: "gather",
    dtype,
    requires: ["int32"],
    ops: ["gather"],
    arbitrary: gatherSample(dtype),
    run: ([x, index], a) => ops.gather!(x, a.dim, index),
    tolerance: "exact",
  },
  {
    name: `gather.indexSelect[${dtype}]`,
    kernel: "gather",
    dtype,
    requires: ["int32"],
    ops: ["indexSelect"],
    arbitrary: indexSelectSample(dtype),
    run: ([x, index], a) => ops.indexSelect!(x, a.dim, index),
    tolerance: "exact",
  },
]);
