import { describe, expect, it } from "vitest";
import "@tessera/backend-js";
import {
  arange,
  empty,
  eye,
  full,
  fullLike,
  linspace,
  ones,
  onesLike,
  tensor,
  tidy,
  zeros,
  zerosLike,
} from "../src/index.js";

describe("creation", () => {
  it("tensor() infers shape from nested arrays and dtype from values", () => {
    tidy(() => {
      const t = tensor([
        [1, 2, 3],
        [4, 5, 6],
      ]);
      expect(t.shape).toEqual([2, 3]);
      expect(t.dtype).toBe("float32");
      expect(tensor([[true], [false]]).dtype).toBe("bool");
      expect(tensor(3.5).shape).toEqual([]);
      expect(tensor([]).shape).toEqual([0]);
      expect(tensor(new Int32Array([1, 2, 3, 4]), { shape: [2, 2] }).arraySync()).toEqual([
        [1, 2],
        [3, 4],
      ]);
    });
  });

  it("tensor() rejects ragged arrays, bad elements and mismatched shapes", () => {
    expect(() => tensor([[1, 2], [3]])).toThrow(/tensor: ragged nested array at data\[1\]/);
    expect(() => tensor([1, "a" as unknown as number])).toThrow(/element at data\[1\] is string/);
    expect(() => tensor(new Float32Array(5), { shape: [2, 2] })).toThrow(
      /shape \[2,2\] needs 4 elements but the typed array has 5/,
    );
    expect(() => tensor([1], { dtype: "float8" as never })).toThrow(/unknown dtype 'float8'/);
  });

  it("fills, likes and identity", () => {
    tidy(() => {
      expect(zeros([2, 2]).dataSync()).toEqual(new Float32Array(4));
      expect(ones([3], { dtype: "int32" }).dataSync()).toEqual(new Int32Array([1, 1, 1]));
      expect(full([2], 7.5).dataSync()).toEqual(new Float32Array([7.5, 7.5]));
      expect(full([1], true).dtype).toBe("bool");
      const like = tensor([[1, 2]], { dtype: "float64" });
      expect(zerosLike(like).dtype).toBe("float64");
      expect(onesLike(like).shape).toEqual([1, 2]);
      expect(fullLike(like, 3).dataSync()).toEqual(new Float64Array([3, 3]));
      expect(eye(2, 3).arraySync()).toEqual([
        [1, 0, 0],
        [0, 1, 0],
      ]);
      expect(empty([0, 3]).size).toBe(0);
    });
  });

  it("arange and linspace follow torch", () => {
    tidy(() => {
      expect(arange(4).arraySync()).toEqual([0, 1, 2, 3]);
      expect(arange(4).dtype).toBe("int32");
      expect(arange(1, 2, 0.25).arraySync()).toEqual([1, 1.25, 1.5, 1.75]);
      expect(arange(5, 1, -2).arraySync()).toEqual([5, 3]);
      expect(arange(3, 3).shape).toEqual([0]);
      expect(() => arange(0, 1, 0)).toThrow(/arange: step must be finite and non-zero/);
      const l = linspace(0, 1, 5).dataSync();
      expect([...l]).toEqual([0, 0.25, 0.5, 0.75, 1]);
      expect(linspace(-1, 1, 1).arraySync()).toEqual([-1]);
      expect(linspace(0, 0.3, 7).dataSync()[6]).toBe(Math.fround(0.3));
    });
  });
});
