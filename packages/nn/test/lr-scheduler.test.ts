import "@tessera/backend-js";
import { zeros } from "@tessera/core";
import { describe, expect, it } from "vitest";
import {
  Adam,
  CosineAnnealingLR,
  LambdaLR,
  type LRScheduler,
  OneCycleLR,
  type OneCycleOptions,
  ReduceLROnPlateau,
  type ReduceLROnPlateauOptions,
  SGD,
  StepLR,
  WarmupCosineLR,
  type WarmupCosineOptions,
} from "../src/index.js";
import { compareClose, OPTIM_FIXTURES, type SchedulerCase } from "./support/optim-fixtures.js";

// Both sides compute in float64. Torch updates most rates recursively (lr ← lr·factor) where these
// schedulers use the closed form, so the sequences may differ by accumulated rounding: measured
// ≤ 6e-17 absolute (≤ 2e-15 relative) over 30 steps; 1e-12 relative leaves room without hiding a
// formula error.
const LR_TOL = { rtol: 1e-12, atol: 1e-15 };

/** The optimizer of the fixture: two groups (lr 0.1 and 0.02), SGD with momentum 0.9 or Adam. */
function twoGroups(kind: "sgd" | "adam") {
  const a = zeros([2]);
  const b = zeros([2]);
  const opt =
    kind === "sgd"
      ? new SGD([{ params: [a] }, { params: [b], lr: 0.02 }], { lr: 0.1, momentum: 0.9 })
      : new Adam([{ params: [a] }, { params: [b], lr: 0.02 }], { lr: 0.1, betas: [0.9, 0.999] });
  return {
    opt,
    dispose: () => {
      a.dispose();
      b.dispose();
    },
  };
}

type Opt = ReturnType<typeof twoGroups>["opt"];
type Scheduler = LRScheduler | ReduceLROnPlateau;

function build(c: SchedulerCase, opt: Opt): Scheduler {
  const cfg = c.config;
  if (c.name === "step_lr") return new StepLR(opt, cfg.stepSize as number, { gamma: cfg.gamma as number });
  if (c.name.startsWith("cosine")) {
    return new CosineAnnealingLR(opt, cfg.tMax as number, { etaMin: cfg.etaMin as number });
  }
  if (c.name === "warmup_cosine") return new WarmupCosineLR(opt, cfg as unknown as WarmupCosineOptions);
  if (c.name === "lambda") return new LambdaLR(opt, (epoch) => 0.95 ** epoch);
  if (c.name.startsWith("onecycle")) {
    const { maxLr, totalSteps, ...rest } = cfg;
    return new OneCycleLR(opt, maxLr as number | number[], totalSteps as number, rest as OneCycleOptions);
  }
  if (c.name.startsWith("plateau")) return new ReduceLROnPlateau(opt, cfg as ReduceLROnPlateauOptions);
  throw new Error(`no scheduler for fixture case ${c.name}`);
}

function momentumOf(opt: Opt): number[] {
  return opt.paramGroups.map((g) => ("betas" in g ? (g.betas as number[])[0]! : (g.momentum as number)));
}

/** Runs a case: the rates (and momenta) after construction and after every step. */
function replay(c: SchedulerCase, opt: Opt, sched: Scheduler, from = 0, to = c.lrs.length - 1) {
  const lrs: number[][] = [];
  const moms: number[][] = [];
  if (from === 0) {
    lrs.push(opt.paramGroups.map((g) => g.lr));
    moms.push(momentumOf(opt));
  }
  for (let i = from; i < to; i++) {
    if (sched instanceof ReduceLROnPlateau) sched.step(c.metrics![i]!);
    else sched.step();
    lrs.push(opt.paramGroups.map((g) => g.lr));
    moms.push(momentumOf(opt));
  }
  return { lrs, moms };
}

