import { describe, expect, it } from "vitest";
import "@tessera/backend-js";
import { arange, memory, tensor, tidy } from "../src/index.js";

const grid = () => arange(24).reshape(2, 3, 4);

describe("views share storage and cost no copy", () => {
  it("reshape of contiguous data is a view over the same storage", () => {
    tidy(() => {
      const x = grid();
      const y = x.reshape(6, 4);
      expect(y.storage).toBe(x.storage);
      expect(y.shape).toEqual([6, 4]);
      expect(x.reshape(-1, 2).shape).toEqual([12, 2]);
    });
  });

  it("transpose and permute reorder strides and read back like PyTorch", () => {
    tidy(() => {
      const x = grid();
      const t = x.transpose(0, 2);
      expect(t.shape).toEqual([4, 3, 2]);
      expect(t.strides).toEqual([1, 4, 12]);
      expect(t.storage).toBe(x.storage);
      expect(t.arraySync()).toEqual([
        [
          [0, 12],
          [4, 16],
          [8, 20],
        ],
        [
          [1, 13],
          [5, 17],
          [9, 21],
        ],
        [
          [2, 14],
          [6, 18],
          [10, 22],
        ],
        [
          [3, 15],
          [7, 19],
          [11, 23],
        ],
      ]);
      expect(x.permute(1, 2, 0).arraySync()).toEqual(x.permute([1, 2, 0]).arraySync());
    });
  });

  it("reshape of a non-contiguous view copies when the layout cannot be viewed", () => {
    tidy(() => {
      const t = grid().transpose(1, 2); // [2,4,3]
      const r = t.reshape(2, 12);
      expect(r.storage).not.toBe(t.storage);
      expect(r.dataSync()).toEqual(t.contiguous().dataSync());
      expect(() => t.view(2, 12)).toThrow(/view: shape \[2,12\] is not compatible/);
    });
  });

  it("view splits and merges dims where the strides allow it", () => {
    tidy(() => {
      const t = arange(24).reshape(4, 6).transpose(0, 1); // [6,4], strides [1,6]
      const v = t.view(3, 2, 4);
      expect(v.storage).toBe(t.storage);
      expect(v.strides).toEqual([2, 1, 6]);
      expect(v.contiguous().dataSync()).toEqual(t.contiguous().dataSync());
    });
  });

  it("expand broadcasts size-1 dims with stride 0 and shares memory", () => {
    tidy(() => {
      const cls = tensor([[[1, 2, 3]]]);
      const e = cls.expand(4, 2, -1);
      expect(e.shape).toEqual([4, 2, 3]);
      expect(e.strides).toEqual([0, 0, 1]);
      expect(e.storage).toBe(cls.storage);
      expect(e.contiguous().dataSync()).toEqual(
        new Float32Array([1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3]),
      );
      expect(() => cls.expand(4, 2, 5)).toThrow(
        /expand: the expanded size 5 must match the existing size 3 at dim 2/,
      );
    });
  });

  it("slice, narrow and select follow Python indexing", () => {
    tidy(() => {
      const x = arange(10);
      expect(x.slice(0, 2, 8, 3).arraySync()).toEqual([2, 5]);
      expect(x.slice(0, -3).arraySync()).toEqual([7, 8, 9]);
      expect(x.slice(0, 20, 30).shape).toEqual([0]);
      expect(x.narrow(0, 1, 2).arraySync()).toEqual([1, 2]);
      expect(() => x.narrow(0, 8, 5)).toThrow(/narrow: start 8 \+ length 5 exceeds dim 0 of size 10/);
      const g = grid();
      expect(g.select(1, -1).arraySync()).toEqual([
        [8, 9, 10, 11],
        [20, 21, 22, 23],
      ]);
      expect(() => g.select(2, 4)).toThrow(/select: index 4 is out of range for dim 2 of size 4/);
    });
  });

  it("squeeze, unsqueeze and flatten round-trip shapes", () => {
    tidy(() => {
      const x = arange(6).reshape(1, 2, 1, 3);
      expect(x.squeeze().shape).toEqual([2, 3]);
      expect(x.squeeze(2).shape).toEqual([1, 2, 3]);
      expect(x.squeeze(1).shape).toEqual([1, 2, 1, 3]);
      expect(x.squeeze().unsqueeze(0).unsqueeze(-1).shape).toEqual([1, 2, 3, 1]);
      expect(x.flatten().shape).toEqual([6]);
      expect(x.flatten(1, 2).shape).toEqual([1, 2, 3]);
      expect(tensor(5).flatten().shape).toEqual([1]);
    });
  });

  it("unfold cuts sliding windows as a view, like torch.Tensor.unfold", () => {
    tidy(() => {
      const x = arange(7);
      const u = x.unfold(0, 3, 2);
      expect(u.storage).toBe(x.storage);
      expect(u.arraySync()).toEqual([
        [0, 1, 2],
        [2, 3, 4],
        [4, 5, 6],
      ]);
      const img = arange(2 * 4 * 4).reshape(2, 4, 4);
      const patches = img.unfold(1, 2, 2).unfold(2, 2, 2); // [2,2,2,2,2]
      expect(patches.shape).toEqual([2, 2, 2, 2, 2]);
      expect(patches.select(0, 0).select(0, 1).select(0, 0).arraySync()).toEqual([
        [8, 9],
        [12, 13],
      ]);
      expect(() => x.unfold(0, 8, 1)).toThrow(/unfold: size 8 exceeds dim 0 of size 7/);
    });
  });

  it("dims out of range name the op and the valid range", () => {
    tidy(() => {
      expect(() => grid().transpose(0, 3)).toThrow(
        /transpose: dim1 3 is out of range for a tensor of rank 3 \(expected -3..2\)/,
      );
      expect(() => grid().permute(0, 1)).toThrow(/permute: dims \[0,1\] must list all 3 dims/);
      expect(() => grid().reshape(5, -1)).toThrow(
        /reshape: shape \[5,-1\] is invalid for input of shape \[2,3,4\]/,
      );
    });
  });

  it("views keep storage alive until the last one is disposed", () => {
    const before = memory();
    const x = tidy(() => grid());
    const v = x.transpose(0, 1);
    x.dispose();
    expect(memory().numStorages).toBe(before.numStorages + 1);
    const c = v.contiguous();
    expect(c.dataSync()[4]).toBe(12);
    c.dispose();
    v.dispose();
    expect(memory().numStorages).toBe(before.numStorages);
    expect(memory().numTensors).toBe(before.numTensors);
  });
});
