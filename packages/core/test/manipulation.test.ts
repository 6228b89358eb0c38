import { describe, expect, it } from "vitest";
import "@tessera/backend-js";
import {
  arange,
  cat,
  chunk,
  dispose,
  flip,
  gather,
  indexSelect,
  memory,
  oneHot,
  pad,
  repeat,
  scatterAdd,
  split,
  stack,
  type Tensor,
  tensor,
  tile,
  tril,
  triu,
  zeros,
} from "../src/index.js";

const vals = (t: Tensor) => Array.from(t.dataSync());
const range = (n: number, shape: number[]) => arange(n, undefined, 1, { dtype: "float32" }).reshape(shape);

/** Runs `fn`, disposes what it returns and checks that nothing else stayed alive. */
function expectNoLeak(fn: () => unknown): void {
  const before = memory().numTensors;
  dispose(fn());
  expect(memory().numTensors).toBe(before);
}

describe("cat and stack", () => {
  it("cat joins along a dim, including negative dims", () => {
    const a = range(6, [2, 3]);
    const b = range(4, [2, 2]);
    const c = cat([a, b], 1);
    expect(c.shape).toEqual([2, 5]);
    expect(c.arraySync()).toEqual([
      [0, 1, 2, 0, 1],
      [3, 4, 5, 2, 3],
    ]);
    expect(cat([a, a], -2).shape).toEqual([4, 3]);
    expect(vals(cat([a, a]))).toEqual([0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5]);
  });

  it("cat reads non-contiguous inputs and promotes dtypes", () => {
    const a = range(6, [2, 3]);
    const c = cat([a.mT, tensor([[9, 9]])], 0);
    expect(c.arraySync()).toEqual([
      [0, 3],
      [1, 4],
      [2, 5],
      [9, 9],
    ]);
    const m = cat([arange(2), tensor([0.5])]);
    expect(m.dtype).toBe("float32");
    expect(vals(m)).toEqual([0, 1, 0.5]);
  });

  it("cat skips 1-D empty tensors and handles 0-size dims", () => {
    expect(cat([zeros([0]), range(4, [2, 2])]).shape).toEqual([2, 2]);
    expect(cat([zeros([0, 3]), zeros([2, 3])]).shape).toEqual([2, 3]);
    expect(cat([zeros([2, 0]), zeros([2, 0])], 1).shape).toEqual([2, 0]);
  });

  it("cat errors name the offending tensor, both shapes and the dim", () => {
    expect(() => cat([zeros([2, 3, 6]), zeros([2, 4, 5])], 1)).toThrow(
      "cat: tensors[1] has shape [2,4,5] but tensors[0] has [2,3,6]; all dims except dim 1 must match",
    );
    expect(() => cat([])).toThrow(/cat: expected a non-empty list/);
    expect(() => cat([tensor(1), tensor(2)])).toThrow(/cat: tensors\[0\] is 0-d/);
    expect(() => cat([zeros([2]), zeros([2])], 1)).toThrow(/cat: dim 1 is out of range/);
  });

  it("stack adds a new dim at any position", () => {
    const a = tensor([1, 2]);
    const b = tensor([3, 4]);
    expect(stack([a, b]).arraySync()).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(stack([a, b], 1).arraySync()).toEqual([
      [1, 3],
      [2, 4],
    ]);
    expect(stack([a, b], -1).shape).toEqual([2, 2]);
    expect(stack([tensor(1), tensor(2)]).arraySync()).toEqual([1, 2]);
  });

  it("stack requires equal shapes", () => {
    expect(() => stack([zeros([2, 3]), zeros([3, 2])])).toThrow(
      "stack: tensors[1] has shape [3,2] but tensors[0] has [2,3]; all shapes must be equal",
    );
  });
});

