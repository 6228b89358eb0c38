import { arange, interpolate, memory, randn, sum, type Tensor, tidy } from "@tessera/core";
import { describe, expect, it } from "vitest";
import { Flatten, Sequential, Unflatten, Upsample } from "../src/index.js";
import { TEST_BACKENDS } from "./support/backends.js";

describe("Flatten", () => {
  it("merges startDim…endDim and defaults to keeping the batch dim", () => {
    const x = randn([2, 3, 4, 5]);
    const cases: [Flatten, number[]][] = [
      [new Flatten(), [2, 60]],
      [new Flatten(0), [120]],
      [new Flatten(1, 2), [2, 12, 5]],
      [new Flatten(-3, -2), [2, 12, 5]],
      [new Flatten(2, 2), [2, 3, 4, 5]],
    ];
    for (const [m, shape] of cases) {
      const y = m.forward(x);
      expect(y.shape).toEqual(shape);
      expect(y.dataSync()).toEqual(x.dataSync());
      y.dispose();
    }
    x.dispose();
  });

  it("prints like PyTorch and rejects dims out of range or in the wrong order", () => {
    expect(String(new Flatten())).toBe("Flatten(start_dim=1, end_dim=-1)");
    const x = randn([2, 3]);
    expect(() => new Flatten(2).forward(x)).toThrow(/Flatten: startDim 2 is out of range for a 2-D input/);
    expect(() => new Flatten(1, 0).forward(x)).toThrow(
      /Flatten: startDim 1 comes after endDim 0 for input \[2,3\]/,
    );
    x.dispose();
  });
});

describe("Unflatten", () => {
  it("splits one dim into sizes, inferring a -1, and inverts Flatten", () => {
    const x = randn([2, 24, 3]);
    const a = new Unflatten(1, [2, 3, 4]).forward(x);
    expect(a.shape).toEqual([2, 2, 3, 4, 3]);
    const b = new Unflatten(-2, [-1, 6]).forward(x);
    expect(b.shape).toEqual([2, 4, 6, 3]);
    const round = new Flatten(1, 2).forward(b);
    expect(round.shape).toEqual([2, 24, 3]);
    expect(round.dataSync()).toEqual(x.dataSync());
    for (const t of [x, a, b, round]) t.dispose();
  });

  it("prints like PyTorch and rejects sizes that do not fit", () => {
    expect(String(new Unflatten(1, [2, 3]))).toBe("Unflatten(dim=1, unflattened_size=(2, 3))");
    expect(() => new Unflatten(1, [-1, -1])).toThrow(
      /Unflatten: sizes must be .* at most one -1, got \[-1, -1\]/,
    );
    const x = randn([2, 10]);
    expect(() => new Unflatten(1, [3, 4]).forward(x)).toThrow(
      /Unflatten: sizes \[3, 4\] do not multiply to dim 1 of size 10 \(input \[2,10\]\)/,
    );
    expect(() => new Unflatten(1, [-1, 3]).forward(x)).toThrow(/do not multiply/);
    expect(() => new Unflatten(2, [2, 5]).forward(x)).toThrow(
      /Unflatten: dim 2 is out of range for a 2-D input/,
    );
    x.dispose();
  });
});

describe.each(TEST_BACKENDS)("Upsample on %s", (backend) => {
  it("equals core's interpolate with the same size, scaleFactor, mode and alignCorners", () => {
    const opts = [
      { scaleFactor: 2 },
      { size: [7, 5] as const, mode: "bilinear" as const },
      { scaleFactor: [1.5, 2] as const, mode: "bilinear" as const, alignCorners: true },
      { size: 3 },
    ];
    tidy(() => {
      const x = randn([2, 3, 4, 5], { backend });
      for (const o of opts) {
        const y = new Upsample(o).forward(x);
        expect(y.dataSync()).toEqual(interpolate(x, o).dataSync());
      }
    });
  });

  it("nearest ×2 repeats each pixel into a 2×2 block", () => {
    tidy(() => {
      const x = arange(0, 4, 1, { dtype: "float32", backend }).reshape([1, 1, 2, 2]);
      const y = new Upsample({ scaleFactor: 2 }).forward(x);
      expect(y.arraySync()).toEqual([
        [
          [
            [0, 0, 1, 1],
            [0, 0, 1, 1],
            [2, 2, 3, 3],
            [2, 2, 3, 3],
          ],
        ],
      ]);
    });
  });

  it("forward + backward through Flatten, Unflatten and Upsample leaves the live tensor count flat", () => {
    const net = new Sequential(
      new Upsample({ scaleFactor: 2, mode: "bilinear" }),
      new Flatten(),
      new Unflatten(1, [3, -1]),
    );
    const before = memory().numTensors;
    for (let i = 0; i < 2; i++) {
      tidy(() => {
        const x = randn([2, 3, 4, 4], { backend });
        x.requiresGrad = true;
        const y = net.forward(x) as Tensor;
        expect(y.shape).toEqual([2, 3, 64]);
        sum(y).backward();
        expect(x.grad!.shape).toEqual([2, 3, 4, 4]);
        x.grad = null;
      });
    }
    expect(memory().numTensors).toBe(before);
  });
});

describe("Upsample", () => {
  it("prints like PyTorch", () => {
    expect(String(new Upsample({ scaleFactor: 2 }))).toBe("Upsample(scale_factor=2.0, mode=nearest)");
    expect(String(new Upsample({ size: [3, 4], mode: "bilinear" }))).toBe(
      "Upsample(size=(3, 4), mode=bilinear)",
    );
    expect(String(new Upsample({ scaleFactor: [2, 1.5] }))).toBe(
      "Upsample(scale_factor=(2.0, 1.5), mode=nearest)",
    );
  });

  it("rejects bad options and non-4-D inputs with messages naming them", () => {
    expect(() => new Upsample({})).toThrow(/Upsample: pass exactly one of 'size' and 'scaleFactor'/);
    expect(() => new Upsample({ size: 2, scaleFactor: 2 })).toThrow(/exactly one/);
    expect(() => new Upsample({ size: 2, mode: "bicubic" as never })).toThrow(
      /mode must be 'nearest' or 'bilinear', got 'bicubic'/,
    );
    expect(() => new Upsample({ size: 2, alignCorners: true })).toThrow(
      /alignCorners only applies to mode 'bilinear'/,
    );
    const x = randn([3, 4, 4]);
    expect(() => new Upsample({ size: 2 }).forward(x)).toThrow(
      /Upsample: input must be 4-D \[N,C,H,W\], got \[3,4,4\]/,
    );
    x.dispose();
  });
});
