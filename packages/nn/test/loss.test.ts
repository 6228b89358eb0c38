import { gradcheck } from "@tessera/autograd";
import {
  crossEntropy,
  exp,
  Generator,
  gt,
  memory,
  mul,
  rand,
  randn,
  sum,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from "@tessera/core";
import { describe, expect, it } from "vitest";
import {
  BCEWithLogitsLoss,
  CrossEntropyLoss,
  KLNormalLoss,
  klNormal,
  L1Loss,
  type Module,
  MSELoss,
  ScaleInvariantLogLoss,
  SmoothL1Loss,
  scaleInvariantLogLoss,
} from "../src/index.js";
import { TEST_BACKENDS } from "./support/backends.js";
import { type JsonTensor, loadJsonFixture, mismatch, type Tolerance } from "./support/json-cases.js";

interface LossJsonCase {
  name: string;
  module: string;
  options: Record<string, unknown>;
  inputs: Record<string, JsonTensor & { dtype: "float32" | "int32" | "bool" }>;
  probe: JsonTensor;
  output: JsonTensor;
  grads: Record<string, JsonTensor>;
  tolerance: { forward: Tolerance; grad: Tolerance };
}
const CASES = loadJsonFixture<{ cases: LossJsonCase[] }>("loss-cases.json").cases;

function toTensor(t: LossJsonCase["inputs"][string], backend: string): Tensor {
  if (t.dtype === "float32") return tensor(Float32Array.from(t.data), { shape: t.shape, backend });
  const ints = tensor(Int32Array.from(t.data), { shape: t.shape, dtype: "int32", backend });
  if (t.dtype === "int32") return ints;
  const b = ints.cast("bool");
  ints.dispose();
  return b;
}

/** Builds the module a case names, with its tensor options (weights) from the case inputs. */
function build(c: LossJsonCase, x: Record<string, Tensor>): { m: Module; run: (m: Module) => Tensor } {
  const o = c.options as Record<string, never>;
  const pair = (m: Module) => m.forward(x.input, x.target) as Tensor;
  switch (c.module) {
    case "CrossEntropyLoss":
      return { m: new CrossEntropyLoss({ ...o, weight: x.weight }), run: pair };
    case "MSELoss":
      return { m: new MSELoss(o), run: pair };
    case "L1Loss":
      return { m: new L1Loss(o), run: pair };
    case "SmoothL1Loss":
      return { m: new SmoothL1Loss(o), run: pair };
    case "BCEWithLogitsLoss":
      return { m: new BCEWithLogitsLoss({ ...o, weight: x.weight, posWeight: x.posWeight }), run: pair };
    case "KLNormalLoss":
      return { m: new KLNormalLoss(o), run: (m) => m.forward(x.mu, x.logvar) as Tensor };
    case "ScaleInvariantLogLoss":
      return { m: new ScaleInvariantLogLoss(o), run: (m) => m.forward(x.pred, x.target, x.mask) as Tensor };
    default:
      throw new Error(`unknown loss module ${c.module}`);
  }
}

function runCase(c: LossJsonCase, backend: string): string[] {
  const failures: string[] = [];
  const before = memory().numTensors;
  tidy(() => {
    const x: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(c.inputs)) x[k] = toTensor(v, backend);
    for (const k of Object.keys(c.grads)) x[k]!.requiresGrad_();
    const { m, run } = build(c, x);
    try {
      const out = run(m);
      failures.push(mismatch("output", out, c.output, c.tolerance.forward) ?? "");
      sum(mul(out, toTensor({ ...c.probe, dtype: "float32" }, backend))).backward();
      for (const [k, g] of Object.entries(c.grads)) {
        failures.push(mismatch(`grad.${k}`, x[k]!.grad, g, c.tolerance.grad) ?? "");
        x[k]!.grad = null;
      }
    } finally {
      m.dispose();
    }
  });
  const after = memory().numTensors;
  if (after !== before) failures.push(`live tensors went from ${before} to ${after}`);
  return failures.filter((f) => f !== "");
}

describe.each(TEST_BACKENDS)("PyTorch parity on %s", (backend) => {
  for (const c of CASES) {
    it(`${c.name}: ${c.module}(${JSON.stringify(c.options)}) and its input gradients match local torch`, () => {
      expect(runCase(c, backend)).toEqual([]);
    });
  }
});

