import {
  cat,
  chunk,
  gather,
  indexSelect,
  memory,
  pad,
  repeat,
  scatterAdd,
  split,
  type Tensor,
  tensor,
  tidy,
  tile,
  tracedOpNames,
} from "@tessera/core";
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MANIPULATION_GRAD_CASES } from "../../conformance/src/grad/cases/manipulation.js";
import { VIEW_GRAD_CASES } from "../../conformance/src/grad/cases/views.js";
import type { GradCase } from "../../conformance/src/grad/types.js";
import { getGradRule, gradcheck, gradStatus, registerGradRule } from "../src/index.js";
import { grads, RUNS, toTensor, useJsBackend, values } from "./helpers.js";

// gradcheck and these tests reduce with sum; until the reduction rules land, a minimal one stands in.
if (!getGradRule("sum")) {
  registerGradRule<[Tensor, (number | readonly number[])?, boolean?]>("sum", {
    backward: (g, ctx) => {
      const shape = ctx.inputs[0]!.shape;
      const [, dim, keepdim = false] = ctx.args;
      let out = g[0]!;
      if (!keepdim && dim !== undefined) {
        const dims = (typeof dim === "number" ? [dim] : [...dim]).map((d) => (d < 0 ? d + shape.length : d));
        for (const d of dims.sort((a, b) => a - b)) out = out.unsqueeze(d);
      } else if (!keepdim) out = out.reshape(shape.map(() => 1));
      return [out.expand(shape)];
    },
  });
}

useJsBackend();

/** Runs every sample of a case through gradcheck (float64 finite differences on 'js'). */
function checkCase(c: GradCase): void {
  fc.assert(
    fc.property(c.arbitrary, (sample) => {
      tidy(() => {
        const inputs = sample.inputs.map((i) => toTensor(i));
        gradcheck((...xs) => c.run(xs, sample.attrs), inputs, c.tolerance?.gradcheck);
      });
    }),
    RUNS,
  );
}

describe("manipulation and view gradients match finite differences", () => {
  for (const c of [...MANIPULATION_GRAD_CASES, ...VIEW_GRAD_CASES]) {
    it(`${c.name} passes gradcheck`, () => checkCase(c));
  }
});

describe("manipulation gradient rules", () => {
  it("every manipulation op has a gradient status", () => {
    const family = [
      "cat",
      "stack",
      "split",
      "chunk",
      "gather",
      "indexSelect",
      "scatterAdd",
      "pad",
      "flip",
      "repeat",
      "tile",
      "oneHot",
      "triu",
      "tril",
    ];
    for (const name of family) {
      expect(tracedOpNames()).toContain(name);
      expect(gradStatus(name), name).toBeDefined();
    }
    expect(gradStatus("tile")).toBe("composite");
    expect(gradStatus("oneHot")).toBe("non-differentiable");
  });

  it("gather's gradient adds up at repeated indices", () => {
    tidy(() => {
      const x = tensor([1, 2, 3]);
      const index = tensor([0, 2, 0, 0], { dtype: "int32" });
      const [gx] = grads((t: Tensor) => gather(t, 0, index).sum(), [x]);
      expect(values(gx)).toEqual([3, 0, 1]);
    });
  });

  it("indexSelect's gradient adds up at repeated rows", () => {
    tidy(() => {
      const x = tensor([
        [1, 2],
        [3, 4],
        [5, 6],
      ]);
      const index = tensor([2, 2, 1], { dtype: "int32" });
      const [gx] = grads((t: Tensor) => indexSelect(t, 0, index).sum(), [x]);
      expect(values(gx)).toEqual([0, 0, 1, 1, 2, 2]);
    });
  });

  it("scatterAdd gives src zeros where index does not reach", () => {
    tidy(() => {
      const x = tensor([0, 0, 0]);
      const src = tensor([10, 20, 30]);
      const index = tensor([2], { dtype: "int32" });
      const w = tensor([1, 2, 3]);
      const [gx, gs] = grads((a: Tensor, s: Tensor) => scatterAdd(a, 0, index, s).mul(w).sum(), [x, src]);
      expect(values(gx)).toEqual([1, 2, 3]);
      expect(values(gs)).toEqual([3, 0, 0]);
    });
  });

  it("pad with negative pads crops, and its gradient is zero where it cropped", () => {
    tidy(() => {
      const x = tensor([1, 2, 3, 4]);
      const [gx] = grads(
        (t: Tensor) =>
          pad(t, [-1, 2], 7)
            .mul(tensor([1, 2, 3, 4, 5]))
            .sum(),
        [x],
      );
      expect(values(gx)).toEqual([0, 1, 2, 3]);
    });
  });

  it("split pieces nobody uses get zero gradients", () => {
    tidy(() => {
      const x = tensor([1, 2, 3, 4, 5]);
      const [gx] = grads((t: Tensor) => split(t, [2, 3])[1]!.sum(), [x]);
      expect(values(gx)).toEqual([0, 0, 1, 1, 1]);
      const [gc] = grads((t: Tensor) => chunk(t, 3)[0]!.mul(2).sum(), [x]);
      expect(values(gc)).toEqual([2, 2, 0, 0, 0]);
    });
  });

  it("cat's gradient skips 1-D empty inputs and mixed dtypes come back in their own dtype", () => {
    tidy(() => {
      const a = tensor([1, 2], { dtype: "float32" });
      const e = tensor([], { shape: [0], dtype: "float32" });
      const b = tensor([3], { dtype: "float64" });
      const [ga, ge, gb] = grads(
        (p: Tensor, q: Tensor, r: Tensor) =>
          cat([p, q, r])
            .mul(tensor([1, 2, 3]))
            .sum(),
        [a, e, b],
      );
      expect(values(ga)).toEqual([1, 2]);
      expect(ga!.dtype).toBe("float32");
      expect(gb!.dtype).toBe("float64");
      expect(values(gb)).toEqual([3]);
      expect(ge === null || ge.size === 0).toBe(true);
    });
  });

  it("repeat and tile sum their gradient over the copies", () => {
    tidy(() => {
      const x = tensor([
        [1, 2],
        [3, 4],
      ]);
      const [gr] = grads((t: Tensor) => repeat(t, [3, 1, 2]).sum(), [x]);
      expect(values(gr)).toEqual([6, 6, 6, 6]);
      const [gt] = grads((t: Tensor) => tile(t, [2]).sum(), [x]);
      expect(values(gt)).toEqual([2, 2, 2, 2]);
    });
  });

  it("backward through manipulation ops leaves no tensors behind", () => {
    const x = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const index = tensor([[1, 0, 1]], { dtype: "int32" });
    const before = memory().numTensors;
    tidy(() => {
      const [g] = grads(
        (t: Tensor) =>
          cat(split(t, 1, 1).reverse(), 1)
            .gather(0, index)
            .add(pad(t, [1, -1]).triu(1).flip(0).sum(0, true))
            .sum(),
        [x],
      );
      expect(g!.shape).toEqual([2, 3]);
    });
    expect(memory().numTensors).toBe(before);
    x.dispose();
    index.dispose();
  });
});
