import { beforeAll, describe, expect, it } from "vitest";
import {
  adamUpdate,
  assign,
  Generator,
  memory,
  randn,
  setBackend,
  tensor,
  tidy,
  zeros,
} from "../src/index.js";
import { expectClose } from "./helpers.js";

const close = expectClose;

interface Hyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decoupled: boolean;
}

/** torch 1.13 single-tensor Adam/AdamW, element by element in float64. */
function refAdam(p: number[], grads: number[][], h: Hyper): number[] {
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  p = [...p];
  grads.forEach((gs, s) => {
    const t = s + 1;
    for (let i = 0; i < p.length; i++) {
      let g = gs[i]!;
      if (h.decoupled) p[i]! *= 1 - h.lr * h.weightDecay;
      else g += h.weightDecay * p[i]!;
      m[i] = h.beta1 * m[i]! + (1 - h.beta1) * g;
      v[i] = h.beta2 * v[i]! + (1 - h.beta2) * g * g;
      const denom = Math.sqrt(v[i]!) / Math.sqrt(1 - h.beta2 ** t) + h.eps;
      p[i]! -= (h.lr / (1 - h.beta1 ** t)) * (m[i]! / denom);
    }
  });
  return p;
}

describe.each(["js", "js-prim"])("adamUpdate on %s", (backend) => {
  beforeAll(() => setBackend(backend));

  it("the first Adam step moves each parameter by lr against its gradient's sign", () => {
    tidy(() => {
      const p = tensor([1, -2, 3]);
      const g = tensor([0.5, -4, 0.001]);
      const m = zeros([3]);
      const v = zeros([3]);
      adamUpdate(p, g, m, v, { lr: 0.1, step: 1 });
      close(p, [0.9, -1.9, 2.9], 1e-4);
      close(m, [0.05, -0.4, 0.0001]);
      close(v, [0.00025, 0.016, 1e-9]);
      close(g, [0.5, -4, 0.001]);
    });
  });

  it("AdamW decays the parameter; Adam adds the L2 term to the gradient", () => {
    tidy(() => {
      const p = tensor([1]);
      adamUpdate(p, tensor([0.5]), zeros([1]), zeros([1]), {
        lr: 0.1,
        weightDecay: 0.01,
        decoupled: true,
        step: 1,
      });
      close(p, [0.999 - 0.1]);
      const q = tensor([1]);
      const m = zeros([1]);
      adamUpdate(q, tensor([0.5]), m, zeros([1]), { lr: 0.1, weightDecay: 0.01, step: 1 });
      close(m, [0.1 * 0.51]);
    });
  });

  it("ten steps of Adam and AdamW match torch's update rule", () => {
    tidy(() => {
      const gen = new Generator(8);
      const p0 = Array.from(randn([12], { generator: gen }).dataSync());
      const grads = Array.from({ length: 10 }, () => Array.from(randn([12], { generator: gen }).dataSync()));
      for (const decoupled of [false, true]) {
        const h: Hyper = { lr: 0.01, beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0.05, decoupled };
        const p = tensor(p0, { shape: [3, 4] });
        const m = zeros([3, 4]);
        const v = zeros([3, 4]);
        grads.forEach((g, s) => {
          adamUpdate(p, tensor(g, { shape: [3, 4] }), m, v, { ...h, step: s + 1 });
        });
        close(p, refAdam(p0, grads, h), 1e-5);
      }
    });
  });

  it("a non-contiguous parameter view is updated in its own storage", () => {
    tidy(() => {
      const base = tensor([
        [1, 2],
        [3, 4],
      ]);
      const p = base.transpose(0, 1);
      const m = zeros([2, 2]);
      const v = zeros([2, 2]);
      adamUpdate(
        p,
        tensor([
          [1, 1],
          [1, 1],
        ]),
        m,
        v,
        { lr: 0.5, step: 1 },
      );
      close(base, [0.5, 1.5, 2.5, 3.5], 1e-6);
    });
  });

  it("adamUpdate errors name the op and the argument", () => {
    tidy(() => {
      const p = zeros([3]);
      expect(() => adamUpdate(p, zeros([4]), zeros([3]), zeros([3]), { lr: 1, step: 1 })).toThrow(
        "adamUpdate: grad is float32 [4] but param is float32 [3]",
      );
      expect(() => adamUpdate(p, p, p, p, { lr: 1, step: 0 })).toThrow(
        /adamUpdate: step must be a positive integer/,
      );
      expect(() => adamUpdate(p, p, p, p, { lr: 1, step: 1, beta1: 1 })).toThrow(
        /adamUpdate: beta1 must be in \[0, 1\)/,
      );
    });
  });

  it("adamUpdate leaves the live tensor count unchanged", () => {
    const p = randn([5, 6]);
    const g = randn([5, 6]);
    const m = zeros([5, 6]);
    const v = zeros([5, 6]);
    const before = memory().numTensors;
    for (let s = 1; s <= 20; s++)
      adamUpdate(p, g, m, v, { lr: 1e-3, weightDecay: 0.01, decoupled: s % 2 === 0, step: s });
    expect(memory().numTensors).toBe(before);
    for (const t of [p, g, m, v]) t.dispose();
  });
});

