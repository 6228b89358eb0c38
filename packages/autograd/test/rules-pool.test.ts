import { adaptiveAvgPool2d, avgPool2d, maxPool2d, type Tensor, tensor } from "@tessera/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { expectFusedHolds, expectFusedMatchesComposite } from "./fused-vs-composite.js";
import { expectGradcheckHolds, type Input, numel, pair, useJsBackend } from "./helpers.js";

useJsBackend();

/** Distinct values at least 0.05 apart, so no window has a tie within the finite-difference step. */
const distinct = (shape: number[]) =>
  fc
    .uniqueArray(fc.integer({ min: -60, max: 60 }), { minLength: numel(shape), maxLength: numel(shape) })
    .map((v): Input => ({ shape, values: v.map((i) => i * 0.05) }));
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
  // maxPool2d takes every option but countIncludePad.
  const problem = ({ x, kernel, opts: { countIncludePad, ...opts } }: PoolSample) => ({
    f: (t: Tensor) => maxPool2d(t, kernel, opts),
    inputs: [x],
  });

  it("maxPool2d gradient matches finite differences (stride, padding, dilation, ceilMode)", () => {
    expectGradcheckHolds(poolArb(true), problem);
  });

  it("maxPool2d fused rule equals the differentiated composite", () => {
    expectFusedHolds(poolArb(true), problem, 50);
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
  // avgPool2d takes every option but dilation.
  const problem = ({ x, kernel, opts: { dilation, ...opts } }: PoolSample) => ({
    f: (t: Tensor) => avgPool2d(t, kernel, opts),
    inputs: [x],
  });

  it("avgPool2d gradient matches finite differences (stride, padding, ceilMode, countIncludePad)", () => {
    expectGradcheckHolds(poolArb(false), problem);
  });

  it("avgPool2d fused rule equals the differentiated composite", () => {
    expectFusedHolds(poolArb(false), problem, 50);
  });
});

describe("adaptiveAvgPool2d", () => {
  const adaptiveArb = fc
    .record({ shape: xShapeArb(6), out: pair(1, 4) })
    .chain((p) => distinct(p.shape).map((x) => ({ x, out: p.out })));

  const problem = (s: { x: Input; out: [number, number] }) => ({
    f: (t: Tensor) => adaptiveAvgPool2d(t, s.out),
    inputs: [s.x],
  });

  it("adaptiveAvgPool2d gradient matches finite differences (overlapping windows included)", () => {
    expectGradcheckHolds(adaptiveArb, problem);
  });

  it("adaptiveAvgPool2d fused rule equals the differentiated composite", () => {
    expectFusedHolds(adaptiveArb, problem, 50);
  });
});
