import "@tessera/backend-js";
import { nativeStatus } from "@tessera/backend-native";
import { describe, expect, it } from "vitest";
import {
  autocast,
  autocastDtype,
  conv2d,
  crossEntropy,
  isAutocastEnabled,
  layerNorm,
  linear,
  matmul,
  mean,
  memory,
  randn,
  scaledDotProductAttention,
  softmax,
  sum,
  tensor,
  tidy,
  withBackend,
} from "../src/index.js";
import { expectClose, PRIMITIVES } from "./helpers.js";

const BACKENDS = ["js", PRIMITIVES, ...(nativeStatus().available ? ["native"] : [])];

describe.each(BACKENDS)("autocast on %s", (backend) => {
  const on = <T>(fn: () => T): T => withBackend(backend, () => tidy(fn));

  it("matmul and linear run in bfloat16, softmax and layerNorm return float32", () => {
    on(() => {
      const x = randn([4, 8]);
      const w = randn([6, 8]);
      const b = randn([6]);
      autocast({ dtype: "bfloat16" }, () => {
        const y = linear(x, w, b);
        expect(y.dtype).toBe("bfloat16");
        expect(matmul(x, w.mT).dtype).toBe("bfloat16");
        expect(softmax(y, -1).dtype).toBe("float32");
        expect(layerNorm(y, 6).dtype).toBe("float32");
        expect(sum(y).dtype).toBe("float32");
        expect(mean(y, -1).dtype).toBe("float32");
      });
    });
  });

  it("float16 casts conv2d and attention; float32 inputs of f32 ops stay as they are", () => {
    on(() => {
      autocast({ dtype: "float16" }, () => {
        expect(conv2d(randn([1, 2, 5, 5]), randn([3, 2, 3, 3]), randn([3])).dtype).toBe("float16");
        const q = randn([2, 3, 4]);
        const mask = tensor([0, 0, -Infinity]).reshape([1, 3]);
        expect(scaledDotProductAttention(q, q, q, { attnMask: mask }).dtype).toBe("float16");
        expect(softmax(randn([2, 3]), -1).dtype).toBe("float32");
      });
    });
  });

  it("autocast linear agrees with float32 linear within bfloat16 rounding", () => {
    on(() => {
      const x = randn([5, 16]);
      const w = randn([3, 16]);
      const ref = linear(x, w);
      const low = autocast({ dtype: "bfloat16" }, () => linear(x, w));
      expectClose(low.cast("float32"), ref.dataSync(), 0.1);
    });
  });

  it("cross entropy of bfloat16 logits is float32", () => {
    on(() => {
      const logits = randn([4, 5]);
      const target = tensor([0, 1, 2, 3], { dtype: "int32" });
      const loss = autocast({ dtype: "bfloat16" }, () => crossEntropy(linear(logits, randn([5, 5])), target));
      expect(loss.dtype).toBe("float32");
      expect(Number.isFinite(loss.itemSync() as number)).toBe(true);
    });
  });
});

describe("autocast scopes", () => {
  it("nest, and enabled: false turns autocast off inside", () => {
    expect(isAutocastEnabled()).toBe(false);
    expect(autocastDtype()).toBeNull();
    tidy(() => {
      const x = randn([2, 2]);
      autocast({ dtype: "bfloat16" }, () => {
        expect(autocastDtype()).toBe("bfloat16");
        autocast({ dtype: "float16" }, () => {
          expect(matmul(x, x).dtype).toBe("float16");
        });
        autocast({ dtype: "bfloat16", enabled: false }, () => {
          expect(isAutocastEnabled()).toBe(false);
          expect(matmul(x, x).dtype).toBe("float32");
        });
        expect(matmul(x, x).dtype).toBe("bfloat16");
      });
      expect(matmul(x, x).dtype).toBe("float32");
    });
  });

  it("an async scope lasts until its promise settles and stays out of concurrent work", async () => {
    const x = tidy(() => randn([2, 2]).keep());
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const inside = autocast({ dtype: "bfloat16" }, async () => {
      await gate;
      return tidy(() => matmul(x, x).dtype);
    });
    // Outside the scope's continuation, while it is pending.
    expect(isAutocastEnabled()).toBe(false);
    expect(tidy(() => matmul(x, x).dtype)).toBe("float32");
    release();
    expect(await inside).toBe("bfloat16");
    expect(isAutocastEnabled()).toBe(false);
    x.dispose();
  });

  it("leaves no tensors behind: the casts are freed after each op", () => {
    const x = tidy(() => randn([3, 4]).keep());
    const w = tidy(() => randn([2, 4]).keep());
    const before = memory().numTensors;
    const y = autocast({ dtype: "bfloat16" }, () => linear(x, w));
    expect(memory().numTensors).toBe(before + 1);
    y.dispose();
    x.dispose();
    w.dispose();
  });

  it("rejects a dtype it cannot compute in", () => {
    expect(() => autocast({ dtype: "float32" as "bfloat16" }, () => 1)).toThrow(
      /autocast: dtype must be 'bfloat16' or 'float16', got "float32"/,
    );
  });
});
