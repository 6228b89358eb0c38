import { inspect } from "node:util";
import { JsBackend } from "@tessera/backend-js";
import { describe, expect, it, vi } from "vitest";
import {
  arange,
  dispose,
  formatTensor,
  memory,
  oneHot,
  print,
  registerBackend,
  type Tensor,
  tensor,
  zeros,
} from "../src/index.js";

/** A backend without synchronous reads, like a GPU backend. */
registerBackend(
  "js-async",
  () => {
    const b = new JsBackend({ name: "js-async" });
    const readSync = b.readSync.bind(b);
    Object.defineProperty(b, "read", {
      value: async (...args: Parameters<typeof readSync>) => readSync(...args),
    });
    Object.defineProperty(b, "readSync", { value: undefined });
    return b;
  },
  0,
);

// Expected strings are what PyTorch prints for the same values (torch int64 ↔ int32 here).
describe("formatTensor matches PyTorch's printing", () => {
  it("integer-valued floats print with a trailing point", () => {
    expect(
      formatTensor(
        tensor([
          [1, 2],
          [3, 4],
        ]),
      ),
    ).toBe("tensor([[1., 2.],\n        [3., 4.]])");
    expect(formatTensor(zeros([2]))).toBe("tensor([0., 0.])");
  });

  it("fractional floats print with four decimals and a common width", () => {
    expect(formatTensor(tensor([1.5, 2.25]))).toBe("tensor([1.5000, 2.2500])");
    expect(formatTensor(tensor([-1.5, 2]))).toBe("tensor([-1.5000,  2.0000])");
    expect(formatTensor(tensor(3.5))).toBe("tensor(3.5000)");
    expect(formatTensor(tensor(3))).toBe("tensor(3.)");
  });

  it("integers print without decimals, right-aligned; bools as True/False", () => {
    expect(formatTensor(tensor([1, 100], { dtype: "int32" }))).toBe("tensor([  1, 100])");
    expect(formatTensor(tensor([-5, 3], { dtype: "int32" }))).toBe("tensor([-5,  3])");
    expect(formatTensor(tensor([true, false]))).toBe("tensor([ True, False])");
    expect(formatTensor(tensor(true))).toBe("tensor(True)");
  });

  it("uses scientific notation for wide ranges, tiny or huge values", () => {
    expect(formatTensor(tensor([1e-5, 1]))).toBe("tensor([1.0000e-05, 1.0000e+00])");
    expect(formatTensor(tensor([1, 2000]))).toBe("tensor([1.0000e+00, 2.0000e+03])");
    expect(formatTensor(tensor([1e9]))).toBe("tensor([1.0000e+09])");
    expect(formatTensor(tensor([0.5, 123.25]))).toBe("tensor([  0.5000, 123.2500])");
  });

  it("prints nan, inf and -inf, padded to the width of the finite values", () => {
    expect(formatTensor(tensor([Number.NaN, 1.5, Number.POSITIVE_INFINITY]))).toBe(
      "tensor([   nan, 1.5000,    inf])",
    );
    expect(formatTensor(tensor([Number.NEGATIVE_INFINITY, 1]))).toBe("tensor([-inf, 1.])");
    expect(formatTensor(tensor([-0]))).toBe("tensor([-0.])");
  });

  it("empty tensors show their size when not (0,) and a non-default dtype", () => {
    expect(formatTensor(zeros([0]))).toBe("tensor([])");
    expect(formatTensor(zeros([0, 3]))).toBe("tensor([], size=(0, 3))");
    expect(formatTensor(zeros([0], { dtype: "int32" }))).toBe("tensor([], dtype=int32)");
  });

  it("shows dtype for float64 and halves but not for float32, int32 or bool", () => {
    expect(formatTensor(tensor([1], { dtype: "float64" }))).toBe("tensor([1.], dtype=float64)");
    expect(formatTensor(tensor([0.5], { dtype: "float16" }))).toBe("tensor([0.5000], dtype=float16)");
    expect(formatTensor(tensor([1.5], { dtype: "bfloat16" }))).toBe("tensor([1.5000], dtype=bfloat16)");
  });

  it("separates 3-D blocks with a blank line", () => {
    expect(formatTensor(arange(8, undefined, 1, { dtype: "float32" }).reshape([2, 2, 2]))).toBe(
      "tensor([[[0., 1.],\n         [2., 3.]],\n\n        [[4., 5.],\n         [6., 7.]]])",
    );
  });

  it("wraps long rows at 80 columns", () => {
    const s = formatTensor(arange(20, undefined, 1, { dtype: "float32" }).div(3));
    expect(s).toBe(
      "tensor([0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333, 2.6667,\n" +
        "        3.0000, 3.3333, 3.6667, 4.0000, 4.3333, 4.6667, 5.0000, 5.3333, 5.6667,\n" +
        "        6.0000, 6.3333])",
    );
  });

  it("summarises above 1000 elements with 3 edge items", () => {
    expect(formatTensor(arange(1001))).toBe("tensor([   0,    1,    2,  ...,  998,  999, 1000])");
    expect(formatTensor(arange(2000, undefined, 1, { dtype: "float32" }))).toBe(
      "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n        1.9990e+03])",
    );
    const rows = "        [0., 0., 0.,  ..., 0., 0., 0.]";
    expect(formatTensor(zeros([100, 100]))).toBe(
      `tensor([[0., 0., 0.,  ..., 0., 0., 0.],\n${rows},\n${rows},\n        ...,\n${rows},\n${rows},\n${rows}])`,
    );
  });

  it("reads non-contiguous views in logical order", () => {
    const x = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(formatTensor(x.mT)).toBe("tensor([[1., 4.],\n        [2., 5.],\n        [3., 6.]])");
  });

  it("toString, util.inspect and template strings use it", () => {
    const x = tensor([1.5]);
    expect(`${x}`).toBe("tensor([1.5000])");
    expect(String(x)).toBe("tensor([1.5000])");
    expect(inspect(x)).toBe("tensor([1.5000])");
  });

  it("a disposed tensor prints a description instead of throwing", () => {
    const x = tensor([1]);
    x.dispose();
    expect(formatTensor(x)).toBe("Tensor(shape=[1], dtype=float32, backend=js, disposed)");
  });

  it("print() logs the same text", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      await print(tensor([1, 2]));
      expect(log).toHaveBeenCalledWith("tensor([1., 2.])");
    } finally {
      log.mockRestore();
    }
  });

  it("formatting does not leak, also when summarising", () => {
    const base = zeros([50, 40]);
    const xs: Tensor[] = [base, base.mT, tensor([1.5]), zeros([0, 2])];
    const before = memory().numTensors;
    for (const x of xs) formatTensor(x);
    expect(memory().numTensors).toBe(before);
    dispose(xs);
  });

  it("a backend without synchronous reads gets a description; print() reads asynchronously", async () => {
    const x = tensor([1, 2], { backend: "js-async" });
    expect(formatTensor(x)).toBe("Tensor(shape=[2], dtype=float32, backend=js-async)");
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      await print(x);
      expect(log).toHaveBeenCalledWith("tensor([1., 2.], backend='js-async')");
    } finally {
      log.mockRestore();
    }
    expect(() => oneHot(tensor([1], { dtype: "int32", backend: "js-async" }))).toThrow(
      /oneHot: numClasses -1 needs to read the maximum index, but backend 'js-async' has no synchronous reads/,
    );
  });
});
