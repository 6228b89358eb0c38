import { type InterpolateOptions, interpolate, type Tensor, tensor } from "@tessera/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { expectFusedHolds } from "./fused-vs-composite.js";
import { expectGradcheckHolds, floats, type Input, pair, useJsBackend } from "./helpers.js";

useJsBackend();

/** Up- and downsampling by size or scaleFactor (2× included, PyTorch's shortcut), both modes. */
const sampleArb = fc
  .record({
    n: fc.integer({ min: 1, max: 2 }),
    c: fc.integer({ min: 1, max: 2 }),
    hw: pair(1, 4),
    bySize: fc.boolean(),
    size: pair(1, 7),
    scale: fc.tuple(fc.constantFrom(0.5, 0.75, 1, 1.5, 2, 2.5), fc.constantFrom(0.5, 1, 1.7, 2, 3)),
    mode: fc.constantFrom("nearest" as const, "bilinear" as const),
    alignCorners: fc.boolean(),
  })
  .chain((p) => {
    // A scale factor must leave at least one output row and column.
    const hw = p.hw.map((s, i) => (p.bySize ? s : Math.max(s, Math.ceil(1 / p.scale[i]!))));
    const opts: InterpolateOptions = {
      mode: p.mode,
      ...(p.bySize ? { size: p.size } : { scaleFactor: p.scale }),
      ...(p.mode === "bilinear" ? { alignCorners: p.alignCorners } : {}),
    };
    return floats([p.n, p.c, hw[0]!, hw[1]!]).map((x) => ({ x, opts }));
  });

describe("interpolate", () => {
  const problem = (s: { x: Input; opts: InterpolateOptions }) => ({
    f: (t: Tensor) => interpolate(t, s.opts),
    inputs: [s.x],
  });

  it("interpolate gradient matches finite differences (nearest, bilinear, alignCorners, size, scaleFactor)", () => {
    expectGradcheckHolds(sampleArb, problem);
  });

  it("interpolate fused rule equals the differentiated composite", () => {
    expectFusedHolds(sampleArb, problem, 50);
  });

  it("nearest upsampling by 2 sums each 2×2 block of the gradient into its source pixel", () => {
    const x = tensor([1, 2, 3, 4], { shape: [1, 1, 2, 2], dtype: "float64" });
    x.requiresGrad = true;
    const g = tensor(
      Array.from({ length: 16 }, (_, i) => i),
      { shape: [1, 1, 4, 4], dtype: "float64" },
    );
    interpolate(x, { scaleFactor: 2 }).backward(g);
    // Block sums of [[0..3],[4..7],[8..11],[12..15]].
    expect(Array.from(x.grad!.dataSync())).toEqual([
      0 + 1 + 4 + 5,
      2 + 3 + 6 + 7,
      8 + 9 + 12 + 13,
      10 + 11 + 14 + 15,
    ]);
  });
});
