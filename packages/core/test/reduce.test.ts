import { describe, expect, it } from "vitest";
import "@tessera/backend-js";
import {
  amax,
  amin,
  arange,
  argmax,
  argmin,
  dispose,
  logsumexp,
  max,
  mean,
  memory,
  min,
  prod,
  std,
  sum,
  type Tensor,
  tensor,
  tidy,
  var as variance,
  zeros,
} from "../src/index.js";

const vals = (t: Tensor) => Array.from(t.dataSync());

/** Runs `fn` outside any scope, disposes what it returns and checks that nothing else stayed alive. */
function expectNoLeak(fn: () => unknown): void {
  const before = memory().numTensors;
  dispose(fn());
  expect(memory().numTensors).toBe(before);
}

describe("sum", () => {
  it("sums every element to a 0-d tensor by default", () => {
    const x = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const s = sum(x);
    expect(s.shape).toEqual([]);
    expect(s.itemSync()).toBe(21);
  });

  it("reduces one dim, negative dims and dim lists, with and without keepdim", () => {
    const x = arange(24, undefined, 1, { dtype: "float32" }).reshape([2, 3, 4]);
    expect(sum(x, 1).shape).toEqual([2, 4]);
    expect(vals(sum(x, -1))).toEqual([6, 22, 38, 54, 70, 86]);
    expect(sum(x, [0, 2]).shape).toEqual([3]);
    expect(vals(sum(x, [0, -1]))).toEqual([60, 92, 124]);
    expect(sum(x, [2, 0], true).shape).toEqual([1, 3, 1]);
    expect(x.sum(1, true).shape).toEqual([2, 1, 4]);
  });

  it("an empty dim list reduces every dim, as in torch", () => {
    expect(sum(tensor([1, 2, 3]), []).itemSync()).toBe(6);
  });

  it("bool and int32 inputs sum to int32", () => {
    const b = tensor([true, false, true, true]);
    const s = sum(b);
    expect(s.dtype).toBe("int32");
    expect(s.itemSync()).toBe(3);
    const i = sum(arange(5));
    expect(i.dtype).toBe("int32");
    expect(i.itemSync()).toBe(10);
  });

  it("a size-0 dim sums to 0 and propagates NaN", () => {
    expect(vals(sum(zeros([0, 3]), 0))).toEqual([0, 0, 0]);
    expect(sum(zeros([0])).itemSync()).toBe(0);
    expect(sum(zeros([2, 0]), 1).shape).toEqual([2]);
    expect(sum(tensor([1, Number.NaN, 2])).itemSync()).toBeNaN();
  });

  it("works on transposed and sliced inputs", () => {
    const x = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(vals(sum(x.mT, 0))).toEqual([6, 15]);
    expect(vals(sum(x.slice(1, 0, 3, 2), 0))).toEqual([5, 9]);
  });

  it("a 0-d input sums to itself, also with dim 0 and keepdim", () => {
    const x = tensor(3.5);
    expect(sum(x).itemSync()).toBe(3.5);
    const k = sum(x, 0, true);
    expect(k.shape).toEqual([]);
    expect(k.itemSync()).toBe(3.5);
  });

  it("rejects out-of-range and repeated dims naming the op", () => {
    const x = zeros([2, 3]);
    expect(() => sum(x, 2)).toThrow(/sum: dim 2 is out of range for a tensor of rank 2/);
    expect(() => sum(x, [1, -1])).toThrow(/sum: dim \[1,-1\] repeats a dimension/);
  });
});

