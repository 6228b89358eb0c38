import { JsBackend } from "@tessera/backend-js";
import {
  adamUpdate,
  arange,
  cat,
  matmul,
  memory,
  randn,
  registerBackend,
  removeBackend,
  setBackend,
  softmax,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from "@tessera/core";
import { beforeAll, describe, expect, it } from "vitest";
import { enableGrad, grad, isGradEnabled, noGrad, valueAndGrad, vjp } from "../src/index.js";

beforeAll(() => {
  setBackend("js");
});

const values = (t: Tensor | null) => Array.from(t!.dataSync() as Float32Array);
const expectClose = (t: Tensor | null, want: readonly number[], tol = 1e-5) => {
  expect(t).not.toBeNull();
  const got = values(t);
  expect(got.length).toBe(want.length);
  for (const [i, v] of got.entries()) {
    expect(Math.abs(v - want[i]!), `element ${i}: ${v} vs ${want[i]}`).toBeLessThanOrEqual(tol);
  }
};

describe("leaf gradients", () => {
  it("the cls_token case: a [1,1,D] parameter expanded to [B,1,D] gets the sum of the per-image gradients", () => {
    const B = 3;
    const N = 4;
    const D = 5;
    const cls = randn([1, 1, D]).requiresGrad_();
    const patches = randn([B, N, D]);
    const probe = randn([B, N + 1, D]);
    const loss = tidy(() =>
      cat([cls.expand([B, 1, D]), patches], 1)
        .mul(probe)
        .sum(),
    );
    loss.backward();
    // d loss / d cls = Σ_b probe[b, 0, :]
    const p = values(probe);
    const want = Array.from({ length: D }, (_, d) => {
      let s = 0;
      for (let b = 0; b < B; b++) s += p[b * (N + 1) * D + d]!;
      return s;
    });
    expect(cls.grad!.shape).toEqual([1, 1, D]);
    expectClose(cls.grad, want);
    for (const t of [cls, patches, probe, loss]) t.dispose();
  });

  it("a tensor used twice receives the sum of both gradients, and .grad accumulates across backward calls", () => {
    const x = tensor([1, 2, 3]).requiresGrad_();
    const run = () => tidy(() => x.mul(x).add(x.mul(3)).sum());
    const l1 = run();
    l1.backward();
    expectClose(x.grad, [5, 7, 9]); // 2x + 3
    const l2 = run();
    l2.backward();
    expectClose(x.grad, [10, 14, 18]);
    x.grad = null;
    expect(x.grad).toBeNull();
    for (const t of [x, l1, l2]) t.dispose();
  });

  it("integer and bool tensors cannot require grad", () => {
    const i = tensor([1, 2], { dtype: "int32" });
    expect(() => {
      i.requiresGrad = true;
    }).toThrow(/only floating-point tensors can require gradients, got int32/);
    const b = tensor([true], { dtype: "bool" });
    expect(() => b.requiresGrad_()).toThrow(/got bool/);
    i.dispose();
    b.dispose();
  });

  it("index and mask inputs are not differentiated: gather and where flow only to the data", () => {
    const x = tensor([
      [1, 2],
      [3, 4],
    ]).requiresGrad_();
    const idx = tensor([[1], [0]], { dtype: "int32" });
    const loss = tidy(() =>
      x
        .mul(2)
        .sum()
        .add(x.sum().mul(0))
        .add(x.mul(idx.cast("float32")).sum()),
    );
    loss.backward();
    expectClose(x.grad, [3, 3, 2, 2]);
    for (const t of [x, idx, loss]) t.dispose();
  });
});

describe("grad mode", () => {
  it("noGrad records nothing and enableGrad inside it records again", () => {
    const x = tensor([1, 2]).requiresGrad_();
    const y = noGrad(() => x.mul(2));
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
    const z = noGrad(() => enableGrad(() => x.mul(2)));
    expect(z.requiresGrad).toBe(true);
    expect(z.gradFn?.name).toBe("mul");
    expect(isGradEnabled()).toBe(true);
    for (const t of [x, y, z]) t.dispose();
  });

  it("noGrad around an async function covers its awaits and leaves concurrent work alone", async () => {
    const x = tensor([1, 2]).requiresGrad_();
    let inside: Tensor | undefined;
    const task = noGrad(async () => {
      await new Promise((r) => setTimeout(r, 5));
      inside = x.mul(2);
    });
    const outside = x.mul(2); // runs while the task awaits
    await task;
    expect(inside!.requiresGrad).toBe(false);
    expect(outside.requiresGrad).toBe(true);
    for (const t of [x, inside!, outside]) t.dispose();
  });

  it("detach cuts a tensor from the graph and shares its memory", () => {
    const x = tensor([1, 2]).requiresGrad_();
    const y = x.mul(3);
    const d = y.detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.storage).toBe(y.storage);
    for (const t of [x, y, d]) t.dispose();
  });
});