describe("LR schedulers match torch 1.13", () => {
  for (const c of OPTIM_FIXTURES.schedulers) {
    it(`${c.name}: the learning rates of ${c.lrs.length - 1} steps${c.momentum ? " and the momentum" : ""} equal torch's`, () => {
      const { opt, dispose } = twoGroups(c.optimizer);
      const sched = build(c, opt);
      const { lrs, moms } = replay(c, opt, sched);
      const failures = [
        compareClose("lr", lrs.flat(), c.lrs.flat(), LR_TOL),
        c.momentum ? compareClose("momentum", moms.flat(), c.momentum.flat(), LR_TOL) : "",
      ].filter((m) => m);
      expect(failures).toEqual([]);
      expect(sched.getLastLr()).toEqual(lrs.at(-1));
      dispose();
    });
  }

  it("every scheduler resumes from a JSON round trip of its stateDict and the optimizer's", () => {
    for (const c of OPTIM_FIXTURES.schedulers) {
      if (c.name === "lambda") continue; // same code path as the others; its function is not state
      const first = twoGroups(c.optimizer);
      const s1 = build(c, first.opt);
      const head = replay(c, first.opt, s1, 0, 13);
      const saved = JSON.stringify({ sched: s1.stateDict(), opt: first.opt.stateDict().meta });
      first.dispose();

      const second = twoGroups(c.optimizer);
      const s2 = build(c, second.opt);
      const { sched, opt } = JSON.parse(saved);
      second.opt.loadStateDict({ tensors: new Map(), meta: opt });
      s2.loadStateDict(sched);
      const tail = replay(c, second.opt, s2, 13);
      const whole = twoGroups(c.optimizer);
      const expected = replay(c, whole.opt, build(c, whole.opt)).lrs;
      expect({ case: c.name, lrs: [...head.lrs, ...tail.lrs] }).toEqual({ case: c.name, lrs: expected });
      second.dispose();
      whole.dispose();
    }
  });
});

describe("LR scheduler behaviour beyond torch's fixtures", () => {
  it("WarmupCosineLR starts at warmupStartFactor·lr, peaks at lr after warmup and stays at minLr after totalSteps", () => {
    const { opt, dispose } = twoGroups("sgd");
    const s = new WarmupCosineLR(opt, { warmupSteps: 4, totalSteps: 10, minLr: 0.001 });
    expect(s.getLastLr()).toEqual([0, 0]);
    for (let i = 0; i < 4; i++) s.step();
    expect(s.getLastLr()).toEqual([0.1, 0.02]);
    for (let i = 0; i < 6; i++) s.step();
    expect(s.getLastLr()[0]).toBeCloseTo(0.001, 15);
    for (let i = 0; i < 5; i++) s.step();
    expect(s.getLastLr()).toEqual([0.001, 0.001]);
    dispose();
  });

  it("OneCycleLR refuses to step past totalSteps, like torch", () => {
    const { opt, dispose } = twoGroups("sgd");
    const s = new OneCycleLR(opt, 0.5, 3);
    for (let i = 0; i < 3; i++) s.step();
    expect(() => s.step()).toThrow(/stepped 4 times, more than totalSteps \(3\)/);
    dispose();
  });

  it("a second scheduler starts from the groups' initialLr, not the rate the first one left", () => {
    const { opt, dispose } = twoGroups("sgd");
    const a = new StepLR(opt, 1, { gamma: 0.5 });
    a.step();
    expect(opt.paramGroups[0]!.lr).toBe(0.05);
    const b = new CosineAnnealingLR(opt, 10);
    expect(b.baseLrs).toEqual([0.1, 0.02]);
    dispose();
  });

  it("ReduceLROnPlateau's stateDict is JSON-safe before any metric (best = Infinity)", () => {
    const { opt, dispose } = twoGroups("sgd");
    const s = new ReduceLROnPlateau(opt);
    const sd = JSON.parse(JSON.stringify(s.stateDict()));
    expect(sd.best).toBe("Infinity");
    const t = new ReduceLROnPlateau(opt);
    t.loadStateDict(sd);
    expect(t.best).toBe(Number.POSITIVE_INFINITY);
    dispose();
  });

  it("rejects bad configurations with messages naming the argument", () => {
    const { opt, dispose } = twoGroups("sgd");
    expect(() => new StepLR(opt, 0)).toThrow(/StepLR: stepSize must be a positive integer/);
    expect(() => new ReduceLROnPlateau(opt, { factor: 1 })).toThrow(/factor must be < 1/);
    expect(() => new ReduceLROnPlateau(opt, { minLr: [0, 0, 0] })).toThrow(
      /minLr has 3 values for 2 parameter groups/,
    );
    expect(() => new OneCycleLR(opt, [1, 2, 3], 10)).toThrow(/maxLr has 3 values for 2 parameter groups/);
    expect(() => new WarmupCosineLR(opt, { warmupSteps: 10, totalSteps: 10 })).toThrow(
      /totalSteps must be an integer > warmupSteps/,
    );
    expect(() =>
      new StepLR(new Adam([zeros([1])]), 2).loadStateDict(new CosineAnnealingLR(opt, 3).stateDict()),
    ).toThrow(/written by CosineAnnealingLR/);
    dispose();
  });
});
