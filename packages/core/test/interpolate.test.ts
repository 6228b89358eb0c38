import { beforeAll, describe, expect, it } from "vitest";
import { Generator, interpolate, memory, randn, setBackend, tensor, tidy } from "../src/index.js";
import { expectClose } from "./helpers.js";

const close = expectClose;

const grid = () =>
  tensor([
    [
      [
        [1, 2],
        [3, 4],
      ],
    ],
  ]);

describe.each(["js", "js-prim"])("interpolate on %s", (backend) => {
  beforeAll(() => setBackend(backend));

  it("bilinear with alignCorners maps corners to corners", () => {
    tidy(() => {
      const y = interpolate(grid(), { size: [3, 3], mode: "bilinear", alignCorners: true });
      close(y, [1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4]);
    });
  });

  it("bilinear without alignCorners samples at half-pixel centres, clamped at the border", () => {
    tidy(() => {
      const y = interpolate(grid(), { scaleFactor: 2, mode: "bilinear" });
      expect(y.shape).toEqual([1, 1, 4, 4]);
      close(y, [1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4]);
    });
  });

  it("bilinear downsampling has no antialiasing", () => {
    tidy(() => {
      // 4 → 2 samples at source 0.5 and 2.5: the mean of neighbouring pairs, not of all four.
      const x = tensor([[[[0, 10, 20, 30]]]]);
      close(interpolate(x, { size: [1, 2], mode: "bilinear" }), [5, 25]);
    });
  });

  it("nearest is the legacy floor(dst·in/out) rule", () => {
    tidy(() => {
      const x = tensor([[[[10, 20, 30]]]]);
      expect(interpolate(x, { size: [1, 5] }).dataSync()).toEqual(new Float32Array([10, 10, 20, 20, 30]));
      expect(interpolate(x, { size: [2, 2], mode: "nearest" }).dataSync()).toEqual(
        new Float32Array([10, 20, 10, 20]),
      );
    });
  });

  it("scaleFactor gives floor(in·s) outputs whose coordinates use 1/s, not in/out", () => {
    tidy(() => {
      const x = tensor([[[[0, 1, 2, 3, 4]]]]);
      // 5·1.7 = 8.5 → 8 outputs; 1/1.7 puts output 5 on source 2, while in/out = 5/8 puts it on 3.
      const bySf = interpolate(x, { scaleFactor: [1, 1.7] });
      expect(bySf.dataSync()).toEqual(new Float32Array([0, 0, 1, 1, 2, 2, 3, 4]));
      expect(interpolate(x, { size: [1, 8] }).dataSync()).toEqual(new Float32Array([0, 0, 1, 1, 2, 3, 3, 4]));
    });
  });

  it("non-contiguous input gives the same result as its contiguous copy", () => {
    tidy(() => {
      const x = randn([2, 3, 5, 7], { generator: new Generator(5) }).transpose(2, 3);
      const opts = { size: [9, 4], mode: "bilinear" } as const;
      close(interpolate(x, opts), interpolate(x.contiguous(), opts).dataSync());
    });
  });

  it("interpolate errors name the op and the argument", () => {
    tidy(() => {
      const x = grid();
      expect(() => interpolate(x, {})).toThrow(/interpolate: pass exactly one of 'size' and 'scaleFactor'/);
      expect(() => interpolate(x, { size: 2, scaleFactor: 2 })).toThrow(/exactly one/);
      expect(() => interpolate(x, { size: 3, alignCorners: true })).toThrow(
        /interpolate: alignCorners only applies to mode 'bilinear'/,
      );
      expect(() => interpolate(x, { scaleFactor: 0.2 })).toThrow(
        /interpolate: scaleFactor 0.2 gives an empty output \[0,0\]/,
      );
      expect(() => interpolate(tensor([[1, 2]]), { size: 3 })).toThrow(/interpolate: input must be 4-D/);
    });
  });

  it("interpolate leaves the live tensor count unchanged", () => {
    const x = randn([1, 2, 5, 6]);
    for (const opts of [
      { size: 9 },
      { size: [3, 8], mode: "bilinear" },
      { scaleFactor: 1.5, mode: "bilinear", alignCorners: true },
    ] as const) {
      const before = memory().numTensors;
      interpolate(x, opts).dispose();
      expect(memory().numTensors).toBe(before);
    }
    x.dispose();
  });
});

describe("interpolate composite on js-prim", () => {
  // PyTorch copies an axis whose output size equals its input size, whatever the scaleFactor
  // (compute_source_index_and_lambda's shortcut). backend-js's fused bilinear kernel does not yet.
  it("an axis left the same size by scaleFactor is copied unchanged, like PyTorch", () => {
    tidy(() => {
      setBackend("js-prim");
      const x = tensor([[[[0, 1, 4, 9]]]]);
      expect(interpolate(x, { scaleFactor: [1, 1.1], mode: "bilinear" }).dataSync()).toEqual(
        new Float32Array([0, 1, 4, 9]),
      );
      expect(interpolate(x, { scaleFactor: [1, 1.1] }).dataSync()).toEqual(new Float32Array([0, 1, 4, 9]));
    });
  });
});

describe("fused interpolate equals the composite", () => {
  it.each([
    [{ size: [13, 11], mode: "bilinear", alignCorners: false }],
    [{ size: [13, 11], mode: "bilinear", alignCorners: true }],
    [{ size: [3, 4], mode: "bilinear", alignCorners: false }],
    [{ size: [3, 4], mode: "bilinear", alignCorners: true }],
    [{ scaleFactor: 1.7, mode: "bilinear" }],
    [{ scaleFactor: [2.5, 0.6], mode: "bilinear", alignCorners: true }],
    [{ size: [13, 11], mode: "nearest" }],
    [{ size: [3, 4], mode: "nearest" }],
    [{ scaleFactor: [2, 1.3] }],
  ] as const)("js and js-prim agree for %o", (opts) => {
    tidy(() => {
      setBackend("js");
      const x = randn([2, 3, 5, 7], { generator: new Generator(9) });
      close(interpolate(x, opts), interpolate(x.to("js-prim"), opts).dataSync());
    });
  });
});
