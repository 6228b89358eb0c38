import { beforeAll, describe, expect, it } from "vitest";
import "@tessera/backend-js";
import {
  adamUpdate,
  gelu,
  linear,
  manualSeed,
  memory,
  mseLoss,
  randn,
  setBackend,
  tidy,
  zerosLike,
} from "@tessera/core";
import { noGrad } from "../src/index.js";

beforeAll(() => {
  setBackend("js");
});

describe("training-loop memory", () => {
  it("1,000 steps of forward + backward + Adam update keep the live tensor count and bytes flat", () => {
    manualSeed(7);
    const x = randn([16, 8]);
    const y = randn([16, 1]);
    const params = [randn([32, 8]).mul(0.3), randn([32]).mul(0.1), randn([1, 32]).mul(0.3), randn([1])];
    for (const p of params) p.requiresGrad = true;
    const moments = params.map((p) => [zerosLike(p), zerosLike(p)] as const);
    const [w1, b1, w2, b2] = params as [typeof x, typeof x, typeof x, typeof x];

    const step = (i: number) => {
      const loss = tidy(() => mseLoss(linear(gelu(linear(x, w1, b1)), w2, b2), y));
      loss.backward();
      noGrad(() => {
        params.forEach((p, k) => {
          adamUpdate(p, p.grad!, moments[k]![0], moments[k]![1], { lr: 1e-2, step: i + 1 });
          p.grad = null;
        });
      });
      const value = loss.itemSync();
      loss.dispose();
      return value;
    };

    const first = step(0);
    const start = memory();
    let last = first;
    for (let i = 1; i < 1000; i++) {
      last = step(i);
      if (i % 250 === 0) {
        expect(memory().numTensors, `step ${i}`).toBe(start.numTensors);
        expect(memory().numBytes, `step ${i}`).toBe(start.numBytes);
      }
    }
    expect(memory().numTensors).toBe(start.numTensors);
    expect(memory().numBytes).toBe(start.numBytes);
    // The loop really trains: the loss goes down.
    expect(last).toBeLessThan(first * 0.5);
    for (const t of [x, y, ...params, ...moments.flat()]) t.dispose();
  });
});