describe("fused adamUpdate equals the composite", () => {
  it("js and js-prim agree over several steps", () => {
    tidy(() => {
      setBackend("js");
      const gen = new Generator(31);
      const p = randn([64], { generator: gen });
      const [pa, pb] = [p.clone(), p.to("js-prim")];
      const [ma, va] = [zeros([64]), zeros([64])];
      const [mb, vb] = [zeros([64], { backend: "js-prim" }), zeros([64], { backend: "js-prim" })];
      for (let s = 1; s <= 5; s++) {
        const g = randn([64], { generator: gen });
        const o = { lr: 0.01, weightDecay: 0.1, decoupled: s % 2 === 1, step: s };
        adamUpdate(pa, g, ma, va, o);
        adamUpdate(pb, g.to("js-prim"), mb, vb, o);
      }
      close(pa, pb.dataSync());
      close(ma, mb.dataSync());
      close(va, vb.dataSync());
    });
  });
});

describe.each(["js", "js-prim"])("assign on %s", (backend) => {
  beforeAll(() => setBackend(backend));

  it("assign broadcasts and casts the source into the destination in place", () => {
    tidy(() => {
      const w = zeros([2, 3]);
      const storage = w.storage;
      const before = storage.version;
      assign(w, tensor([1.5, 2, 3]));
      expect(w.storage).toBe(storage);
      expect(storage.version).toBe(before + 1);
      expect(Array.from(w.dataSync() as Float32Array)).toEqual([1.5, 2, 3, 1.5, 2, 3]);
      const n = zeros([3], { dtype: "int32" });
      assign(n, tensor([1.9, -2.7, 3]));
      expect(Array.from(n.dataSync() as Int32Array)).toEqual([1, -2, 3]);
    });
  });

  it("assign writes through a view and handles a source overlapping the destination", () => {
    tidy(() => {
      const x = tensor([1, 2, 3, 4, 5, 6], { shape: [2, 3] });
      assign(x.select(0, 1), tensor([9, 9, 9]));
      expect(Array.from(x.dataSync() as Float32Array)).toEqual([1, 2, 3, 9, 9, 9]);
      const y = tensor([1, 2, 3, 4]);
      assign(y, y.flip(0));
      expect(Array.from(y.dataSync() as Float32Array)).toEqual([4, 3, 2, 1]);
      const z = tensor([1, 2, 3, 4]);
      assign(z.slice(0, 1, 4), z.slice(0, 0, 3));
      expect(Array.from(z.dataSync() as Float32Array)).toEqual([1, 1, 2, 3]);
    });
  });

  it("assign errors name the shapes", () => {
    tidy(() => {
      expect(() => assign(zeros([2, 3]), zeros([4]))).toThrow(
        "assign: shapes [4] and [2,3] cannot be broadcast",
      );
      expect(() => assign(zeros([3]), zeros([2, 3]))).toThrow(
        "assign: src of shape [2,3] does not broadcast to dst's shape [3]",
      );
    });
  });

  it("assign leaves no tensors behind", () => {
    const w = zeros([4, 4]);
    const src = randn([4]);
    const before = memory().numTensors;
    assign(w, src);
    expect(memory().numTensors).toBe(before);
    w.dispose();
    src.dispose();
  });
});