describe("graph lifetime", () => {
  it("backward frees saved tensors; a second pass says to use retainGraph", () => {
    const x = tensor([1, 2, 3]).requiresGrad_();
    const before = memory().numTensors;
    const loss = tidy(() => x.exp().sum());
    const withGraph = memory().numTensors;
    loss.backward();
    // exp saved its output; after backward only the loss and x.grad are new.
    expect(memory().numTensors).toBe(before + 2);
    expect(withGraph).toBeGreaterThan(before + 1);
    expect(() => loss.backward()).toThrow(/retainGraph: true/);
    for (const t of [x, loss]) t.dispose();
  });

  it("retainGraph keeps the graph for a second backward, which accumulates", () => {
    const x = tensor([0, 1]).requiresGrad_();
    const loss = tidy(() => x.exp().sum());
    loss.backward(null, { retainGraph: true });
    loss.backward();
    expectClose(x.grad, [2, 2 * Math.E]);
    for (const t of [x, loss]) t.dispose();
  });

  it("backward refuses to read a saved tensor that adamUpdate changed in place", () => {
    const w = tensor([1, 2, 3]).requiresGrad_();
    const loss = tidy(() => w.mul(w).sum()); // mul saved w
    const g = tensor([1, 1, 1]);
    const m = tensor([0, 0, 0]);
    const v = tensor([0, 0, 0]);
    adamUpdate(w, g, m, v, { lr: 0.1, step: 1 });
    expect(() => loss.backward()).toThrow(/'mul' saved for backward was modified in place/);
    for (const t of [w, loss, g, m, v]) t.dispose();
  });

  it("disposing the results of a forward pass without backward frees the graph", () => {
    const x = randn([4, 4]).requiresGrad_();
    const before = memory().numTensors;
    const loss = tidy(() => x.exp().mul(x).sum());
    expect(memory().numTensors).toBeGreaterThan(before + 1);
    loss.dispose();
    expect(memory().numTensors).toBe(before);
    x.dispose();
  });

  it("backward needs a gradient for a non-scalar output", () => {
    const x = tensor([1, 2]).requiresGrad_();
    const y = x.mul(2);
    expect(() => y.backward()).toThrow(/pass a gradient of shape \[2\]/);
    y.backward(tensor([1, 10]));
    expectClose(x.grad, [2, 20]);
    const c = tensor([1, 2]);
    expect(() => c.backward()).toThrow(/does not require grad/);
    for (const t of [x, y, c]) t.dispose();
  });
});