describe("split and chunk", () => {
  it("split by size leaves a smaller last piece; the pieces are views", () => {
    const x = arange(5);
    const parts = split(x, 2);
    expect(parts.map((p) => vals(p))).toEqual([[0, 1], [2, 3], [4]]);
    expect(parts[1]!.storage).toBe(x.storage);
  });

  it("split by sections must sum to the dim", () => {
    const x = range(12, [2, 6]);
    const parts = x.split([1, 2, 3], 1);
    expect(parts.map((p) => p.shape)).toEqual([
      [2, 1],
      [2, 2],
      [2, 3],
    ]);
    expect(vals(parts[2]!)).toEqual([3, 4, 5, 9, 10, 11]);
    expect(() => split(x, [1, 2], 1)).toThrow(
      /split: sizes \[1,2\] must be non-negative integers summing to 6/,
    );
    expect(() => split(x, 0)).toThrow(/split: split size must be a positive integer/);
  });

  it("split of a 0-size dim gives one empty piece", () => {
    expect(split(zeros([0, 2]), 3).map((p) => p.shape)).toEqual([[0, 2]]);
  });

  it("chunk follows torch: ceil-sized pieces, possibly fewer than asked", () => {
    expect(chunk(arange(5), 3).map((p) => vals(p))).toEqual([[0, 1], [2, 3], [4]]);
    expect(chunk(arange(6), 4).map((p) => p.size)).toEqual([2, 2, 2]);
    expect(
      arange(6)
        .chunk(2)
        .map((p) => p.size),
    ).toEqual([3, 3]);
    expect(chunk(zeros([0]), 3).length).toBe(3);
    expect(chunk(range(6, [2, 3]), 3, -1).map((p) => p.shape)).toEqual([
      [2, 1],
      [2, 1],
      [2, 1],
    ]);
    expect(() => chunk(arange(3), 0)).toThrow(/chunk: chunks must be a positive integer/);
  });
});

describe("index ops", () => {
  it("indexSelect picks slices along a dim, with repeats", () => {
    const x = range(12, [3, 4]);
    const idx = tensor([2, 0, 2], { dtype: "int32" });
    expect(indexSelect(x, 0, idx).arraySync()).toEqual([
      [8, 9, 10, 11],
      [0, 1, 2, 3],
      [8, 9, 10, 11],
    ]);
    expect(x.indexSelect(-1, tensor([3, 1], { dtype: "int32" })).arraySync()).toEqual([
      [3, 1],
      [7, 5],
      [11, 9],
    ]);
    expect(indexSelect(x.mT, 1, tensor([1], { dtype: "int32" })).arraySync()).toEqual([[4], [5], [6], [7]]);
    expect(indexSelect(x, 0, zeros([0], { dtype: "int32" })).shape).toEqual([0, 4]);
  });

  it("index dtype other than int32 is a TypeError", () => {
    const x = range(4, [4]);
    expect(() => indexSelect(x, 0, tensor([1]))).toThrow(TypeError);
    expect(() => indexSelect(x, 0, tensor([1]))).toThrow(
      /indexSelect: 'index' must be an int32 tensor, got float32/,
    );
    expect(() => gather(x, 0, tensor([true]))).toThrow(/gather: 'index' must be an int32 tensor, got bool/);
  });

  it("out-of-range indices are a RangeError from the backend", () => {
    expect(() => indexSelect(range(4, [4]), 0, tensor([4], { dtype: "int32" }))).toThrow(RangeError);
    expect(() => gather(range(4, [4]), 0, tensor([-1], { dtype: "int32" }))).toThrow(RangeError);
  });

  it("gather follows torch.gather", () => {
    // torch.gather(torch.tensor([[1,2],[3,4]]), 1, torch.tensor([[0,0],[1,0]])) = [[1,1],[4,3]]
    const x = tensor([
      [1, 2],
      [3, 4],
    ]);
    const idx = tensor(
      [
        [0, 0],
        [1, 0],
      ],
      { dtype: "int32" },
    );
    expect(gather(x, 1, idx).arraySync()).toEqual([
      [1, 1],
      [4, 3],
    ]);
    expect(x.gather(0, idx).arraySync()).toEqual([
      [1, 2],
      [3, 2],
    ]);
    expect(gather(x, 1, tensor([[1]], { dtype: "int32" })).arraySync()).toEqual([[2]]);
  });

  it("gather validates rank and sizes from shapes", () => {
    const x = zeros([2, 3]);
    expect(() => gather(x, 1, zeros([2], { dtype: "int32" }))).toThrow(
      "gather: index [2] must have the rank of input [2,3]",
    );
    expect(() => gather(x, 1, zeros([3, 1], { dtype: "int32" }))).toThrow(
      /gather: index \[3,1\] is larger than input \[2,3\] at dim 0/,
    );
  });

  it("scatterAdd adds src at the indexed positions and leaves the input alone", () => {
    const x = zeros([3]);
    const src = tensor([1, 2, 3, 4]);
    const idx = tensor([0, 2, 0, 2], { dtype: "int32" });
    const out = scatterAdd(x, 0, idx, src);
    expect(vals(out)).toEqual([4, 0, 6]);
    expect(vals(x)).toEqual([0, 0, 0]);
    // torch: zeros(2,3).scatter_add_(1, [[0,1],[2,2]], ones(2,2)) = [[1,1,0],[0,0,2]]
    const r = zeros([2, 3]).scatterAdd(
      1,
      tensor(
        [
          [0, 1],
          [2, 2],
        ],
        { dtype: "int32" },
      ),
      tensor([
        [1, 1, 9],
        [1, 1, 9],
      ]),
    );
    expect(r.arraySync()).toEqual([
      [1, 1, 0],
      [0, 0, 2],
    ]);
  });

  it("scatterAdd validates dtypes and shapes", () => {
    const idx = zeros([2], { dtype: "int32" });
    expect(() => scatterAdd(zeros([3]), 0, idx, zeros([2], { dtype: "int32" }))).toThrow(
      /scatterAdd: src is int32 but input is float32/,
    );
    expect(() => scatterAdd(zeros([3]), 0, idx, zeros([1]))).toThrow(
      /scatterAdd: index \[2\] is larger than src \[1\]/,
    );
    expect(() => scatterAdd(zeros([3]), 0, tensor([3, 0], { dtype: "int32" }), zeros([2]))).toThrow(
      RangeError,
    );
  });
});

