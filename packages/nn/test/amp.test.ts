/**
 * Mixed precision end to end: autocast's casts are differentiable (float32 parameters get float32
 * gradients), a small MLP trains under bfloat16 and under float16 with a GradScaler, and the scaler
 * follows PyTorch's rules (skip and back off on inf/NaN, grow after growthInterval clean steps).
 */
import {
  autocast,
  crossEntropy,
  manualSeed,
  memory,
  randn,
  setBackend,
  tensor,
  tidy,
  zeros,
} from "@tessera/core";
import { describe, expect, it } from "vitest";
import { AdamW, GradScaler, LayerNorm, Linear, ReLU, Sequential, SGD } from "../src/index.js";
import { TEST_BACKENDS } from "./support/backends.js";

function mlp(): Sequential {
  return new Sequential(new Linear(8, 32), new LayerNorm(32), new ReLU(), new Linear(32, 4));
}

/** 64 points in 4 classes, separable by the sign of two coordinates. */
function toyData(): { x: ReturnType<typeof randn>; y: ReturnType<typeof tensor> } {
  return tidy(() => {
    const x = randn([64, 8]).keep();
    const xs = x.dataSync();
    const labels = new Int32Array(64);
    for (let i = 0; i < 64; i++) labels[i] = (xs[i * 8]! > 0 ? 1 : 0) + (xs[i * 8 + 1]! > 0 ? 2 : 0);
    return { x, y: tensor(labels, { dtype: "int32" }).keep() };
  });
}

describe.each(TEST_BACKENDS)("mixed precision on %s", (backend) => {
  it("gradients reach float32 parameters as float32 through autocast's casts", () => {
    setBackend(backend);
    manualSeed(0);
    const net = mlp();
    const { x, y } = toyData();
    tidy(() => {
      const logits = autocast({ dtype: "bfloat16" }, () => net.forward(x));
      expect(logits.dtype).toBe("bfloat16");
      const loss = autocast({ dtype: "bfloat16" }, () => crossEntropy(logits, y));
      expect(loss.dtype).toBe("float32");
      loss.backward();
    });
    for (const [name, p] of net.namedParameters()) {
      expect(p.dtype, name).toBe("float32");
      expect(p.grad?.dtype, name).toBe("float32");
      expect(p.grad!.abs().sum().itemSync(), name).toBeGreaterThan(0);
    }
    x.dispose();
    y.dispose();
  });

  it("an MLP trains under autocast bfloat16 and leaks no tensors", () => {
    setBackend(backend);
    manualSeed(1);
    const net = mlp();
    const { x, y } = toyData();
    const opt = new AdamW(net.parameters(), { lr: 1e-2, weightDecay: 0 });
    const losses: number[] = [];
    let tensorsAfterFirst = 0;
    for (let s = 0; s < 40; s++) {
      losses.push(
        tidy(() => {
          const loss = autocast({ dtype: "bfloat16" }, () => crossEntropy(net.forward(x), y));
          loss.backward();
          opt.step();
          opt.zeroGrad();
          return loss.itemSync() as number;
        }),
      );
      if (s === 0) tensorsAfterFirst = memory().numTensors;
    }
    expect(memory().numTensors).toBe(tensorsAfterFirst);
    expect(losses[39]!).toBeLessThan(losses[0]! * 0.5);
    x.dispose();
    y.dispose();
  });

  it("an MLP trains under autocast float16 with a GradScaler", () => {
    setBackend(backend);
    manualSeed(2);
    const net = mlp();
    const { x, y } = toyData();
    const opt = new AdamW(net.parameters(), { lr: 1e-2, weightDecay: 0 });
    const scaler = new GradScaler({ growthInterval: 10 });
    const losses: number[] = [];
    for (let s = 0; s < 40; s++) {
      losses.push(
        tidy(() => {
          const loss = autocast({ dtype: "float16" }, () => crossEntropy(net.forward(x), y));
          scaler.scale(loss).backward();
          scaler.step(opt);
          scaler.update();
          opt.zeroGrad();
          return loss.itemSync() as number;
        }),
      );
    }
    expect(losses[39]!).toBeLessThan(losses[0]! * 0.5);
    expect(scaler.getScale()).toBeGreaterThan(2 ** 16);
    x.dispose();
    y.dispose();
  });
});

