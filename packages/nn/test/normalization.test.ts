import { memory, randn, sum, tensor, tidy } from "@tessera/core";
import { describe, expect, it } from "vitest";
import { BatchNorm2d, GroupNorm } from "../src/index.js";
import { TEST_BACKENDS } from "./support/backends.js";
import { CONV_NORM_CASES, compareJson, fromJson, runJsonModuleCase } from "./support/json-module-case.js";
import { type ModuleCase, moduleCase, runModuleCase } from "./support/torch-module.js";

type Config = Record<string, unknown>;

const buildBn = (c: Config) =>
  new BatchNorm2d(c.num_features as number, {
    eps: c.eps as number | undefined,
    momentum: c.momentum as number | null | undefined,
    affine: c.affine as boolean | undefined,
    trackRunningStats: c.track_running_stats as boolean | undefined,
  });
const buildGn = (c: Config) =>
  new GroupNorm(c.num_groups as number, c.num_channels as number, {
    eps: c.eps as number | undefined,
    affine: c.affine as boolean | undefined,
  });

const batchNorm = moduleCase<BatchNorm2d>({
  build: buildBn,
  forward: (m, x) => ({ y: m.forward(x.x!) }),
  stateOutputs: {
    running_mean: "running_mean",
    running_var: "running_var",
    num_batches_tracked: "num_batches_tracked",
  },
});
const FIXTURES: Record<string, ModuleCase> = { batchnorm2d_train: batchNorm, batchnorm2d_eval: batchNorm };

describe.each(TEST_BACKENDS)("normalisation modules match PyTorch on %s", (backend) => {
  for (const [name, spec] of Object.entries(FIXTURES)) {
    it(`${name}: output, running statistics after the forward, and gradients`, () => {
      const r = runModuleCase(name, spec, backend);
      expect(r.failures).toEqual([]);
      expect(r.checked).toBe(7); // y, running_mean, running_var, num_batches_tracked, dx, dweight, dbias
    });
  }

  for (const name of ["groupnorm_affine", "groupnorm_noaffine_eps_3d"]) {
    it(`${name} (local torch reference): forward and gradients`, () => {
      const c = CONV_NORM_CASES.cases[name]!;
      const r = runJsonModuleCase(c, buildGn, (m, x) => ({ y: m.forward(x.x!) }), backend);
      expect(r.failures).toEqual([]);
      expect(r.checked).toBe(1 + Object.keys(c.grads).length);
    });
  }

  it("batchnorm2d_untracked_eval (local torch reference): without running stats eval uses batch statistics", () => {
    const c = CONV_NORM_CASES.cases.batchnorm2d_untracked_eval!;
    const r = runJsonModuleCase(c, buildBn, (m, x) => ({ y: m.forward(x.x!) }), backend);
    expect(r.failures).toEqual([]);
    expect(r.checked).toBe(4);
  });

  it("momentum null keeps the cumulative average of the batch statistics (local torch reference)", () => {
    const c = CONV_NORM_CASES.batchnorm2d_cma;
    const tol = c.tolerance.forward;
    const m = buildBn(c.config).to(backend);
    const failures: string[] = [];
    c.steps.forEach((s, i) => {
      tidy(() => {
        failures.push(...compareJson(`step ${i} y`, m.forward(fromJson(s.x, backend)), s.y, tol));
      });
      failures.push(...compareJson(`step ${i} running_mean`, m.runningMean, s.running_mean, tol));
      failures.push(...compareJson(`step ${i} running_var`, m.runningVar, s.running_var, tol));
      expect(m.numBatchesTracked!.itemSync()).toBe(s.num_batches_tracked);
    });
    m.eval();
    tidy(() =>
      failures.push(...compareJson("eval y", m.forward(fromJson(c.eval.x, backend)), c.eval.y, tol)),
    );
    expect(failures).toEqual([]);
    m.dispose();
  });

  it("eval mode leaves the running statistics untouched", () => {
    const m = new BatchNorm2d(3).to(backend).eval();
    tidy(() => m.forward(randn([4, 3, 2, 2], { backend })));
    expect(m.runningMean!.arraySync()).toEqual([0, 0, 0]);
    expect(m.runningVar!.arraySync()).toEqual([1, 1, 1]);
    expect(m.numBatchesTracked!.itemSync()).toBe(0);
    m.dispose();
  });

  it("forward + backward leaves the live tensor count flat (train and eval)", () => {
    const mods = [new BatchNorm2d(3), new BatchNorm2d(3, { momentum: null }), new GroupNorm(3, 6)];
    for (const m of mods) m.to(backend);
    const before = memory().numTensors;
    for (const training of [true, false, true]) {
      for (const m of mods) m.train(training);
      tidy(() => {
        const x = randn([2, 6, 3, 4], { backend });
        x.requiresGrad = true;
        const a = x.narrow(1, 0, 3);
        sum(mods[0]!.forward(a).add(mods[1]!.forward(a)))
          .add(sum(mods[2]!.forward(x)))
          .backward();
        x.grad = null;
      });
      for (const m of mods) m.zeroGrad();
    }
    expect(memory().numTensors).toBe(before);
    for (const m of mods) m.dispose();
  });
});

