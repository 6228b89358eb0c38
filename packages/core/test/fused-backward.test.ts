import { beforeAll, describe, expect, it } from "vitest";
import {
  attentionBackward,
  geluBackward,
  layerNormBackward,
  memory,
  randn,
  setBackend,
  softmax,
  softmaxBackward,
  tensor,
  tidy,
  zeros,
} from "../src/index.js";
import { expectClose, PRIMITIVES } from "./helpers.js";

beforeAll(() => {
  setBackend("js");
});

describe("backward kernel ops", () => {
  it("softmaxBackward of a non-contiguous y and dy is y·(dy − Σ dy·y)", () => {
    tidy(() => {
      const x = tensor([
        [1, 2],
        [0, 3],
        [-1, 1],
      ]).transpose(0, 1); // [2, 3], strided
      const y = softmax(x, 1);
      const dy = tensor([
        [1, 0],
        [2, 1],
        [0, 3],
      ]).transpose(0, 1);
      const yv = Array.from(y.dataSync());
      const dv = Array.from(dy.contiguous().dataSync());
      const want = yv.map((v, i) => {
        const r = Math.floor(i / 3) * 3;
        const s = [0, 1, 2].reduce((a, j) => a + dv[r + j]! * yv[r + j]!, 0);
        return v * (dv[i]! - s);
      });
      expectClose(softmaxBackward(y.transpose(0, 1).transpose(0, 1), dy, -1), want, 1e-6);
    });
  });

  it("a backend without the kernel is an error naming it; so is a dy of another shape or dtype", () => {
    tidy(() => {
      const x = tensor([1, 2, 3], { backend: PRIMITIVES });
      expect(() => geluBackward(x, x)).toThrow(
        /geluBackward: backend 'js-prim' has no fused geluBackward kernel/,
      );
      const y = tensor([0.5, 0.5]);
      expect(() => softmaxBackward(y, tensor([1, 2, 3]), 0)).toThrow(
        /softmaxBackward: dy has shape \[3\] but y has \[2\]/,
      );
      expect(() => softmaxBackward(y, tensor([1, 2], { dtype: "float64" }), 0)).toThrow(
        /dy is float64 but y is float32/,
      );
    });
  });

  it("layerNormBackward returns parameter gradients of normalizedShape, zeros when there are no rows", () => {
    tidy(() => {
      const x = randn([2, 3, 4]);
      const g = layerNormBackward(x, null, randn([2, 3, 4]), [3, 4], 1e-5, { dweight: true });
      expect(g.dx.shape).toEqual([2, 3, 4]);
      expect(g.dweight!.shape).toEqual([3, 4]);
      expect(g.dbias).toBeNull();
      const e = layerNormBackward(zeros([0, 4]), null, zeros([0, 4]), 4, 1e-5, {
        dweight: true,
        dbias: true,
      });
      expect(Array.from(e.dbias!.dataSync())).toEqual([0, 0, 0, 0]);
    });
  });

  it("attentionBackward gives gradients at the broadcast batch shape and frees its temporaries", () => {
    const before = memory().numTensors;
    tidy(() => {
      const q = randn([2, 3, 4]);
      const k = randn([1, 5, 4]);
      const v = randn([1, 5, 2]);
      const g = attentionBackward(
        q,
        k,
        v,
        randn([2, 3, 2]),
        { attnMask: randn([3, 5]), isCausal: true },
        { dmask: true },
      );
      expect(g.dq.shape).toEqual([2, 3, 4]);
      expect(g.dk.shape).toEqual([2, 5, 4]);
      expect(g.dv.shape).toEqual([2, 5, 2]);
      expect(g.dmask!.shape).toEqual([2, 3, 5]);
      const none = attentionBackward(q, k.slice(1, 0, 0), v.slice(1, 0, 0), randn([2, 3, 2]));
      expect(Array.from(none.dq.dataSync()).every((d) => d === 0)).toBe(true);
      expect(none.dmask).toBeNull();
    });
    expect(memory().numTensors).toBe(before);
  });
});
