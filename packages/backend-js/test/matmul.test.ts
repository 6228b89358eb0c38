import { broadcastShapes, type DType, Tensor } from "@tessera/core";
import { describe, expect, it } from "vitest";
import { JsBackend } from "../src/index.js";
import { make, numelOf, randomValues, read } from "./helpers.js";

const be = new JsBackend();

/** Naive float64 reference for out = op(a)·op(b) with broadcast batch dims. */
function refMatmul(
  a: number[],
  aShape: number[],
  b: number[],
  bShape: number[],
  transA: boolean,
  transB: boolean,
) {
  const ra = aShape.length;
  const rb = bShape.length;
  const M = transA ? aShape[ra - 1]! : aShape[ra - 2]!;
  const K = transA ? aShape[ra - 2]! : aShape[ra - 1]!;
  const N = transB ? bShape[rb - 2]! : bShape[rb - 1]!;
  const batch = broadcastShapes(aShape.slice(0, -2), bShape.slice(0, -2));
  const nb = numelOf(batch);
  const out = new Array<number>(nb * M * N).fill(0);
  const batchIndex = (bi: number, shape: number[]) => {
    // Index into a (possibly broadcast, shorter) batch shape.
    let idx = 0;
    let rem = bi;
    let mul = 1;
    for (let d = batch.length - 1; d >= 0; d--) {
      const coord = rem % batch[d]!;
      rem = Math.floor(rem / batch[d]!);
      const sd = d - (batch.length - shape.length);
      if (sd >= 0) {
        idx += (shape[sd] === 1 ? 0 : coord) * mul;
        mul *= shape[sd]!;
      }
    }
    return idx;
  };
  for (let bi = 0; bi < nb; bi++) {
    const oa = batchIndex(bi, aShape.slice(0, -2)) * M * K;
    const ob = batchIndex(bi, bShape.slice(0, -2)) * K * N;
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const av = a[oa + (transA ? k * M + i : i * K + k)]!;
          const bv = b[ob + (transB ? j * K + k : k * N + j)]!;
          s += av * bv;
        }
        out[(bi * M + i) * N + j] = s;
      }
  }
  return { out, shape: [...batch, M, N] };
}

function runMatmul(
  aShape: number[],
  bShape: number[],
  transA: boolean,
  transB: boolean,
  dtype: DType,
  seed = 1,
) {
  const av = randomValues(numelOf(aShape), seed);
  const bv = randomValues(numelOf(bShape), seed + 1);
  const a = make(be, aShape, av, dtype);
  const b = make(be, bShape, bv, dtype);
  const ar = read(a);
  const br = read(b);
  const ref = refMatmul(ar, aShape, br, bShape, transA, transB);
  const out = Tensor.empty(ref.shape, dtype, be);
  be.matmul(a.kernelView, b.kernelView, transA, transB, out.kernelView);
  const got = read(out);
  a.dispose();
  b.dispose();
  out.dispose();
  return { got, ref: ref.out, K: transA ? aShape.at(-2)! : aShape.at(-1)! };
}

/** |got − ref| ≤ tol · Σ|a||b| scale: the error bound of a length-K dot product, checked per element. */
function expectMatmulClose(got: number[], ref: number[], tol: number, K: number) {
  expect(got.length).toBe(ref.length);
  for (let i = 0; i < ref.length; i++) {
    const err = Math.abs(got[i]! - ref[i]!);
    if (!(err <= tol * (Math.abs(ref[i]!) + Math.sqrt(Math.max(K, 1))))) {
      expect.fail(`element ${i}: got ${got[i]}, expected ${ref[i]} (K=${K})`);
    }
  }
}

const sizes: [number, number, number][] = [
  [1, 1, 1],
  [1, 7, 5],
  [5, 1, 7],
  [7, 5, 1],
  [3, 4, 8],
  [4, 8, 3],
  [13, 7, 50],
  [17, 33, 9],
  [65, 70, 31],
  [37, 300, 260],
  [129, 9, 257],
  [2, 1030, 3],
];

