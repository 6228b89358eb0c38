import { beforeAll, describe, expect, it } from "vitest";
import {
  dropout,
  embedding,
  Generator,
  gelu,
  layerNorm,
  logSoftmax,
  memory,
  randn,
  setBackend,
  softmax,
  tensor,
  tidy,
} from "../src/index.js";
import { expectClose } from "./helpers.js";

const close = expectClose;

function flat(run: () => void): void {
  const before = memory().numTensors;
  run();
  expect(memory().numTensors).toBe(before);
}

describe.each(["js", "js-prim"])("activations on %s", (backend) => {
  beforeAll(() => setBackend(backend));

  it("softmax rows sum to one and match exp(x)/Σexp(x)", () => {
    tidy(() => {
      const y = softmax(
        tensor([
          [1, 2, 3],
          [0, 0, 0],
        ]),
        1,
      );
      close(y, [0.09003057, 0.24472847, 0.66524096, 1 / 3, 1 / 3, 1 / 3]);
      close(
        tensor([
          [1, 2, 3],
          [-4, 5, 6],
        ])
          .softmax(0)
          .sum(0),
        [1, 1, 1],
      );
    });
  });

  it("softmax of a transposed view equals softmax of its contiguous copy", () => {
    tidy(() => {
      const x = randn([4, 5], { generator: new Generator(1) }).transpose(0, 1);
      close(softmax(x, -1), softmax(x.contiguous(), -1).dataSync());
    });
  });

  it("logSoftmax is stable for large logits", () => {
    tidy(() => {
      close(logSoftmax(tensor([1000, 1001]), 0), [-1.3132617, -0.3132617]);
      close(tensor([-1000, 0]).logSoftmax(0), [-1000, 0]);
    });
  });

  it("softmax of an all -inf row is NaN and -inf entries get probability zero", () => {
    tidy(() => {
      close(
        softmax(
          tensor([
            [-Infinity, -Infinity],
            [-Infinity, 2],
          ]),
          1,
        ),
        [Number.NaN, Number.NaN, 0, 1],
      );
      close(logSoftmax(tensor([-Infinity, 2]), 0), [-Infinity, 0]);
    });
  });

  it("layerNorm uses the biased variance with eps inside the sqrt", () => {
    tidy(() => {
      const x = tensor([
        [1, 2, 3, 4],
        [2, 2, 2, 2],
      ]);
      const s = Math.sqrt(1.25 + 1e-5);
      close(layerNorm(x, [4]), [-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s, 0, 0, 0, 0]);
      const w = tensor([1, 2, 3, 4]);
      const b = tensor([0, 1, 0, 1]);
      close(layerNorm(x, 4, w, b, 0.1), [
        -1.5 / Math.sqrt(1.35),
        1 - 1 / Math.sqrt(1.35),
        1.5 / Math.sqrt(1.35),
        1 + 6 / Math.sqrt(1.35),
        0,
        1,
        0,
        1,
      ]);
    });
  });

  it("layerNorm over two trailing dims normalises each [H,W] block", () => {
    tidy(() => {
      const x = randn([3, 2, 5], { generator: new Generator(2) });
      const y = layerNorm(x, [2, 5]);
      close(y.mean([1, 2]), [0, 0, 0], 1e-5);
      close(y.mul(y).mean([1, 2]), [1, 1, 1], 1e-3);
    });
  });

  it("layerNorm rejects a normalizedShape that is not the trailing dims", () => {
    tidy(() => {
      expect(() => layerNorm(tensor([[1, 2, 3]]), [2])).toThrow(
        /layerNorm: normalizedShape \[2\] must equal the trailing dims of input \[1,3\]/,
      );
      expect(() => layerNorm(tensor([[1, 2, 3]]), [3], tensor([1, 2]))).toThrow(
        /layerNorm: weight has shape \[2\]/,
      );
    });
  });

  it("gelu matches the erf form and the tanh approximation", () => {
    tidy(() => {
      close(gelu(tensor([-1, 0, 1, 3])), [-0.15865525, 0, 0.84134475, 2.99595031]);
      close(tensor([-1, 1]).gelu({ approximate: "tanh" }), [-0.15880801, 0.84119199]);
    });
  });

  it("dropout keeps survivors scaled by 1/(1-p) and is reproducible from a generator", () => {
    tidy(() => {
      const x = tensor(new Float32Array(4000).fill(1), { shape: [40, 100] });
      const y = dropout(x, 0.25, true, { generator: new Generator(7) });
      const d = y.dataSync();
      let kept = 0;
      for (const v of d) {
        if (v !== 0) {
          expect(v).toBeCloseTo(1 / 0.75, 6);
          kept++;
        }
      }
      expect(kept / d.length).toBeGreaterThan(0.72);
      expect(kept / d.length).toBeLessThan(0.78);
      expect(dropout(x, 0.25, true, { generator: new Generator(7) }).dataSync()).toEqual(d);
    });
  });

  it("dropout is the identity when not training or p = 0, and zeros when p = 1", () => {
    tidy(() => {
      const x = tensor([1, 2, 3]);
      expect(dropout(x, 0.5, false).dataSync()).toEqual(new Float32Array([1, 2, 3]));
      expect(dropout(x, 0).dataSync()).toEqual(new Float32Array([1, 2, 3]));
      expect(dropout(x, 1).dataSync()).toEqual(new Float32Array([0, 0, 0]));
      expect(() => dropout(x, 1.5)).toThrow(/dropout: p must be in \[0, 1\], got 1.5/);
    });
  });

  it("embedding gathers rows for indices of any shape", () => {
    tidy(() => {
      const w = tensor([
        [0, 0],
        [1, 2],
        [3, 4],
      ]);
      const y = embedding(
        w,
        tensor(
          [
            [2, 1],
            [0, 2],
          ],
          { dtype: "int32" },
        ),
        { paddingIdx: 0 },
      );
      expect(y.shape).toEqual([2, 2, 2]);
      expect(y.arraySync()).toEqual([
        [
          [3, 4],
          [1, 2],
        ],
        [
          [0, 0],
          [3, 4],
        ],
      ]);
      expect(() => embedding(w, tensor([1.5]))).toThrow(/embedding: indices must be int32, got float32/);
      expect(() => embedding(w, tensor([1], { dtype: "int32" }), { paddingIdx: 3 })).toThrow(
        /embedding: paddingIdx 3 is out of range for 3 embeddings/,
      );
    });
  });

  it("half-precision softmax and layerNorm compute in float32 and return the input dtype", () => {
    tidy(() => {
      const x = tensor([[1, 2, 3, 4]]).cast("float16");
      const s = softmax(x, 1);
      expect(s.dtype).toBe("float16");
      close(s, [0.0320586, 0.08714432, 0.23688282, 0.64391426], 1e-3);
      const y = layerNorm(x.cast("bfloat16"), [4]);
      expect(y.dtype).toBe("bfloat16");
      close(y, [-1.3416355, -0.4472118, 0.4472118, 1.3416355], 1e-2);
    });
  });

  it("every activation leaves the live tensor count unchanged", () => {
    const x = randn([2, 3, 4], { generator: new Generator(3) });
    const w = tensor([1, 2, 3, 4]);
    flat(() => softmax(x, 1).dispose());
    flat(() => logSoftmax(x, -1).dispose());
    flat(() => layerNorm(x, [4], w, w).dispose());
    flat(() => gelu(x).dispose());
    flat(() => gelu(x, { approximate: "tanh" }).dispose());
    flat(() => dropout(x, 0.3).dispose());
    flat(() => dropout(x, 0.3, false).dispose());
    x.dispose();
    w.dispose();
  });
});

describe("fused activations equal the composites", () => {
  it("softmax, logSoftmax, layerNorm and gelu agree between js and js-prim", () => {
    tidy(() => {
      setBackend("js");
      const x = randn([3, 7, 9], { generator: new Generator(11) }).mul(4);
      const w = randn([9], { generator: new Generator(12) });
      const b = randn([9], { generator: new Generator(13) });
      const xp = x.to("js-prim");
      const wp = w.to("js-prim");
      const bp = b.to("js-prim");
      for (const dim of [0, 1, 2]) {
        close(softmax(x, dim), softmax(xp, dim).dataSync());
        close(logSoftmax(x, dim), logSoftmax(xp, dim).dataSync());
      }
      close(layerNorm(x, [9], w, b), layerNorm(xp, [9], wp, bp).dataSync(), 1e-4);
      close(gelu(x), gelu(xp).dataSync());
      close(gelu(x, { approximate: "tanh" }), gelu(xp, { approximate: "tanh" }).dataSync());
    });
  });
});
