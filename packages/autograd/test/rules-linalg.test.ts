import { linear, matmul, memory, ones, type Tensor, tensor, tidy } from "@tessera/core";
import { describe, expect, it } from "vitest";
import { LINALG_GRAD_CASES } from "../../conformance/src/grad/cases/linalg.js";
import { expectCasePasses, expectRulesWithGradCases, grads, useJsBackend, values } from "./helpers.js";

useJsBackend();

describe("matrix product gradients match finite differences", () => {
  for (const c of LINALG_GRAD_CASES) it(`${c.name} passes the grad runner`, () => expectCasePasses(c));
});

describe("matrix product gradient rules", () => {
  it("matmul and linear have rules and grad cases", () => {
    expectRulesWithGradCases(["matmul", "linear"], LINALG_GRAD_CASES);
  });

  it("gradients of broadcast batch dims come back at the operands' shapes, summed over the batch", () => {
    tidy(() => {
      const a = ones([2, 1, 2, 3]);
      const b = ones([3, 3, 4]);
      const [ga, gb] = grads((x: Tensor, y: Tensor) => matmul(x, y).sum(), [a, b]);
      expect(ga.shape).toEqual([2, 1, 2, 3]);
      expect(gb.shape).toEqual([3, 3, 4]);
      // Each a[i,0] meets 3 batches of b, 4 columns each; each b[j] meets 2 batches of a, 2 rows each.
      expect(values(ga).every((v) => v === 12)).toBe(true);
      expect(values(gb).every((v) => v === 4)).toBe(true);
    });
  });

  it("linear's bias gradient sums over every leading dim and its weight gradient is gᵀ·x", () => {
    tidy(() => {
      const x = tensor([
        [
          [1, 2],
          [3, 4],
        ],
        [
          [5, 6],
          [7, 8],
        ],
      ]);
      const w = tensor([[1, -1]]);
      const b = tensor([0.5]);
      const [gx, gw, gb] = grads((p: Tensor, q: Tensor, r: Tensor) => linear(p, q, r).sum(), [x, w, b]);
      expect(values(gb)).toEqual([4]);
      expect(values(gw)).toEqual([16, 20]);
      expect(values(gx)).toEqual([1, -1, 1, -1, 1, -1, 1, -1]);
    });
  });

  it("backward through matmul and linear leaves no tensors behind", () => {
    const before = memory().numTensors;
    tidy(() => {
      const x = tensor([
        [0.5, -1, 2],
        [1.5, 0.25, -0.5],
      ]);
      const w = tensor([
        [1, 2, 3],
        [-1, 0.5, 2],
      ]);
      grads(
        (p: Tensor, q: Tensor) =>
          linear(p, q)
            .matmul(q)
            .matmul(tensor([1, 2, 3]))
            .sum(),
        [x, w],
      );
    });
    expect(memory().numTensors).toBe(before);
  });
});