describe("matmul", () => {
  for (const dtype of ["float32", "float64"] as const) {
    it(`${dtype} matches a naive float64 reference for odd sizes and every transposition`, () => {
      const tol = dtype === "float32" ? 1e-6 : 1e-13;
      for (const [M, N, K] of sizes) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            const aShape = transA ? [K, M] : [M, K];
            const bShape = transB ? [N, K] : [K, N];
            const { got, ref } = runMatmul(aShape, bShape, transA, transB, dtype, M * 31 + N);
            expectMatmulClose(got, ref, tol, K);
          }
        }
      }
    });
  }

  it("broadcasts batch dims (incl. size-1 and missing dims) like torch.matmul", () => {
    const cases: [number[], number[]][] = [
      [
        [2, 1, 5, 7],
        [3, 7, 4],
      ],
      [
        [4, 9, 6],
        [6, 10],
      ],
      [
        [9, 6],
        [2, 3, 6, 11],
      ],
      [
        [1, 3, 17, 12],
        [2, 1, 12, 19],
      ],
    ];
    for (const [aShape, bShape] of cases) {
      for (const transB of [false, true]) {
        const bs = transB ? [...bShape.slice(0, -2), bShape.at(-1)!, bShape.at(-2)!] : bShape;
        const { got, ref, K } = runMatmul(aShape, bs, false, transB, "float32");
        expectMatmulClose(got, ref, 1e-6, K);
      }
    }
  });

  it("handles zero-size M, N, K and batch dims (K = 0 gives zeros)", () => {
    const cases: [number[], number[]][] = [
      [
        [0, 5],
        [5, 3],
      ],
      [
        [4, 5],
        [5, 0],
      ],
      [
        [4, 0],
        [0, 3],
      ],
      [
        [0, 4, 5],
        [5, 3],
      ],
    ];
    for (const [aShape, bShape] of cases) {
      const { got, ref } = runMatmul(aShape, bShape, false, false, "float32");
      expect(got).toEqual(ref);
    }
  });

  it("float32 stays within 1e-5 relative of float64 for K up to 4096", () => {
    for (const K of [1000, 4096]) {
      const av = randomValues(9 * K, 5, 0, 1);
      const bv = randomValues(K * 11, 6, 0, 1);
      const a = make(be, [9, K], av, "float32");
      const b = make(be, [K, 11], bv, "float32");
      const ref = refMatmul(read(a), [9, K], read(b), [K, 11], false, false).out;
      const out = Tensor.empty([9, 11], "float32", be);
      be.matmul(a.kernelView, b.kernelView, false, false, out.kernelView);
      const got = read(out);
      for (let i = 0; i < ref.length; i++) expect(Math.abs(got[i]! - ref[i]!) / ref[i]!).toBeLessThan(1e-5);
      for (const t of [a, b, out]) t.dispose();
    }
  });

  it("int32 and half dtypes use exact / decoded arithmetic", () => {
    const a = make(be, [3, 4], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], "int32");
    const b = make(be, [4, 2], [1, 0, 0, 1, 1, 1, -1, 2], "int32");
    const out = Tensor.empty([3, 2], "int32", be);
    be.matmul(a.kernelView, b.kernelView, false, false, out.kernelView);
    expect(read(out)).toEqual([0, 13, 4, 29, 8, 45]);
    for (const t of [a, b, out]) t.dispose();
    for (const dtype of ["float16", "bfloat16"] as const) {
      const { got, ref, K } = runMatmul([2, 9, 13], [2, 13, 10], false, false, dtype);
      expectMatmulClose(got, ref, dtype === "float16" ? 2e-3 : 1e-2, K);
    }
  });

  it("reads operands at a non-zero view offset", () => {
    const base = make(be, [50], randomValues(50, 9), "float32");
    const a = base.slice(0, 3, 23).reshape(4, 5);
    const b = base.slice(0, 20, 50).reshape(5, 6);
    const ref = refMatmul(read(a), [4, 5], read(b), [5, 6], false, false).out;
    const out = Tensor.empty([4, 6], "float32", be);
    be.matmul(a.kernelView, b.kernelView, false, false, out.kernelView);
    expectMatmulClose(read(out), ref, 1e-6, 5);
    for (const t of [base, a, b, out]) t.dispose();
  });

  it("repeated calls of different sizes reuse buffers without stale data", () => {
    const big = runMatmul([70, 300], [300, 90], false, false, "float32", 3);
    expectMatmulClose(big.got, big.ref, 1e-6, 300);
    const small = runMatmul([9, 20], [17, 20], false, true, "float32", 4);
    const again = runMatmul([9, 20], [17, 20], false, true, "float32", 4);
    expect(small.got).toEqual(again.got);
  });
});
