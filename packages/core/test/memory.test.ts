import { describe, expect, it } from "vitest";
import "@tessera/backend-js";
import "./helpers.js";
import { dispose, keep, memory, ones, randn, scope, setBackend, tensor, tidy, zeros } from "../src/index.js";

describe("memory scopes", () => {
  it("a 10,000-iteration loop of tensor ops inside tidy keeps numTensors flat", () => {
    const w = randn([8, 8]);
    let acc = zeros([8, 8]);
    const start = memory();
    for (let i = 0; i < 10_000; i++) {
      const next = tidy(() => acc.mul(0.5).add(w.exp().sigmoid()).sub(w.abs().sqrt()));
      acc.dispose();
      acc = next;
      if (i % 2500 === 0) expect(memory().numTensors).toBe(start.numTensors);
    }
    expect(memory().numTensors).toBe(start.numTensors);
    expect(memory().numBytes).toBe(start.numBytes);
    acc.dispose();
    w.dispose();
  });

  it("tidy frees intermediates and keeps what it returns, nested in arrays and objects", () => {
    const start = memory().numTensors;
    const out = tidy(() => {
      const a = ones([3]);
      const b = a.add(1);
      a.mul(3);
      return { b, list: [b.mul(2)] };
    });
    expect(memory().numTensors).toBe(start + 2);
    expect(out.b.dataSync()).toEqual(new Float32Array([2, 2, 2]));
    dispose(out);
    expect(memory().numTensors).toBe(start);
  });

  it("keep() exempts a tensor from every enclosing scope", () => {
    const start = memory().numTensors;
    let kept: ReturnType<typeof ones> | undefined;
    tidy(() => {
      tidy(() => {
        kept = keep(ones([2]).mul(4));
      });
    });
    expect(kept!.isDisposed).toBe(false);
    expect(memory().numTensors).toBe(start + 1);
    kept!.dispose();
    expect(memory().numTensors).toBe(start);
  });

  it("tidy frees what its function created when the function throws", () => {
    const start = memory().numTensors;
    expect(() =>
      tidy(() => {
        ones([3]).add(1);
        throw new Error("halfway");
      }),
    ).toThrow("halfway");
    expect(memory().numTensors).toBe(start);
  });

  it("tidy refuses an async function with a pointer to scope()", () => {
    const start = memory().numTensors;
    expect(() =>
      tidy(async () => {
        ones([1]);
      }),
    ).toThrow(/use 'await scope\(async/);
    expect(memory().numTensors).toBe(start);
  });

  it("scope frees across await and keeps concurrent scopes apart", async () => {
    const start = memory().numTensors;
    const work = (v: number) =>
      scope(async () => {
        const a = tensor([v, v]);
        await new Promise((r) => setTimeout(r, 5));
        const b = a.add(1);
        await new Promise((r) => setTimeout(r, 1));
        return b.mul(2);
      });
    const [r1, r2] = await Promise.all([work(1), work(10)]);
    expect(await r1.data()).toEqual(new Float32Array([4, 4]));
    expect(await r2.data()).toEqual(new Float32Array([22, 22]));
    expect(memory().numTensors).toBe(start + 2);
    r1.dispose();
    r2.dispose();
    expect(memory().numTensors).toBe(start);
  });

  it("scope frees its tensors when the function throws", async () => {
    const start = memory().numTensors;
    await expect(
      scope(async () => {
        ones([4]);
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(memory().numTensors).toBe(start);
  });

  it("using disposes at the end of the block", () => {
    const start = memory().numTensors;
    {
      using t = ones([5]);
      expect(t.isDisposed).toBe(false);
      expect(memory().numTensors).toBe(start + 1);
    }
    expect(memory().numTensors).toBe(start);
  });

  it("memory() reports bytes per backend and dispose() is idempotent", () => {
    const start = memory();
    const t = zeros([10], { dtype: "float64" });
    expect(memory().backends.js!.numBytes).toBe(start.backends.js!.numBytes + 80);
    t.dispose();
    t.dispose();
    expect(memory().numBytes).toBe(start.numBytes);
    expect(() => t.add(1)).toThrow(/add: tensor \[10\] \(float64\) was already disposed/);
  });
});

describe("setData", () => {
  it("setData rebinds a tensor to another tensor's data, across backends, keeping the object", () => {
    setBackend("js");
    const w = zeros([2]);
    const src = tensor([1, 2, 3], { backend: "js-prim" });
    const before = memory();
    w.setData(src);
    expect(w.backendName).toBe("js-prim");
    expect(w.shape).toEqual([3]);
    expect(Array.from(w.dataSync() as Float32Array)).toEqual([1, 2, 3]);
    const after = memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.backends.js!.numTensors).toBe(before.backends.js!.numTensors - 1);
    expect(after.backends["js-prim"]!.numTensors).toBe(before.backends["js-prim"]!.numTensors + 1);
    // The old storage is freed; src and w now share one.
    expect(after.numStorages).toBe(before.numStorages - 1);
    src.dispose();
    expect(Array.from(w.dataSync() as Float32Array)).toEqual([1, 2, 3]);
    w.dispose();
    expect(memory().numStorages).toBe(before.numStorages - 2);
  });
});