describe("mean and prod", () => {
  it("mean averages over dims", () => {
    const x = tensor([
      [1, 2],
      [3, 5],
    ]);
    expect(mean(x).itemSync()).toBe(2.75);
    expect(vals(mean(x, 0))).toEqual([2, 3.5]);
    expect(mean(x, 1, true).shape).toEqual([2, 1]);
  });

  it("mean of an integer tensor is a TypeError like torch", () => {
    expect(() => mean(arange(4))).toThrow(TypeError);
    expect(() => mean(arange(4))).toThrow(/mean: input dtype int32 is not a floating point dtype/);
  });

  it("mean of an empty reduction is NaN", () => {
    expect(mean(zeros([0])).itemSync()).toBeNaN();
  });

  it("mean of float16 does not overflow in the accumulation", () => {
    const x = tensor([60000, 60000, 60000], { dtype: "float16" });
    const m = mean(x);
    expect(m.dtype).toBe("float16");
    expect(m.itemSync()).toBe(60000);
  });

  it("prod multiplies, is 1 on empty dims and bool gives int32", () => {
    expect(
      vals(
        prod(
          tensor([
            [1, 2, 3],
            [4, 5, 6],
          ]),
          1,
        ),
      ),
    ).toEqual([6, 120]);
    expect(prod(zeros([0])).itemSync()).toBe(1);
    const p = prod(tensor([true, true]));
    expect(p.dtype).toBe("int32");
    expect(p.itemSync()).toBe(1);
  });
});

describe("max, min and arg reductions", () => {
  const x = () =>
    tensor([
      [1, 7, 3],
      [9, 2, 9],
    ]);

  it("amax/amin reduce over dims and keep the dtype", () => {
    expect(vals(amax(x(), 1))).toEqual([7, 9]);
    expect(vals(amin(x(), 0))).toEqual([1, 2, 3]);
    expect(amax(x(), [0, 1]).itemSync()).toBe(9);
    expect(amax(arange(5)).dtype).toBe("int32");
    expect(amax(x(), -1, true).shape).toEqual([2, 1]);
  });

  it("max/min without dim give 0-d tensors", () => {
    expect(max(x()).shape).toEqual([]);
    expect(max(x()).itemSync()).toBe(9);
    expect(min(x()).itemSync()).toBe(1);
    expect(x().max().itemSync()).toBe(9);
  });

  it("max along a dim returns values and int32 indices of the first maximum", () => {
    const { values, indices } = max(x(), 1);
    expect(vals(values)).toEqual([7, 9]);
    expect(indices.dtype).toBe("int32");
    expect(vals(indices)).toEqual([1, 0]);
    const r = x().min(0, true);
    expect(r.values.shape).toEqual([1, 3]);
    expect(vals(r.values)).toEqual([1, 2, 3]);
    expect(vals(r.indices)).toEqual([0, 1, 0]);
  });

  it("NaN propagates through max/min and argmax points at it", () => {
    const y = tensor([1, Number.NaN, 3]);
    expect(max(y).itemSync()).toBeNaN();
    expect(amin(y).itemSync()).toBeNaN();
    const { values, indices } = max(y, 0);
    expect(values.itemSync()).toBeNaN();
    expect(indices.itemSync()).toBe(1);
  });

  it("max over a size-0 dim is an error naming the op", () => {
    expect(() => max(zeros([0]))).toThrow(/max: cannot reduce over dim 0 of size 0/);
    expect(() => amax(zeros([2, 0]), 1)).toThrow(/amax: cannot reduce over dim 1 of size 0/);
    expect(() => argmax(zeros([0]))).toThrow(/argmax/);
  });

  it("argmax/argmin without dim index the flattened tensor", () => {
    expect(argmax(x()).itemSync()).toBe(3);
    expect(argmin(x()).itemSync()).toBe(0);
    expect(argmax(x()).shape).toEqual([]);
    expect(argmax(x(), undefined, true).shape).toEqual([1, 1]);
    expect(vals(argmax(x(), 1))).toEqual([1, 0]);
    expect(vals(argmin(x(), -2))).toEqual([0, 1, 0]);
  });

  it("argmax works on a transposed input", () => {
    expect(vals(argmax(x().mT, 0))).toEqual([1, 0]);
    expect(argmax(x().mT).itemSync()).toBe(1);
  });

  it("argmax of a 0-d tensor is 0", () => {
    expect(argmax(tensor(4)).itemSync()).toBe(0);
    expect(argmax(tensor(4), 0).itemSync()).toBe(0);
  });
});

