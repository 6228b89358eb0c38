import "@tessera/backend-js";
import { adaptiveAvgPool2d, avgPool2d, maxPool2d, setBackend, type Tensor, tensor } from "@tessera/core";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { gradcheck } from "../src/index.js";
import { expectFusedMatchesComposite, type Input } from "./fused-vs-composite.js";

beforeAll(() => setBackend("js"));

const RUNS = { numRuns: 100, seed: 42 };
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
/** Distinct values at least 0.05 apart, so no window has a tie within the finite-difference step. */
const distinct = (shape: number[]) =>
  fc
    .uniqueArray(fc.integer({ min: -60, max: 60 }), { minLength: numel(shape), maxLength: numel(shape) })
    .map((v): Input => ({ shape, values: v.map((i) => i * 0.05) }));
const f64 = (i: Input) => tensor(i.values, { shape: i.shape, dtype: "float64" });
const pair = (lo: number, hi: number) =>
  fc.tuple(fc.integer({ min: lo, max: hi }), fc.integer({ min: lo, max: hi }));
const xShapeArb = (maxHW: number) =>
  fc
    .record({ n: fc.integer({ min: 0, max: 2 }), c: fc.integer({ min: 1, max: 2 }), hw: pair(1, maxHW) })
    .map((p) => (p.n === 0 ? [p.c, ...p.hw] : [p.n, p.c, ...p.hw]));

interface PoolSample {
  x: Input;
  kernel: [number, number];
  opts: {
    stride: [number, number];
    padding: [number, number];
    dilation: [number, number];
    ceilMode: boolean;
    countIncludePad: boolean;
  };
}

/** Pool geometry that yields at least one output (padding at most half the kernel, as core requires). */
const poolArb = (withDilation: boolean): fc.Arbitrary<PoolSample> =>
  fc
    .record({
      k: pair(1, 3),
      stride: pair(1, 3),
      padRaw: pair(0, 1),
      dilation: withDilation ? pair(1, 2) : fc.constant<[number, number]>([1, 1]),
      ceilMode: fc.boolean(),
      countIncludePad: fc.boolean(),
      shape: xShapeArb(5),
    })
    .chain((p) => {
      const padding = p.padRaw.map((v, i) => Math.min(v, Math.floor(p.k[i]! / 2))) as [number, number];
      const r = p.shape.length;
      const shape = [...p.shape];
      for (const i of [0, 1]) {
        // With dilation, a window of taps could fall entirely in the padding (an -inf output): the
        // input spans at least one window, so every window holds an input element.
        const span = p.dilation[i]! * (p.k[i]! - 1) + 1;
        const need = p.dilation[i]! > 1 ? span : span - 2 * padding[i]!;
        shape[r - 2 + i] = Math.max(shape[r - 2 + i]!, need);
      }
      return distinct(shape).map((x) => ({
        x,
        kernel: p.k,
        opts: {
          stride: p.stride,
          padding,
          dilation: p.dilation,
          ceilMode: p.ceilMode,
          countIncludePad: p.countIncludePad,
        },
      }));
    });

describe("maxPool2d", () => {
  const run = (s: PoolSample) => (x: Tensor) =>
    maxPool2d(x, s.kernel, {
      stride: s.opts.stride,
      padding: s.opts.padding,
      dilation: s.opts.dilation,
      ceilMode: s.opts.ceilMode,
    });

  it("maxPool2d gradient matches finite differences (stride, padding, dilation, ceilMode)", () => {
    fc.assert(
      fc.property(poolArb(true), (s) => {
        gradcheck(run(s), [f64(s.x)]);
      }),
      RUNS,
    );
  });

  it("maxPool2d fused rule equals the differentiated composite", () => {
    fc.assert(
      fc.property(poolArb(true), (s) => expectFusedMatchesComposite(run(s), [s.x])),
      { ...RUNS, numRuns: 50 },
    );
  });

  it("maxPool2d sends a tied window's gradient to its first maximum, like torch", () => {
    // Window 1 is all ones; window 2 has ones at (0,2), (0,3) and (1,3).
    const x = tensor([1, 1, 1, 1, 1, 1, 0, 1], { shape: [1, 1, 2, 4], dtype: "float64" });
    x.requiresGrad = true;
    maxPool2d(x, 2).sum().backward();
    expect(Array.from(x.grad!.dataSync())).toEqual([1, 0, 1, 0, 0, 0, 0, 0]);
  });

  it("maxPool2d composite also sends a tied window's gradient to its first maximum", () => {
    // Overlapping windows (stride 1) over many ties: the composite must pick the same taps as the rule.
    const values = [1, 1, 2, 2, 1, 1, 2, 2, 0, 1, 1, 0, 3, 3, 3, 3];
    expectFusedMatchesComposite(
      (t) => maxPool2d(t, 2, { stride: 1, padding: 1 }),
      [{ shape: [1, 1, 4, 4], values }],
    );
  });
});

describe("avgPool2d", () => {
  const run = (s: PoolSample) => (x: Tensor) =>
    avgPool2d(x, s.kernel, {
      stride: s.opts.stride,
      padding: s.opts.padding,
      ceilMode: s.opts.ceilMode,
      countIncludePad: s.opts.countIncludePad,
    });

  it("avgPool2d gradient matches finite differences (stride, padding, ceilMode, countIncludePad)", () => {
    fc.assert(
      fc.property(poolArb(false), (s) => {
        gradcheck(run(s), [f64(s.x)]);
      }),
      RUNS,
    );
  });

  it("avgPool2d fused rule equals the differentiated composite", () => {
    fc.assert(
      fc.property(poolArb(false), (s) => expectFusedMatchesComposite(run(s), [s.x])),
      { ...RUNS, numRuns: 50 },
    );
  });
});

describe("adaptiveAvgPool2d", () => {
  const adaptiveArb = fc
    .record({ shape: xShapeArb(6), out: pair(1, 4) })
    .chain((p) => distinct(p.shape).map((x) => ({ x, out: p.out })));

  it("adaptiveAvgPool2d gradient matches finite differences (overlapping windows included)", () => {
    fc.assert(
      fc.property(adaptiveArb, (s) => {
        gradcheck((x) => adaptiveAvgPool2d(x, s.out), [f64(s.x)]);
      }),
      RUNS,
    );
  });

  it("adaptiveAvgPool2d fused rule equals the differentiated composite", () => {
    fc.assert(
      fc.property(adaptiveArb, (s) => expectFusedMatchesComposite((x) => adaptiveAvgPool2d(x, s.out), [s.x])),
      { ...RUNS, numRuns: 50 },
    );
  });
});
