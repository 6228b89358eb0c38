import { describe, expect, it } from "vitest";
import "@tessera/backend-js";
import { arange, clamp, maskedFill, memory, tensor, tidy, where } from "../src/index.js";

describe("elementwise ops", () => {
  it("binary ops broadcast like NumPy", () => {
    tidy(() => {
      const a = tensor([[1], [2], [3]]);
      const b = tensor([10, 20]);
      expect(a.add(b).arraySync()).toEqual([
        [11, 21],
        [12, 22],
        [13, 23],
      ]);
      expect(a.sub(b).shape).toEqual([3, 2]);
      expect(tensor(2).mul(b).arraySync()).toEqual([20, 40]);
      expect(() => tensor([1, 2, 3]).add(tensor([1, 2]))).toThrow(
        /add: shapes \[3\] and \[2\] cannot be broadcast \(dim -1: 3 vs 2\)/,
      );
    });
  });

  it("broadcast of a 0-size dim gives an empty result", () => {
    tidy(() => {
      const e = tensor(new Float32Array(0), { shape: [0, 1] });
      expect(e.add(tensor([1, 2, 3])).shape).toEqual([0, 3]);
    });
  });

  it("non-contiguous operands give the same result as contiguous copies", () => {
    tidy(() => {
      const x = arange(12).reshape(3, 4).cast("float32");
      const t = x.transpose(0, 1);
      expect(t.mul(t).dataSync()).toEqual(t.contiguous().mul(t.contiguous()).dataSync());
      expect(x.slice(1, 0, 4, 2).exp().dataSync()).toEqual(x.slice(1, 0, 4, 2).contiguous().exp().dataSync());
    });
  });

  it("NaN and Inf propagate like IEEE and PyTorch", () => {
    tidy(() => {
      const x = tensor([Number.NaN, Number.POSITIVE_INFINITY, -0, 0]);
      const r = x.relu().dataSync();
      expect(Number.isNaN(r[0]!)).toBe(true);
      expect(r[1]).toBe(Number.POSITIVE_INFINITY);
      expect(Number.isNaN(x.maximum(1).dataSync()[0]!)).toBe(true);
      expect(x.sign().dataSync()[2]).toBe(-0);
      expect([...x.isnan().dataSync()]).toEqual([1, 0, 0, 0]);
      expect(tensor([1, -1, 0]).div(0).dataSync()).toEqual(
        new Float32Array([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN]),
      );
    });
  });

  it("unary math matches Math within float32 rounding", () => {
    tidy(() => {
      const v = [-2.5, -0.5, 0.1, 0.5, 1.5, 3];
      const x = tensor(v);
      const f = (fn: (x: number) => number) => v.map((a) => Math.fround(fn(a)));
      expect([...x.exp().dataSync()]).toEqual(f(Math.exp));
      expect([...x.tanh().dataSync()]).toEqual(f(Math.tanh));
      expect([...x.abs().sqrt().dataSync()]).toEqual(f((a) => Math.sqrt(Math.abs(a))));
      expect([...x.round().dataSync()]).toEqual([-2, -0, 0, 0, 2, 3]);
      expect([...x.floor().dataSync()]).toEqual([-3, -1, 0, 0, 1, 3]);
      const erf = x.erf().dataSync();
      const ref = [
        -0.999593047982555, -0.520499877813047, 0.112462916018285, 0.520499877813047, 0.966105146475311,
        0.999977909503001,
      ];
      for (let i = 0; i < ref.length; i++) expect(Math.abs(erf[i]! - ref[i]!)).toBeLessThan(2e-7);
      const sig = tensor([-100, 0, 100]).sigmoid().dataSync();
      expect([...sig]).toEqual([Math.fround(1 / (1 + Math.exp(100))), 0.5, 1]);
    });
  });

  it("comparisons give bool tensors and logical ops combine them", () => {
    tidy(() => {
      const a = tensor([1, 2, 3]);
      const m = a.gt(1);
      expect(m.dtype).toBe("bool");
      expect(m.arraySync()).toEqual([false, true, true]);
      expect(m.logicalAnd(a.lt(3)).arraySync()).toEqual([false, true, false]);
      expect(m.logicalNot().arraySync()).toEqual([true, false, false]);
      expect(a.eq(tensor([1, 0, 3])).arraySync()).toEqual([true, false, true]);
    });
  });

  it("where, maskedFill and clamp select elementwise", () => {
    tidy(() => {
      const x = tensor([
        [1, 2],
        [3, 4],
      ]);
      const mask = tensor([true, false]);
      expect(where(mask, x, 0).arraySync()).toEqual([
        [1, 0],
        [3, 0],
      ]);
      expect(maskedFill(x, mask, -1).arraySync()).toEqual([
        [-1, 2],
        [-1, 4],
      ]);
      expect(clamp(x, 2, 3).arraySync()).toEqual([
        [2, 2],
        [3, 3],
      ]);
      expect(clamp(x, null, 2).arraySync()).toEqual([
        [1, 2],
        [2, 2],
      ]);
      expect(() => where(x, x, x)).toThrow(/where: 'cond' must be a bool tensor, got float32/);
      expect(() => maskedFill(tensor([1]), tensor([true, false]), 0)).toThrow(/maskedFill/);
    });
  });

  it("elementwise ops leave no temporaries behind", () => {
    const start = memory().numTensors;
    const x = tensor([1, 2, 3]);
    const shifted = x.add(1);
    const y = clamp(shifted, 0, 2.5);
    x.dispose();
    shifted.dispose();
    expect(memory().numTensors).toBe(start + 1);
    expect([...y.dataSync()]).toEqual([2, 2.5, 2.5]);
    y.dispose();
    expect(memory().numTensors).toBe(start);
  });
});
