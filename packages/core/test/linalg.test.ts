import { describe, expect, it } from "vitest";
import "@tessera/backend-js";
import {
  arange,
  type Backend,
  dispose,
  getBackend,
  linear,
  matmul,
  memory,
  randn,
  type Tensor,
  tensor,
  type View,
  zeros,
} from "../src/index.js";

const vals = (t: Tensor) => Array.from(t.dataSync());

/** Reference product of two 2-D tensors, in float64 JS arithmetic. */
function refMatmul(a: Tensor, b: Tensor): number[] {
  const A = a.arraySync() as number[][];
  const B = b.arraySync() as number[][];
  const out: number[] = [];
  for (let i = 0; i < A.length; i++) {
    for (let j = 0; j < B[0]!.length; j++) {
      let s = 0;
      for (let k = 0; k < B.length; k++) s += A[i]![k]! * B[k]![j]!;
      out.push(s);
    }
  }
  return out;
}

/** Runs `fn`, disposes what it returns and checks that nothing else stayed alive. */
function expectNoLeak(fn: () => unknown): void {
  const before = memory().numTensors;
  dispose(fn());
  expect(memory().numTensors).toBe(before);
}

function expectClose(actual: number[], expected: number[], digits = 4): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((v, i) => {
    expect(v).toBeCloseTo(expected[i]!, digits);
  });
}

/** Records the (transA, transB) flags of matmul kernel calls and whether a copy ran. */
function spyKernels(): { calls: [boolean, boolean][]; copies: number; restore: () => void } {
  const backend = getBackend() as Backend;
  const origMatmul = backend.matmul;
  const origCopy = backend.copy;
  const rec = { calls: [] as [boolean, boolean][], copies: 0, restore: () => {} };
  backend.matmul = function (a: View, b: View, ta: boolean, tb: boolean, out: View) {
    rec.calls.push([ta, tb]);
    return origMatmul.call(this, a, b, ta, tb, out);
  };
  backend.copy = function (src: View, dst: View) {
    rec.copies++;
    return origCopy.call(this, src, dst);
  };
  rec.restore = () => {
    backend.matmul = origMatmul;
    backend.copy = origCopy;
  };
  return rec;
}

