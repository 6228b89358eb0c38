import {
  amax,
  amin,
  argmax,
  logsumexp,
  max,
  memory,
  min,
  prod,
  std,
  type Tensor,
  tensor,
  tidy,
  variance,
} from "@tessera/core";
import { describe, expect, it } from "vitest";
import { REDUCE_GRAD_CASES } from "../../conformance/src/grad/cases/reduce.js";
import { grad, gradStatus } from "../src/index.js";
import { expectCasePasses, expectRulesWithGradCases, useJsBackend, values } from "./helpers.js";

useJsBackend();

const gradOf = (f: (x: Tensor) => Tensor, x: Tensor) => grad(f)(x);

describe("reduction gradients match finite differences", () => {
  for (const c of REDUCE_GRAD_CASES) it(`${c.name} passes the grad runner`, () => expectCasePasses(c));
});

describe("reduction gradient rules", () => {
  it("every reduction has a gradient status and the differentiable ones a grad case", () => {
    const differentiable = "sum mean prod amax amin max min var std logsumexp".split(" ");
    expectRulesWithGradCases(differentiable, REDUCE_GRAD_CASES);
    expect(gradStatus("argmax")).toBe("non-differentiable");
    expect(gradStatus("argmin")).toBe("non-differentiable");
  });

  it("amax, amin and all-element max/min split the gradient evenly among ties", () => {
    tidy(() => {
      const x = tensor([
        [3, 1, 3],
        [2, 2, 0],
      ]);
      expect(values(gradOf((t) => amax(t, 1).sum(), x))).toEqual([0.5, 0, 0.5, 0.5, 0.5, 0]);
      expect(values(gradOf((t) => amin(t, 0).sum(), x))).toEqual([0, 1, 0, 1, 0, 1]);
      expect(values(gradOf((t) => max(t), x))).toEqual([0.5, 0, 0.5, 0, 0, 0]);
      expect(values(gradOf((t) => min(t), x))).toEqual([0, 0, 0, 0, 0, 1]);
    });
  });

  it("max and min with a dim send the whole gradient to the returned index, the first on ties", () => {
    tidy(() => {
      const x = tensor([
        [3, 1, 3],
        [2, 2, 0],
      ]);
      expect(values(gradOf((t) => max(t, 1).values.sum(), x))).toEqual([1, 0, 0, 1, 0, 0]);
      expect(values(gradOf((t) => min(t, 0, true).values.sum(), x))).toEqual([0, 1, 0, 1, 0, 1]);
      expect(
        values(
          gradOf(
            (t) =>
              max(t, -1)
                .values.mul(tensor([2, 5]))
                .sum(),
            x,
          ),
        ),
      ).toEqual([2, 0, 0, 5, 0, 0]);
    });
  });

  it("prod's gradient is right with no, one and several zeros in a slice", () => {
    tidy(() => {
      const x = tensor([
        [2, 3, 4],
        [2, 0, 4],
        [0, 3, 0],
      ]);
      expect(values(gradOf((t) => prod(t, 1).sum(), x))).toEqual([12, 8, 6, 0, 8, 0, 0, 0, 0]);
      expect(values(gradOf((t) => prod(t), tensor([5, 0, 2])))).toEqual([0, 10, 0]);
    });
  });

  it("std's gradient is zero where std is zero (as torch), not NaN", () => {
    tidy(() => {
      expect(values(gradOf((t) => std(t, 1).sum(), tensor([[1, 1, 1]])))).toEqual([0, 0, 0]);
    });
  });

  it("var with correction 0 is the population variance's gradient 2(x - mean)/N", () => {
    tidy(() => {
      const g = gradOf((t) => variance(t, { correction: 0 }), tensor([1, 2, 6]));
      expect(values(g)).toEqual([-4 / 3, -2 / 3, 2].map(Math.fround));
    });
  });

  it("logsumexp's gradient is the softmax over the reduced dims", () => {
    tidy(() => {
      const g = values(gradOf((t) => logsumexp(t, [0, 1]), tensor([[0, Math.log(3)]])));
      expect(g[0]).toBeCloseTo(0.25, 6);
      expect(g[1]).toBeCloseTo(0.75, 6);
    });
  });

  it("argmax in a differentiated function is no error and takes no gradient", () => {
    tidy(() => {
      const x = tensor([1, 5, 2]);
      const g = gradOf((t) => t.mul(argmax(t).cast("float32")).sum(), x);
      expect(values(g)).toEqual([1, 1, 1]);
    });
  });

  it("backward through reductions leaves no tensors behind", () => {
    const before = memory().numTensors;
    tidy(() => {
      const x = tensor([
        [0.5, -1, 2],
        [1.5, 0.25, -0.5],
      ]);
      gradOf(
        (t) =>
          amax(t, 0)
            .add(max(t, 1, true).values.sum())
            .add(prod(t, 1).sum())
            .add(std(t, 0).mean())
            .add(logsumexp(t, 1).sum())
            .sum(),
        x,
      );
    });
    expect(memory().numTensors).toBe(before);
  });
});
