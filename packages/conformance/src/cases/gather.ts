/** The `gather` primitive through core's gather (torch.gather) and indexSelect: exact for every dtype. */
import { type DType, numel } from "@tessera/core";
import * as fc from "fast-check";
import { ANY, axisArb, hostTensor, shapeArb, tensorArb } from "../arbitraries.js";
import type { Output } from "../compare.js";
import { ops } from "../ops.js";
import { at, dense, indices, normDim, readHost } from "../oracle.js";
import type { ConformanceCase, HostTensor, Sample } from "../types.js";

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

/** torch.gather: out has index's shape and out[p] = x[p with p[dim] replaced by index[p]]. */
function gatherOracle(hx: HostTensor, hi: HostTensor, dim: number): Output {
  const x = readHost(hx);
  const index = readHost(hi);
  const d = normDim(dim, x.shape.length);
  const values = indices(index.shape).map((p) => {
    const src = [...p];
    src[d] = at(index, p);
    return at(x, src);
  });
  return dense(x.dtype, index.shape, values);
}

/** torch.index_select: x with dim `dim` replaced by the listed positions, out[p] = x[p with p[dim] = index[p[dim]]]. */
function indexSelectOracle(hx: HostTensor, hi: HostTensor, dim: number): Output {
  const x = readHost(hx);
  const index = readHost(hi);
  const d = normDim(dim, x.shape.length);
  const shape = [...x.shape];
  shape[d] = index.values.length;
  const values = indices(shape).map((p) => {
    const src = [...p];
    src[d] = index.values[p[d]!]!;
    return at(x, src);
  });
  return dense(x.dtype, shape, values);
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
    oracle: ([x, index], a) => [gatherOracle(x!, index!, a.dim)],
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
    oracle: ([x, index], a) => [indexSelectOracle(x!, index!, a.dim)],
    tolerance: "exact",
  },
]);