describe("matmul", () => {
  const a23 = () =>
    tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
  const b32 = () =>
    tensor([
      [7, 8],
      [9, 10],
      [11, 12],
    ]);

  it("multiplies 2-D matrices", () => {
    const c = matmul(a23(), b32());
    expect(c.shape).toEqual([2, 2]);
    expect(vals(c)).toEqual([58, 64, 139, 154]);
    expect(vals(a23().matmul(b32()))).toEqual([58, 64, 139, 154]);
  });

  it("1-D · 1-D is a 0-d dot product", () => {
    const d = matmul(tensor([1, 2, 3]), tensor([4, 5, 6]));
    expect(d.shape).toEqual([]);
    expect(d.itemSync()).toBe(32);
  });

  it("a 1-D first operand is a row vector whose dim is removed", () => {
    const r = matmul(tensor([1, 1]), a23());
    expect(r.shape).toEqual([3]);
    expect(vals(r)).toEqual([5, 7, 9]);
  });

  it("a 1-D second operand is a column vector whose dim is removed", () => {
    const r = matmul(a23(), tensor([1, 0, -1]));
    expect(r.shape).toEqual([2]);
    expect(vals(r)).toEqual([-2, -2]);
    const batched = matmul(randn([4, 2, 3]), tensor([1, 0, -1]));
    expect(batched.shape).toEqual([4, 2]);
    const v = matmul(tensor([1, 0, -1]), randn([5, 3, 2]));
    expect(v.shape).toEqual([5, 2]);
  });

  it("batches broadcast, including size-1 and missing batch dims", () => {
    const a = randn([2, 1, 3, 4]);
    const b = randn([5, 4, 2]);
    const c = matmul(a, b);
    expect(c.shape).toEqual([2, 5, 3, 2]);
    for (const [i, j] of [
      [0, 0],
      [1, 4],
      [1, 2],
    ] as const) {
      expectClose(vals(c.select(0, i).select(0, j)), refMatmul(a.select(0, i).select(0, 0), b.select(0, j)));
    }
  });

  it("a batch against one matrix equals per-matrix products", () => {
    const a = randn([3, 4, 5]);
    const w = randn([5, 6]);
    const c = matmul(a, w);
    expect(c.shape).toEqual([3, 4, 6]);
    for (let i = 0; i < 3; i++) expectClose(vals(c.select(0, i)), refMatmul(a.select(0, i), w));
  });

  it("expanded operands broadcast in the same batch dim give the full batch", () => {
    const a = randn([1, 2, 3]).expand([4, 2, 3]);
    const b = randn([1, 3, 2]).expand([4, 3, 2]);
    const c = matmul(a, b);
    expect(c.shape).toEqual([4, 2, 2]);
    const ref = refMatmul(a.select(0, 0), b.select(0, 0));
    for (let i = 0; i < 4; i++) expectClose(vals(c.select(0, i)), ref);
  });

  it("a transposed-contiguous operand reaches the kernel as a trans flag without a copy", () => {
    const w = randn([6, 4]);
    const x = randn([3, 4]);
    const wt = w.mT;
    const spy = spyKernels();
    let c: Tensor;
    try {
      c = matmul(x, wt);
    } finally {
      spy.restore();
    }
    expect(spy.calls).toEqual([[false, true]]);
    expect(spy.copies).toBe(0);
    expectClose(vals(c), refMatmul(x, wt));

    const xt = randn([4, 3]).mT;
    const spy2 = spyKernels();
    try {
      matmul(xt, w.mT);
    } finally {
      spy2.restore();
    }
    expect(spy2.calls).toEqual([[true, true]]);
    expect(spy2.copies).toBe(0);
  });

  it("batched transposed views are not copied either", () => {
    const k = randn([2, 5, 4]);
    const q = randn([2, 3, 4]);
    const spy = spyKernels();
    let s: Tensor;
    try {
      s = matmul(q, k.mT);
    } finally {
      spy.restore();
    }
    expect(spy.calls).toEqual([[false, true]]);
    expect(spy.copies).toBe(0);
    expect(s.shape).toEqual([2, 3, 5]);
    expectClose(vals(s.select(0, 1)), refMatmul(q.select(0, 1), k.select(0, 1).mT));
  });

  it("non-contiguous slices are made contiguous and give correct results", () => {
    const big = arange(30, undefined, 1, { dtype: "float32" }).reshape([5, 6]);
    const a = big.slice(1, 0, 6, 2); // [5,3], strided columns
    const b = big.slice(0, 1, 4).slice(1, 1, 5); // [3,4]
    expectClose(vals(matmul(a, b)), refMatmul(a, b));
  });

  it("K = 0 gives zeros and empty batch or rows give empty results", () => {
    const z = matmul(zeros([2, 0]), zeros([0, 3]));
    expect(z.shape).toEqual([2, 3]);
    expect(vals(z)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(matmul(zeros([0, 2, 3]), zeros([3, 4])).shape).toEqual([0, 2, 4]);
    expect(matmul(zeros([2, 0, 3]), zeros([3, 4])).shape).toEqual([2, 0, 4]);
  });

  it("int32 matmul stays int32", () => {
    const c = matmul(arange(4).reshape([2, 2]), arange(4).reshape([2, 2]));
    expect(c.dtype).toBe("int32");
    expect(vals(c)).toEqual([2, 3, 6, 11]);
  });

  it("errors name the op and both shapes", () => {
    expect(() => matmul(zeros([2, 3]), zeros([4, 5]))).toThrow(
      "matmul: inner dimensions differ: a is [2,3], b is [4,5]",
    );
    expect(() => matmul(zeros([3]), zeros([4]))).toThrow(
      "matmul: inner dimensions differ: a is [3], b is [4]",
    );
    expect(() => matmul(zeros([2, 2, 3]), zeros([3, 3, 4]))).toThrow(
      /matmul: shapes \[2\] and \[3\] cannot be broadcast/,
    );
    expect(() => matmul(tensor(1), zeros([2]))).toThrow(/matmul: both arguments need at least 1 dim/);
    expect(() => matmul(zeros([2, 2]), arange(4).reshape([2, 2]))).toThrow(
      /matmul: a is float32 but b is int32/,
    );
  });

  it("does not leak on any path (plain, transposed, copied, 1-D, expanded)", () => {
    const inputs = [randn([2, 3, 4]), randn([4, 5]), randn([5, 4]), tensor([1, 2, 3, 4]), tensor([1, 2, 3])];
    const [a, b, bt, v4, v3] = inputs as [Tensor, Tensor, Tensor, Tensor, Tensor];
    const e = randn([1, 4, 3]).expand([2, 4, 3]);
    const aStrided = a.slice(2, 0, 4, 2);
    const views = [bt.mT, a.mT, a.select(2, 0), aStrided, aStrided.mT, e, e.mT];
    const [btT, aT, aSel, , aStridedT, , eT] = views as Tensor[];
    expectNoLeak(() => matmul(a, b));
    expectNoLeak(() => matmul(a, btT!));
    expectNoLeak(() => matmul(aT!, a));
    expectNoLeak(() => matmul(v4, b));
    expectNoLeak(() => matmul(aSel!, v3));
    expectNoLeak(() => matmul(aStrided, aStridedT!));
    expectNoLeak(() => matmul(eT!, e));
    expectNoLeak(() => matmul(v3, v3));
    dispose([...inputs, ...views]);
  });
});

describe("linear", () => {
  it("computes x·Wᵀ + b with weight [out, in]", () => {
    const x = tensor([
      [1, 2],
      [3, 4],
    ]);
    const w = tensor([
      [1, 0],
      [0, 1],
      [1, 1],
    ]);
    const b = tensor([10, 20, 30]);
    expect(vals(linear(x, w, b))).toEqual([11, 22, 33, 13, 24, 37]);
    expect(vals(linear(x, w))).toEqual([1, 2, 3, 3, 4, 7]);
  });

  it("passes the weight transposed to the kernel, without a copy", () => {
    const x = randn([2, 7, 4]);
    const w = randn([3, 4]);
    const spy = spyKernels();
    let y: Tensor;
    try {
      y = linear(x, w);
    } finally {
      spy.restore();
    }
    expect(spy.calls).toEqual([[false, true]]);
    expect(spy.copies).toBe(0);
    expect(y.shape).toEqual([2, 7, 3]);
    expectClose(vals(y.select(0, 1)), refMatmul(x.select(0, 1), w.mT));
  });

  it("accepts a 1-D input", () => {
    const y = linear(tensor([1, 2]), tensor([[3, 4]]), tensor([1]));
    expect(y.shape).toEqual([1]);
    expect(y.itemSync()).toBe(12);
  });

  it("errors name the features and shapes", () => {
    expect(() => linear(zeros([2, 3]), zeros([4, 5]))).toThrow(
      "linear: input [2,3] has 3 features but weight [4,5] expects 5",
    );
    expect(() => linear(zeros([2, 5]), zeros([4, 5]), zeros([3]))).toThrow(
      "linear: bias [3] must be [4] for weight [4,5]",
    );
    expect(() => linear(zeros([2, 5]), zeros([5]))).toThrow(/linear: weight must be \[out, in\]/);
  });

  it("does not leak", () => {
    const x = randn([3, 4]);
    const w = randn([2, 4]);
    const b = randn([2]);
    const xT = randn([4, 3]).mT;
    expectNoLeak(() => linear(x, w, b));
    expectNoLeak(() => linear(xT, w));
    dispose([x, w, b, xT]);
  });
});