describe("BatchNorm2d", () => {
  it("registers PyTorch's keys with weight 1, bias 0, running mean 0, running var 1, int32 counter 0", () => {
    const m = new BatchNorm2d(4);
    expect([...m.stateDict().keys()]).toEqual([
      "weight",
      "bias",
      "running_mean",
      "running_var",
      "num_batches_tracked",
    ]);
    expect(m.weight!.arraySync()).toEqual([1, 1, 1, 1]);
    expect(m.bias!.arraySync()).toEqual([0, 0, 0, 0]);
    expect(m.numBatchesTracked!.dtype).toBe("int32");
    expect(m.numBatchesTracked!.shape).toEqual([]);
    expect([...m.parameters()]).toHaveLength(2);
    m.dispose();
    const bare = new BatchNorm2d(4, { affine: false, trackRunningStats: false });
    expect([...bare.stateDict().keys()]).toEqual([]);
    bare.dispose();
  });

  it("training updates running_var with the unbiased variance and counts batches", () => {
    const m = new BatchNorm2d(1, { momentum: 0.5 });
    const x = tensor([1, 2, 3, 6], { shape: [2, 1, 1, 2] }); // mean 3, biased var 3.5, unbiased 14/3
    const y = m.forward(x);
    expect(m.runningMean!.dataSync()[0]).toBeCloseTo(1.5, 6);
    expect(m.runningVar!.dataSync()[0]).toBeCloseTo(0.5 + 0.5 * (14 / 3), 5);
    expect(m.numBatchesTracked!.itemSync()).toBe(1);
    const expected = [1, 2, 3, 6].map((v) => (v - 3) / Math.sqrt(3.5 + 1e-5));
    const got = Array.from(y.dataSync() as Float32Array);
    for (let i = 0; i < 4; i++) expect(got[i]).toBeCloseTo(expected[i]!, 5);
    expect(m.runningMean!.requiresGrad).toBe(false);
    x.dispose();
    y.dispose();
    m.dispose();
  });

  it("prints like PyTorch", () => {
    const a = new BatchNorm2d(5);
    expect(String(a)).toBe("BatchNorm2d(5, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");
    const b = new BatchNorm2d(5, { momentum: null, eps: 1e-3, affine: false });
    expect(String(b)).toBe(
      "BatchNorm2d(5, eps=0.001, momentum=None, affine=False, track_running_stats=True)",
    );
    a.dispose();
    b.dispose();
  });

  it("rejects bad sizes and inputs with messages naming them", () => {
    expect(() => new BatchNorm2d(0)).toThrow(/BatchNorm2d: numFeatures must be a positive integer, got 0/);
    const m = new BatchNorm2d(3);
    const x3 = randn([3, 4, 4]);
    expect(() => m.forward(x3)).toThrow(
      /BatchNorm2d: expected 4D input \[N,C,H,W\] \(got 3D input \[3,4,4\]\)/,
    );
    const x = randn([2, 4, 3, 3]);
    expect(() => m.forward(x)).toThrow(/expected 3 channels \(numFeatures\), got input \[2,4,3,3\]/);
    const one = randn([1, 3, 1, 1]);
    expect(() => m.forward(one)).toThrow(
      /expected more than 1 value per channel when training, got input \[1,3,1,1\]/,
    );
    m.eval();
    const y = m.forward(one); // fine with running statistics
    for (const t of [x3, x, one, y]) t.dispose();
    m.dispose();
  });
});

describe("GroupNorm", () => {
  it("has keys weight and bias (1 and 0) and prints like PyTorch", () => {
    const m = new GroupNorm(2, 4);
    expect([...m.stateDict().keys()]).toEqual(["weight", "bias"]);
    expect(m.weight!.arraySync()).toEqual([1, 1, 1, 1]);
    expect(String(m)).toBe("GroupNorm(2, 4, eps=1e-05, affine=True)");
    m.dispose();
  });

  it("each group of each sample has mean 0 and variance 1 before the affine", () => {
    const m = new GroupNorm(2, 4, { affine: false });
    const [means, vars] = tidy(() => {
      const y = m.forward(randn([3, 4, 5]).mul(4).add(7)).reshape([3, 2, 10]);
      return [y.mean(2).dataSync(), y.var(2, { correction: 0 }).dataSync()];
    });
    expect(means).toHaveLength(6);
    for (const v of means) expect(Math.abs(v)).toBeLessThan(1e-5);
    for (const v of vars) expect(v).toBeCloseTo(1, 3);
    m.dispose();
  });

  it("rejects bad groups and inputs with messages naming them", () => {
    expect(() => new GroupNorm(3, 4)).toThrow(/GroupNorm: numChannels 4 must be divisible by numGroups 3/);
    expect(() => new GroupNorm(0, 4)).toThrow(/numGroups must be a positive integer, got 0/);
    const m = new GroupNorm(2, 4);
    const x = randn([2, 6, 3]);
    expect(() => m.forward(x)).toThrow(/GroupNorm: expected input \[N, 4, \*\], got \[2,6,3\]/);
    x.dispose();
    m.dispose();
  });
});