describe("retainGrad and hooks", () => {
  it("retainGrad keeps a non-leaf gradient", () => {
    const x = tensor([1, 2]).requiresGrad_();
    const h = x.mul(3);
    h.retainGrad();
    const loss = h.mul(h).sum();
    loss.backward();
    expectClose(h.grad, [6, 12]); // 2h
    expectClose(x.grad, [18, 36]);
    for (const t of [x, h, loss]) t.dispose();
  });

  it("a hook sees the gradient and can replace it; remove() unregisters it", () => {
    const x = tensor([1, 2]).requiresGrad_();
    const h = x.mul(3);
    const seen: number[][] = [];
    const handle = h.registerHook((g) => {
      seen.push(values(g));
      return g.mul(10);
    });
    const loss = h.sum();
    loss.backward(null, { retainGraph: true });
    expect(seen).toEqual([[1, 1]]);
    expectClose(x.grad, [30, 30]);
    handle.remove();
    loss.backward();
    expectClose(x.grad, [33, 33]);
    for (const t of [x, h, loss]) t.dispose();
  });

  it("a hook on a leaf sees its gradient before accumulation (attention-gradient tools)", () => {
    const x = tensor([1, 2]).requiresGrad_();
    let got: number[] = [];
    x.registerHook((g) => {
      got = values(g);
    });
    const loss = tidy(() => x.mul(x).sum());
    loss.backward();
    expect(got).toEqual([2, 4]);
    for (const t of [x, loss]) t.dispose();
  });
});

describe("attention-gradient tools", () => {
  it("a hook on the softmax weights of an attention sees dL/dP = dO·vᵀ", () => {
    const q = randn([2, 4, 8]).requiresGrad_();
    const k = randn([2, 4, 8]);
    const v = randn([2, 4, 8]);
    const probe = randn([2, 4, 8]);
    let seen: Tensor | null = null;
    const loss = tidy(() => {
      const p = softmax(matmul(q, k.mT).mul(8 ** -0.5), -1);
      p.registerHook((g) => {
        seen = g.clone().keep();
      });
      return matmul(p, v).mul(probe).sum();
    });
    loss.backward();
    // dL/dO is the probe, so dL/dP = probe·vᵀ.
    const want = tidy(() => matmul(probe, v.mT));
    expectClose(seen, values(want), 1e-5);
    for (const t of [q, k, v, probe, loss, want, seen!]) t.dispose();
  });
});

describe("functional API", () => {
  it("grad(f)(x) is df/dx, argnums picks arguments, and nothing touches .grad", () => {
    const x = tensor([1, 2, 3]).requiresGrad_();
    const y = tensor([4, 5, 6]);
    const f = (a: Tensor, b: Tensor) => a.mul(a).mul(b).sum();
    const gx = grad(f)(x, y); // argnums defaults to 0: one tensor back
    expectClose(gx, [8, 20, 36]);
    const [ga, gb] = grad(f, { argnums: [0, 1] })(x, y);
    expectClose(ga!, [8, 20, 36]);
    expectClose(gb!, [1, 4, 9]);
    expect(x.grad).toBeNull();
    const { value, grad: g } = valueAndGrad(f)(x, y);
    expect(value.itemSync()).toBe(4 + 20 + 54);
    expect(value.requiresGrad).toBe(false);
    expectClose(g, [8, 20, 36]);
    for (const t of [x, y, gx, ga!, gb!, value, g]) t.dispose();
  });

  it("vjp maps an output cotangent to input gradients and can be called again", () => {
    const x = tensor([1, 2]);
    const r = vjp((a) => a.mul(a), x);
    expectClose(r.output, [1, 4]);
    const [g1] = r.vjp(tensor([1, 1]));
    expectClose(g1!, [2, 4]);
    const [g2] = r.vjp(tensor([0, 3]));
    expectClose(g2!, [0, 12]);
    r.dispose();
    for (const t of [x, r.output, g1!, g2!]) t.dispose();
  });

  it("grad refuses a function with a non-scalar result", () => {
    const x = tensor([1, 2]);
    expect(() => grad((a) => a.mul(2))(x)).toThrow(/one-element tensor, got \[2\]; use vjp/);
    x.dispose();
  });
});