describe("var and std", () => {
  const data = [
    [1, 2, 3, 4],
    [2, 4, 6, 8],
  ];

  it("are unbiased by default like torch", () => {
    // torch.tensor([1.,2,3,4]).var() = 1.6667
    expect(variance(tensor([1, 2, 3, 4])).itemSync()).toBeCloseTo(5 / 3, 6);
    expect(vals(std(tensor(data), 1))).toEqual([expect.closeTo(1.290994, 5), expect.closeTo(2.581989, 5)]);
  });

  it("correction 0 and unbiased false give the population variance", () => {
    expect(variance(tensor([1, 2, 3, 4]), 0, { correction: 0 }).itemSync()).toBeCloseTo(1.25, 6);
    expect(variance(tensor([1, 2, 3, 4]), { unbiased: false }).itemSync()).toBeCloseTo(1.25, 6);
    expect(tensor(data).var(0, { correction: 0, keepdim: true }).shape).toEqual([1, 4]);
    expect(vals(tensor(data).var(0, { correction: 0 }))).toEqual([0.25, 1, 2.25, 4]);
  });

  it("a single element with correction 1 gives NaN like torch", () => {
    expect(variance(tensor([5])).itemSync()).toBeNaN();
  });

  it("integer input is a TypeError; correction and unbiased together are rejected", () => {
    expect(() => variance(arange(4))).toThrow(/var: input dtype int32 is not a floating point dtype/);
    expect(() => std(arange(4))).toThrow(TypeError);
    expect(() => variance(tensor([1, 2]), { correction: 1, unbiased: true })).toThrow(/var: pass either/);
  });
});

describe("logsumexp", () => {
  it("matches log(sum(exp(x))) on moderate values", () => {
    const x = tensor([
      [0, 1, 2],
      [-1, 0.5, 3],
    ]);
    const ref = [Math.log(1 + Math.E + Math.E ** 2), Math.log(Math.exp(-1) + Math.exp(0.5) + Math.exp(3))];
    const r = logsumexp(x, 1);
    expect(r.shape).toEqual([2]);
    vals(r).forEach((v, i) => {
      expect(v).toBeCloseTo(ref[i]!, 5);
    });
    expect(logsumexp(x, -1, true).shape).toEqual([2, 1]);
  });

  it("is stable for large inputs", () => {
    const r = logsumexp(tensor([1000, 1000]), 0).itemSync();
    expect(r).toBeCloseTo(1000 + Math.LN2, 3);
  });

  it("an all -inf row gives -inf and +inf gives +inf", () => {
    const ninf = Number.NEGATIVE_INFINITY;
    const r = logsumexp(
      tensor([
        [ninf, ninf],
        [0, Number.POSITIVE_INFINITY],
      ]),
      1,
    );
    expect(vals(r)).toEqual([ninf, Number.POSITIVE_INFINITY]);
  });

  it("over several dims and on an empty dim", () => {
    const r = logsumexp(zeros([2, 3]), [0, 1]);
    expect(r.itemSync()).toBeCloseTo(Math.log(6), 5);
    expect(vals(logsumexp(zeros([2, 0]), 1))).toEqual([Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY]);
  });

  it("integer input computes in float32", () => {
    const r = logsumexp(arange(2), 0);
    expect(r.dtype).toBe("float32");
    expect(r.itemSync()).toBeCloseTo(Math.log(1 + Math.E), 5);
  });
});

describe("reductions do not leak", () => {
  it("every reduction disposes its temporaries", () => {
    const x = tidy(() => arange(12, undefined, 1, { dtype: "float32" }).reshape([3, 4]).mT.keep());
    expectNoLeak(() => sum(x, 0));
    const b = tensor([true, false]);
    const h = tensor([1, 2], { dtype: "float16" });
    expectNoLeak(() => sum(b));
    expectNoLeak(() => mean(x, [0, 1]));
    expectNoLeak(() => prod(x, 1, true));
    expectNoLeak(() => amax(x));
    expectNoLeak(() => max(x, 1));
    expectNoLeak(() => min(x, 0, true));
    expectNoLeak(() => argmax(x));
    expectNoLeak(() => argmin(x, undefined, true));
    expectNoLeak(() => variance(x, 1));
    expectNoLeak(() => std(x, { correction: 0 }));
    expectNoLeak(() => logsumexp(x, 1));
    expectNoLeak(() => mean(h));
    expectNoLeak(() => logsumexp(b, 0));
    dispose([x, b, h]);
  });
});