describe("pad", () => {
  it("pads the last dims with pairs in torch order", () => {
    const x = tensor([
      [1, 2],
      [3, 4],
    ]);
    expect(pad(x, [1, 0]).arraySync()).toEqual([
      [0, 1, 2],
      [0, 3, 4],
    ]);
    expect(pad(x, [0, 1, 1, 0], -1).arraySync()).toEqual([
      [-1, -1, -1],
      [1, 2, -1],
      [3, 4, -1],
    ]);
  });

  it("negative pads crop", () => {
    const x = range(12, [3, 4]);
    expect(pad(x, [-1, -2, 0, -1]).arraySync()).toEqual([[1], [5]]);
    expect(pad(x, [-1, 1]).arraySync()).toEqual([
      [1, 2, 3, 0],
      [5, 6, 7, 0],
      [9, 10, 11, 0],
    ]);
  });

  it("pads non-contiguous and empty inputs", () => {
    const x = range(6, [2, 3]).mT; // [3,2]
    expect(pad(x, [1, 1]).arraySync()).toEqual([
      [0, 0, 3, 0],
      [0, 1, 4, 0],
      [0, 2, 5, 0],
    ]);
    expect(vals(pad(zeros([0]), [2, 1], 7))).toEqual([7, 7, 7]);
  });

  it("rejects odd or too many pads and negative sizes", () => {
    expect(() => pad(zeros([2]), [1])).toThrow(/pad: pads \[1\] must hold \(before, after\) pairs/);
    expect(() => pad(zeros([2]), [1, 1, 1, 1])).toThrow(/pad:/);
    expect(() => pad(zeros([2]), [-2, -1])).toThrow(
      /pad: pads \(-2, -1\) on dim 0 of size 2 give a negative size/,
    );
  });
});

describe("flip, repeat and tile", () => {
  it("flip reverses the given dims and copies", () => {
    const x = range(6, [2, 3]);
    expect(flip(x, 1).arraySync()).toEqual([
      [2, 1, 0],
      [5, 4, 3],
    ]);
    expect(x.flip([0, 1]).arraySync()).toEqual([
      [5, 4, 3],
      [2, 1, 0],
    ]);
    expect(flip(x.mT, -1).arraySync()).toEqual([
      [3, 0],
      [4, 1],
      [5, 2],
    ]);
    const same = flip(range(3, [3, 1]), 1);
    expect(same.storage).not.toBe(x.storage);
    expect(flip(zeros([0, 2]), 0).shape).toEqual([0, 2]);
  });

  it("repeat follows torch.Tensor.repeat, including extra leading dims", () => {
    const x = tensor([1, 2, 3]);
    expect(repeat(x, [2]).arraySync()).toEqual([1, 2, 3, 1, 2, 3]);
    expect(x.repeat(2, 2).arraySync()).toEqual([
      [1, 2, 3, 1, 2, 3],
      [1, 2, 3, 1, 2, 3],
    ]);
    const y = range(4, [2, 2]).mT;
    expect(y.repeat([1, 2]).arraySync()).toEqual([
      [0, 2, 0, 2],
      [1, 3, 1, 3],
    ]);
    expect(repeat(x, [0]).shape).toEqual([0]);
    expect(() => repeat(range(4, [2, 2]), [2])).toThrow(
      /repeat: repeats \[2\] must have at least as many entries/,
    );
  });

  it("tile pads short reps with leading ones", () => {
    const x = range(4, [2, 2]);
    expect(tile(x, [2]).arraySync()).toEqual([
      [0, 1, 0, 1],
      [2, 3, 2, 3],
    ]);
    expect(x.tile([2, 1, 1]).shape).toEqual([2, 2, 2]);
  });
});