describe("backends", () => {
  it("to() carries the gradient back to the source backend", () => {
    registerBackend("js-autograd-other", () => new JsBackend({ name: "js-autograd-other" }), 0);
    try {
      const x = tensor([1, 2, 3]).requiresGrad_();
      const loss = tidy(() => x.to("js-autograd-other").mul(2).sum());
      expect(loss.backendName).toBe("js-autograd-other");
      loss.backward();
      expect(x.grad!.backendName).toBe("js");
      expectClose(x.grad, [2, 2, 2]);
      for (const t of [x, loss]) t.dispose();
    } finally {
      removeBackend("js-autograd-other");
    }
  });
});

describe("views", () => {
  it("slice, select, permute, unfold and asStrided put gradients back where the elements came from", () => {
    const x = arange(0, 12, 1, { dtype: "float32" }).reshape([3, 4]).requiresGrad_();
    const loss = tidy(() =>
      x
        .slice(1, 1, 4, 2)
        .sum()
        .add(x.select(0, -1).sum())
        .add(x.transpose(0, 1).slice(0, 0, 1).sum())
        .add(x.reshape([12]).unfold(0, 3, 2).sum()),
    );
    loss.backward();
    // slice cols 1,3 → +1; last row → +1; column 0 → +1; windows of 3 step 2 over 12: index i counted
    // once, twice at 2,4,6,8.
    const want = new Array<number>(12).fill(0);
    for (let r = 0; r < 3; r++) {
      want[r * 4 + 1]! += 1;
      want[r * 4 + 3]! += 1;
      want[r * 4]! += 1;
    }
    for (let c = 0; c < 4; c++) want[8 + c]! += 1;
    for (let w = 0; w + 3 <= 12; w += 2) for (let k = 0; k < 3; k++) want[w + k]! += 1;
    expectClose(x.grad, want);
    for (const t of [x, loss]) t.dispose();
  });

  it("stepped slices and unfold of an expanded view give each viewed element its own gradient", () => {
    const x = tensor([[1, 2, 3]]).requiresGrad_();
    const e = x.expand([3, 3]);
    e.retainGrad();
    const l1 = e.slice(0, 0, 3, 2).sum();
    l1.backward();
    expect(e.grad!.arraySync()).toEqual([
      [1, 1, 1],
      [0, 0, 0],
      [1, 1, 1],
    ]);
    expect(x.grad!.arraySync()).toEqual([[2, 2, 2]]);
    const y = tensor([1, 2, 3, 4]).requiresGrad_();
    const ye = y.unsqueeze(0).expand([2, 4]);
    ye.retainGrad();
    const l2 = ye.unfold(1, 2, 1).sum();
    l2.backward();
    expect(ye.grad!.arraySync()).toEqual([
      [1, 2, 2, 1],
      [1, 2, 2, 1],
    ]);
    for (const t of [x, e, l1, y, ye, l2]) t.dispose();
  });

  it("asStrided of a transposed tensor addresses storage, so the gradient lands on the viewed storage elements", () => {
    const x = arange(0, 12, 1, { dtype: "float32" }).reshape([3, 4]).requiresGrad_();
    const t = x.transpose(0, 1); // [4,3], strides [1,4]: not row-major
    // Storage elements 4i + j for i, j < 2, i.e. x[i][j]; element (1,1) twice via overlap.
    const loss = tidy(() =>
      t
        .asStrided([2, 2], [4, 1], 0)
        .sum()
        .add(t.asStrided([1], [1], 5).sum()),
    );
    loss.backward();
    expect(x.grad!.arraySync()).toEqual([
      [1, 1, 0, 0],
      [1, 2, 0, 0],
      [0, 0, 0, 0],
    ]);
    for (const v of [x, t, loss]) v.dispose();
  });

  it("leaves gradients of an expanded zero-size tensor empty but shaped", () => {
    const x = zeros([0, 3]).requiresGrad_();
    const loss = tidy(() => x.sum());
    loss.backward();
    expect(x.grad!.shape).toEqual([0, 3]);
    for (const t of [x, loss]) t.dispose();
  });
});
