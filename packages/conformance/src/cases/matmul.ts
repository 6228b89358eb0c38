/**
 * The `matmul` primitive through core's matmul: 1-D·1-D, matrix, batched with broadcast batch dims,
 * transposed and sliced operand views (core may pass them as transA/transB), 0-size M, N or K.
 */
import type { DType } from "@tessera/core";
import * as fc from "fast-check";
import { broadcastShapesArb, type Domain, dimArb, tensorArb } from "../arbitraries.js";
import type { Output } from "../compare.js";
import { ops } from "../ops.js";
import { at, broadcastShape, dense, indices, readHost } from "../oracle.js";
import { tolerance } from "../tolerances.js";
import type { ConformanceCase, HostTensor, Sample } from "../types.js";
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

/**
 * torch.matmul by definition: a 1-D a is a row [1, K] and a 1-D b a column [K, 1] (that dim is dropped
 * from the result), batch dims broadcast, and each output is Σₖ a[…, i, k]·b[…, k, j] in float64 (0 for
 * K = 0), rounded once. Transposed and sliced operands are read through their views.
 */
function matmulOracle(ha: HostTensor, hb: HostTensor): Output {
  const a = readHost(ha);
  const b = readHost(hb);
  const aVec = a.shape.length === 1;
  const bVec = b.shape.length === 1;
  const K = a.shape[a.shape.length - 1]!;
  const aShape = aVec ? [1, K] : a.shape;
  const bShape = bVec ? [K, 1] : b.shape;
  const M = aShape[aShape.length - 2]!;
  const N = bShape[bShape.length - 1]!;
  const aBatch = aShape.slice(0, -2);
  const bBatch = bShape.slice(0, -2);
  const batch = broadcastShape(aBatch, bBatch);
  const A = { ...a, shape: aShape };
  const B = { ...b, shape: bShape };
  // The batch index of an operand: right-aligned, size-1 dims broadcast.
  const batchOf = (own: number[], idx: number[]) =>
    own.map((d, k) => (d === 1 ? 0 : idx[k + idx.length - own.length]!));
  const values: number[] = [];
  for (const bi of indices(batch)) {
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++)
          s += at(A, [...batchOf(aBatch, bi), i, k]) * at(B, [...batchOf(bBatch, bi), k, j]);
        values.push(s);
      }
    }
  }
  const shape = [...batch, ...(aVec ? [] : [M]), ...(bVec ? [] : [N])];
  return dense(a.dtype, shape, values);
}

export const cases: ConformanceCase[] = [...FLOATS, "float64" as DType].map(
  (dtype): ConformanceCase => ({
    name: `matmul[${dtype}]`,
    kernel: "matmul",
    dtype,
    ops: ["matmul"],
    arbitrary: matmulSample(dtype, VALUES),
    run: ([a, b]) => ops.matmul!(a, b),
    oracle: ([a, b]) => [matmulOracle(a!, b!)],
    tolerance: tolerance(dtype, "matmul"),
  }),
);
