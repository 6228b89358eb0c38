/**
 * Gradient cases of matrix products: every operand-rank combination of torch.matmul (vector·vector,
 * vector·matrix, matrix·vector, batches with broadcast batch dims, a matrix against a batch on either
 * side) and linear with and without bias over 1-D, 2-D and 3-D inputs.
 */
import { linear, matmul } from "@tessera/core";
import * as fc from "fast-check";
import type { GradCase } from "../types.js";
import { floatIn } from "./elementwise.js";

const product = (name: string, a: number[], b: number[]): GradCase => ({
  name: `grad.matmul${name}`,
  ops: ["matmul"],
  arbitrary: fc.tuple(floatIn(a), floatIn(b)).map((inputs) => ({ inputs, attrs: {} })),
  run: ([x, y]) => matmul(x!, y!),
});

const linearCase = (name: string, x: number[], outF: number, bias: boolean): GradCase => {
  const inF = x[x.length - 1]!;
  const shapes = bias ? [x, [outF, inF], [outF]] : [x, [outF, inF]];
  return {
    name: `grad.linear${name}`,
    ops: ["linear"],
    arbitrary: fc.tuple(...shapes.map((s) => floatIn(s))).map((inputs) => ({ inputs, attrs: {} })),
    run: ([input, w, b]) => linear(input!, w!, b ?? null),
  };
};

export const LINALG_GRAD_CASES: GradCase[] = [
  product("", [3, 4], [4, 2]),
  product(".vecvec", [5], [5]),
  product(".vecmat", [4], [4, 3]),
  product(".matvec", [3, 4], [4]),
  product(".batched", [2, 3, 4], [2, 4, 2]),
  product(".broadcastBatch", [2, 1, 2, 3], [3, 3, 2]),
  product(".batchByMatrix", [2, 3, 4], [4, 2]),
  product(".matrixByBatch", [3, 4], [2, 4, 2]),
  product(".vecByBatch", [3], [2, 3, 2]),
  product(".batchByVec", [2, 2, 3], [3]),
  {
    // A transposed operand reaches the kernel as transA/transB; its gradient is the same.
    name: "grad.matmul.transposed",
    ops: ["matmul"],
    arbitrary: fc.tuple(floatIn([4, 3]), floatIn([2, 4])).map((inputs) => ({ inputs, attrs: {} })),
    run: ([x, y]) => matmul(x!.mT, y!.mT),
  },
  linearCase("", [3, 4], 2, true),
  linearCase(".noBias", [3, 4], 2, false),
  linearCase(".vector", [4], 3, true),
  linearCase(".batched", [2, 3, 4], 2, true),
];