describe("loss modules", () => {
  it("the cases cover every module and every reduction", () => {
    const seen = new Set(CASES.map((c) => `${c.module}:${(c.options.reduction as string) ?? "mean"}`));
    for (const m of [
      "CrossEntropyLoss",
      "MSELoss",
      "L1Loss",
      "SmoothL1Loss",
      "BCEWithLogitsLoss",
      "KLNormalLoss",
      "ScaleInvariantLogLoss",
    ]) {
      for (const r of ["none", "mean", "sum"]) expect(seen.has(`${m}:${r}`), `${m} ${r}`).toBe(true);
    }
  });

  it("weights are buffers under PyTorch's keys, copied from the tensor passed in", () => {
    const w = tensor([1, 2, 3]);
    const ce = new CrossEntropyLoss({ weight: w });
    const bce = new BCEWithLogitsLoss({ weight: tensor([[1], [2]]), posWeight: tensor([0.5, 2, 4]) });
    expect([...ce.stateDict().keys()]).toEqual(["weight"]);
    expect([...bce.stateDict().keys()]).toEqual(["weight", "pos_weight"]);
    expect([...new CrossEntropyLoss().stateDict().keys()]).toEqual([]);
    w.dispose();
    expect([...ce.weight!.dataSync()]).toEqual([1, 2, 3]);
    expect(ce.toString()).toBe("CrossEntropyLoss()");
    ce.dispose();
    bce.dispose();
  });

  it("cross entropy with every target ignored gives NaN under 'mean', like PyTorch", () => {
    tidy(() => {
      const ce = new CrossEntropyLoss({ ignoreIndex: 1 });
      const loss = ce.forward(randn([3, 4]), tensor(new Int32Array([1, 1, 1]), { dtype: "int32" }));
      expect(Number.isNaN(loss.itemSync())).toBe(true);
    });
  });

  it("klNormal is 0 at the prior and its gradients match finite differences", () => {
    tidy(() => {
      expect(klNormal(zeros([4, 3]), zeros([4, 3])).itemSync()).toBe(0);
      const g = new Generator(3);
      for (const reduction of ["none", "mean", "sum"] as const) {
        const r = gradcheck(
          (mu, lv) => klNormal(mu!, lv!, { reduction }),
          [randn([3, 5], { generator: g }), randn([3, 5], { generator: g })],
        );
        expect(r.ok, reduction).toBe(true);
      }
    });
  });

  it("scale-invariant log loss ignores a global scale of the prediction when lambda = 1", () => {
    tidy(() => {
      const g = new Generator(4);
      const target = exp(randn([2, 1, 5, 6], { generator: g }));
      const pred = exp(randn([2, 1, 5, 6], { generator: g }));
      const a = scaleInvariantLogLoss(pred, target, { lambda: 1, eps: 0, reduction: "none" });
      const b = scaleInvariantLogLoss(mul(pred, 7.5), target, { lambda: 1, eps: 0, reduction: "none" });
      const [x, y] = [a.dataSync(), b.dataSync()];
      for (let i = 0; i < x.length; i++) expect(Math.abs(Number(x[i]) - Number(y[i]))).toBeLessThan(1e-5);
      // λ = 0 is the mean squared log error, which is mean(d)² above the λ = 1 value per image.
      const msle = scaleInvariantLogLoss(pred, target, { lambda: 0, eps: 0, reduction: "none" }).dataSync();
      for (let i = 0; i < x.length; i++) expect(Number(msle[i])).toBeGreaterThan(Number(x[i]));
    });
  });

  it("scale-invariant log loss gradients match finite differences, masked pixels with zero depth included", () => {
    tidy(() => {
      const g = new Generator(5);
      const mask = gt(rand([2, 1, 3, 4], { generator: g }), 0.3);
      const pred = exp(randn([2, 1, 3, 4], { generator: g }));
      const target = mul(exp(randn([2, 1, 3, 4], { generator: g })), mask.cast("float32"));
      for (const reduction of ["none", "mean", "sum"] as const) {
        const r = gradcheck(
          (p, t) => scaleInvariantLogLoss(p!, t!, { mask: mask.to(p!.backendName), reduction }),
          [pred, target],
        );
        expect(r.ok, reduction).toBe(true);
      }
      // The zero-depth holes stay out of the value and the gradient (no log(0) leaks through).
      const p = pred.detach().requiresGrad_();
      scaleInvariantLogLoss(p, target, { mask }).backward();
      expect([...p.grad!.dataSync()].every(Number.isFinite)).toBe(true);
    });
  });

  it("a batch where no pixel is valid gives 0, not NaN", () => {
    tidy(() => {
      const pred = rand([2, 3, 3]);
      const none = zeros([2, 3, 3], { dtype: "bool" });
      expect(scaleInvariantLogLoss(pred, zeros([2, 3, 3]), { mask: none }).itemSync()).toBe(0);
    });
  });

  it("prints its settings", () => {
    const m = new ScaleInvariantLogLoss();
    expect(m.toString()).toBe("ScaleInvariantLogLoss(lambda=0.5, eps=1e-06)");
  });

  it("errors name the bad reduction, option or shapes", () => {
    for (const make of [
      () => new CrossEntropyLoss({ reduction: "avg" as never }),
      () => new MSELoss({ reduction: "avg" as never }),
      () => new L1Loss({ reduction: "avg" as never }),
      () => new SmoothL1Loss({ reduction: "avg" as never }),
      () => new BCEWithLogitsLoss({ reduction: "avg" as never }),
      () => new KLNormalLoss({ reduction: "avg" as never }),
      () => new ScaleInvariantLogLoss({ reduction: "avg" as never }),
    ]) {
      expect(make).toThrow(/^\w+Loss: reduction must be 'none', 'mean' or 'sum', got "avg"$/);
    }
    expect(() => new CrossEntropyLoss({ labelSmoothing: 1.5 })).toThrow(
      "CrossEntropyLoss: labelSmoothing must be in [0, 1], got 1.5",
    );
    expect(() => new SmoothL1Loss({ beta: -1 })).toThrow("SmoothL1Loss: beta must be >= 0, got -1");
    tidy(() => {
      expect(() => new CrossEntropyLoss({ weight: zeros([2, 3]) })).toThrow(
        "CrossEntropyLoss: weight must be [C] (one per class), got [2, 3]",
      );
      expect(() => new CrossEntropyLoss().forward(zeros([4, 3]), zeros([5], { dtype: "int32" }))).toThrow(
        "crossEntropy: target [5] must be logits [4,3] without the class dim 1, i.e. [4]",
      );
      expect(() => new MSELoss().forward(zeros([4, 3]), zeros([3]))).toThrow(
        /mseLoss: target float32 \[3\] must match input float32 \[4,3\]/,
      );
      expect(() => klNormal(zeros([4, 3]), zeros([4, 2]))).toThrow(
        "klNormal: mu and logvar must have the same shape with a latent last dim, got mu [4, 3] and logvar [4, 2]",
      );
      expect(() => klNormal(zeros([4, 3]), zeros([4, 3]), { reduction: "batchmean" as never })).toThrow(
        `klNormal: reduction must be 'none', 'mean' or 'sum', got "batchmean"`,
      );
      expect(() => scaleInvariantLogLoss(zeros([5]), zeros([5]))).toThrow(
        "scaleInvariantLogLoss: pred and target must have the same shape [B, …] (rank >= 2, dim 0 the batch), got pred [5] and target [5]",
      );
      expect(() => scaleInvariantLogLoss(zeros([2, 5]), zeros([2, 5]), { mask: zeros([2, 5]) })).toThrow(
        "scaleInvariantLogLoss: mask must be bool [2, 5] like pred, got float32 [2, 5]",
      );
      expect(() => scaleInvariantLogLoss(zeros([2, 1, 5]), zeros([2, 5]))).toThrow(
        "got pred [2, 1, 5] and target [2, 5]",
      );
    });
  });

  it("module and function agree (CrossEntropyLoss is F.cross_entropy with the stored options)", () => {
    tidy(() => {
      const logits = randn([6, 4]);
      const t = tensor(new Int32Array([0, 3, -100, 2, 1, 3]), { dtype: "int32" });
      const w = tensor([0.5, 1, 2, 1.5]);
      const a = new CrossEntropyLoss({ weight: w, labelSmoothing: 0.1 });
      expect(a.forward(logits, t).itemSync()).toBe(
        crossEntropy(logits, t, { weight: w, labelSmoothing: 0.1 }).itemSync(),
      );
      a.dispose();
    });
  });
});