describe("oneHot", () => {
  it("encodes int32 classes, inferring the count when asked", () => {
    const idx = tensor([0, 2, 1], { dtype: "int32" });
    const o = oneHot(idx);
    expect(o.dtype).toBe("int32");
    expect(o.arraySync()).toEqual([
      [1, 0, 0],
      [0, 0, 1],
      [0, 1, 0],
    ]);
    expect(oneHot(idx, 4).shape).toEqual([3, 4]);
    expect(oneHot(tensor([[1]], { dtype: "int32" }), 2).arraySync()).toEqual([[[0, 1]]]);
  });

  it("rejects float indices, out-of-range classes and empty inference", () => {
    expect(() => oneHot(tensor([1]))).toThrow(/oneHot: 'indices' must be an int32 tensor/);
    expect(() => oneHot(tensor([3], { dtype: "int32" }), 3)).toThrow(RangeError);
    expect(() => oneHot(zeros([0], { dtype: "int32" }))).toThrow(
      /oneHot: cannot infer numClasses from an empty tensor/,
    );
  });
});

describe("triu and tril", () => {
  const x = () => range(9, [3, 3]).add(1);

  it("keep the triangles at any diagonal like torch", () => {
    expect(triu(x()).arraySync()).toEqual([
      [1, 2, 3],
      [0, 5, 6],
      [0, 0, 9],
    ]);
    expect(tril(x()).arraySync()).toEqual([
      [1, 0, 0],
      [4, 5, 0],
      [7, 8, 9],
    ]);
    expect(x().triu(1).arraySync()).toEqual([
      [0, 2, 3],
      [0, 0, 6],
      [0, 0, 0],
    ]);
    expect(x().tril(-1).arraySync()).toEqual([
      [0, 0, 0],
      [4, 0, 0],
      [7, 8, 0],
    ]);
  });

  it("apply to the last two dims of a batch, keep dtype and NaN elsewhere", () => {
    const b = range(12, [2, 2, 3]);
    expect(tril(b).arraySync()).toEqual([
      [
        [0, 0, 0],
        [3, 4, 0],
      ],
      [
        [6, 0, 0],
        [9, 10, 0],
      ],
    ]);
    const bools = triu(
      tensor([
        [true, true],
        [true, true],
      ]),
    );
    expect(bools.dtype).toBe("bool");
    expect(bools.arraySync()).toEqual([
      [true, true],
      [false, true],
    ]);
    expect(
      vals(
        triu(
          tensor([
            [Number.NaN, 1],
            [Number.NaN, 2],
          ]),
        ),
      ),
    ).toEqual([Number.NaN, 1, 0, 2]);
    expect(() => triu(zeros([3]))).toThrow(/triu: input must have at least 2 dims/);
  });
});

describe("manipulation ops do not leak", () => {
  it("every op disposes its temporaries", () => {
    const x = range(16, [4, 4]);
    const xt = x.mT;
    const idx = tensor([2, 0], { dtype: "int32" });
    const idx2 = tensor(
      [
        [0, 1],
        [2, 0],
      ],
      { dtype: "int32" },
    );
    const src = zeros([2, 2]).add(1);
    const cls = tensor([0, 3, 1], { dtype: "int32" });
    expectNoLeak(() => cat([x, xt], 1));
    expectNoLeak(() => stack([x, x], 1));
    expectNoLeak(() => split(x, 2, 1));
    expectNoLeak(() => chunk(xt, 2));
    expectNoLeak(() => indexSelect(xt, 1, idx));
    expectNoLeak(() => gather(x, 1, idx2));
    expectNoLeak(() => scatterAdd(x, 1, idx2, src));
    expectNoLeak(() => pad(xt, [1, -1, 2, 0]));
    expectNoLeak(() => flip(xt, [0, 1]));
    expectNoLeak(() => repeat(xt, [2, 1, 2]));
    expectNoLeak(() => tile(x, [2]));
    expectNoLeak(() => oneHot(cls));
    expectNoLeak(() => triu(xt, 1));
    expectNoLeak(() => tril(x));
    dispose([x, xt, idx, idx2, src, cls]);
  });
});
