/**
 * The `scatterAdd` primitive through core's scatterAdd (out-of-place torch.scatter_add). Duplicate
 * indices make the accumulation order matter, so floats compare with the reduction tolerance.
 */
import { type DType, numel } from "@tessera/core";
import * as fc from "fast-check";
import { axisArb, type Domain, hostTensor, shapeArb, tensorArb } from "../arbitraries.js";
import type { Output } from "../compare.js";
import { ops } from "../ops.js";
import { at, dense, flatIndex, indices, normDim, readHost } from "../oracle.js";
import { tolerance } from "../tolerances.js";
import type { ConformanceCase, HostTensor, Sample } from "../types.js";
import { FLOATS } from "./common.js";

interface Attrs {
  dim: number;
}

const VALUES: Domain = { min: -16, max: 16, specials: true };
const INT: Domain = { min: -1000, max: 1000, integer: true };

function scatterSample(dtype: DType): fc.Arbitrary<Sample<Attrs>> {
  const domain = dtype === "int32" ? INT : VALUES;
  return shapeArb({ minRank: 1, maxRank: 3, minDim: 1, maxNumel: 48 }).chain((xs) =>
    axisArb(xs.length).chain((dim) => {
      const d = dim < 0 ? dim + xs.length : dim;
      // index no larger than x off `dim`; src at least as large as index everywhere.
      const idxShape = fc.tuple(...xs.map((s, i) => fc.integer({ min: 0, max: i === d ? 6 : s })));
      return idxShape.chain((is) => {
        const srcShape = fc.tuple(
          ...is.map((s, i) => fc.integer({ min: s, max: i === d ? s + 1 : Math.max(s, xs[i]!) })),
        );
        return fc
          .tuple(
            tensorArb(dtype, xs, domain),
            srcShape.chain((ss) => tensorArb(dtype, ss, domain)),
            fc.array(fc.integer({ min: 0, max: xs[d]! - 1 }), { minLength: numel(is), maxLength: numel(is) }),
          )
          .map(([x, src, idx]) => ({ inputs: [x, hostTensor("int32", is, idx), src], attrs: { dim } }));
      });
    }),
  );
}

/**
 * Out-of-place torch.scatter_add: out starts as x, then for every position p of index (src read at the
 * same p, so only src's leading index-shaped corner takes part) out[p with p[dim] = index[p]] += src[p].
 * Duplicate indices accumulate; sums are float64 (int32: wrapped with `|0` per add), rounded once.
 */
function scatterAddOracle(hx: HostTensor, hi: HostTensor, hs: HostTensor, dim: number): Output {
  const x = readHost(hx);
  const index = readHost(hi);
  const src = readHost(hs);
  const d = normDim(dim, x.shape.length);
  const acc = [...x.values];
  for (const p of indices(index.shape)) {
    const dst = [...p];
    dst[d] = at(index, p);
    const k = flatIndex(x.shape, dst);
    acc[k] = x.dtype === "int32" ? (acc[k]! + at(src, p)) | 0 : acc[k]! + at(src, p);
  }
  return dense(x.dtype, x.shape, acc);
}

export const cases: ConformanceCase[] = [...FLOATS, "int32" as DType].map(
  (dtype): ConformanceCase<Attrs> => ({
    name: `scatterAdd[${dtype}]`,
    kernel: "scatterAdd",
    dtype,
    requires: ["int32"],
    ops: ["scatterAdd"],
    arbitrary: scatterSample(dtype),
    run: ([x, index, src], a) => ops.scatterAdd!(x, a.dim, index, src),
    oracle: ([x, index, src], a) => [scatterAddOracle(x!, index!, src!, a.dim)],
    tolerance: tolerance(dtype, "reduction"),
  }),
);