describe("GradScaler", () => {
  /** One parameter with gradient `g` (already scaled) and an SGD over it. */
  function setup(initScale = 4) {
    setBackend("js");
    const p = zeros([3]);
    p.requiresGrad = true;
    const opt = new SGD([p], { lr: 1 });
    const scaler = new GradScaler({ initScale, growthInterval: 3 });
    const giveGrad = (g: number[]) => {
      p.grad = tensor(g);
    };
    return { p, opt, scaler, giveGrad };
  }

  it("scale multiplies the loss; step unscales before the optimizer step", () => {
    const { p, opt, scaler, giveGrad } = setup(4);
    expect(tidy(() => scaler.scale(tensor(1.5)).itemSync())).toBe(6);
    giveGrad([4, 8, -4]);
    expect(scaler.step(opt)).toBe(true);
    expect([...p.dataSync()]).toEqual([-1, -2, 1]);
    scaler.update();
  });

  it("skips the step when a gradient is inf or NaN and backs off the scale", () => {
    for (const bad of [Number.POSITIVE_INFINITY, Number.NaN]) {
      const { p, opt, scaler, giveGrad } = setup(8);
      giveGrad([1, bad, 1]);
      expect(scaler.step(opt)).toBe(false);
      expect([...p.dataSync()]).toEqual([0, 0, 0]);
      scaler.update();
      expect(scaler.getScale()).toBe(4);
      expect(scaler.stateDict()._growth_tracker).toBe(0);
    }
  });

  it("grows the scale after growthInterval clean steps", () => {
    const { opt, scaler, giveGrad } = setup(8);
    for (let i = 0; i < 2; i++) {
      giveGrad([1, 1, 1]);
      scaler.step(opt);
      scaler.update();
      expect(scaler.getScale()).toBe(8);
    }
    giveGrad([1, 1, 1]);
    scaler.step(opt);
    scaler.update();
    expect(scaler.getScale()).toBe(16);
    expect(scaler.stateDict()._growth_tracker).toBe(0);
  });

  it("unscales once: unscale_ before clipping, then step uses the unscaled gradients", () => {
    const { p, opt, scaler, giveGrad } = setup(2);
    giveGrad([2, 2, 2]);
    scaler.unscale_(opt);
    expect([...p.grad!.dataSync()]).toEqual([1, 1, 1]);
    expect(() => scaler.unscale_(opt)).toThrow(/already called on this optimizer/);
    expect(scaler.step(opt)).toBe(true);
    expect([...p.dataSync()]).toEqual([-1, -1, -1]);
    expect(() => scaler.step(opt)).toThrow(/already called on this optimizer since the last update/);
    scaler.update();
  });

  it("update without a step is an error; stateDict round-trips with PyTorch's keys", () => {
    const { scaler } = setup(32);
    expect(() => scaler.update()).toThrow(/no inf\/NaN checks were recorded/);
    const other = new GradScaler();
    other.loadStateDict({
      scale: 32,
      growth_factor: 2,
      backoff_factor: 0.5,
      growth_interval: 3,
      _growth_tracker: 2,
    });
    expect(other.stateDict()).toEqual({
      scale: 32,
      growth_factor: 2,
      backoff_factor: 0.5,
      growth_interval: 3,
      _growth_tracker: 2,
    });
  });

  it("disabled, it passes through", () => {
    const { p, opt, giveGrad } = setup();
    const off = new GradScaler({ enabled: false });
    const loss = tensor(3);
    expect(off.scale(loss)).toBe(loss);
    giveGrad([1, 1, 1]);
    expect(off.step(opt)).toBe(true);
    expect([...p.dataSync()]).toEqual([-1, -1, -1]);
    off.update();
    expect(off.getScale()).toBe(1);
    expect(off.stateDict()).toEqual({});
  });

  it("rejects bad options with the name of the option", () => {
    expect(() => new GradScaler({ backoffFactor: 2 })).toThrow(/backoffFactor must be in \(0, 1\), got 2/);
    expect(() => new GradScaler({ growthInterval: 0 })).toThrow(/growthInterval must be a positive integer/);
  });
});
