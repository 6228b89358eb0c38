/** Batched matmul with broadcast batch dims and transposed operands. */
import { broadcastShapes, broadcastStrides, contiguousStrides } from "@tessera/core";

type Arr = { [i: number]: number; length: number };

export interface MatmulArgs {
  a: Arr;
  aOffset: number;
  aShape: readonly number[];
  b: Arr;
  bOffset: number;
  bShape: readonly number[];
  transA: boolean;
  transB: boolean;
  out: Arr;
  outShape: readonly number[];
}

export function matmulKernel(args: MatmulArgs): void {
  const { a, b, out, aShape, bShape, transA, transB } = args;
  const ra = aShape.length;
  const rb = bShape.length;
  const M = transA ? aShape[ra - 1]! : aShape[ra - 2]!;
  const K = transA ? aShape[ra - 2]! : aShape[ra - 1]!;
  const N = transB ? bShape[rb - 2]! : bShape[rb - 1]!;
  const batchA = aShape.slice(0, -2);
  const batchB = bShape.slice(0, -2);
  const batch = broadcastShapes(batchA, batchB, "matmul");
  const sa = broadcastStrides(batchA, contiguousStrides(batchA).map((s) => s * M * K), batch);
  const sb = broadcastStrides(batchB, contiguousStrides(batchB).map((s) => s * K * N), batch);
  const nb = batch.reduce((x, y) => x * y, 1);
  const idx = new Array<number>(batch.length).fill(0);
  // Strides of A as [M,K] and B as [K,N] whatever the transposition.
  const aRow = transA ? 1 : K;
  const aCol = transA ? M : 1;
  const bRow = transB ? 1 : N;
  const bCol = transB ? K : 1;
  const acc = new Float64Array(N);
  for (let bi = 0; bi < nb; bi++) {
    let offA = args.aOffset;
    let offB = args.bOffset;
    for (let d = 0; d < batch.length; d++) {
      offA += idx[d]! * sa[d]!;
      offB += idx[d]! * sb[d]!;
    }
    const offO = bi * M * N;
    for (let i = 0; i < M; i++) {
      acc.fill(0);
      for (let k = 0; k < K; k++) {
        const av = a[offA + i * aRow + k * aCol]!;
        const bBase = offB + k * bRow;
        for (let j = 0; j < N; j++) acc[j]! += av * b[bBase + j * bCol]!;
      }
      for (let j = 0; j < N; j++) out[offO + i * N + j] = acc[j]!;
    }
    for (let d = batch.length - 1; d >= 0; d--) {
      if (++idx[d]! < batch[d]!) break;
      idx[d] = 0;
    }
  }
}
