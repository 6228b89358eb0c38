import "@tessera/backend-js";
import { type InterpolateOptions, interpolate, setBackend, tensor } from "@tessera/core";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { gradcheck } from "../src/index.js";
import { expectFusedMatchesComposite, type Input } from "./fused-vs-composite.js";

beforeAll(() => setBackend("js"));

const RUNS = { numRuns: 100, seed: 42 };
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const withValues = (shape: number[]) =>
  fc
    .array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: numel(shape), maxLength: numel(shape) })
    .map((values): Input => ({ shape, values }));
const f64 = (i: Input) => tensor(i.values, { shape: i.shape, dtype: "float64" });
const pair = (lo: number, hi: number) =>
  fc.tuple(fc.integer({ min: lo, max: hi }), fc.integer({ min: lo, max: hi }));

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
    return withValues([p.n, p.c, hw[0]!, hw[1]!]).map((x) => ({ x, opts }));
  });

describe("interpolate", () => {
  it("interpolate gradient matches finite differences (nearest, bilinear, alignCorners, size, scaleFactor)", () => {
    fc.assert(
      fc.property(sampleArb, (s) => {
        gradcheck((x) => interpolate(x, s.opts), [f64(s.x)]);
      }),
      RUNS,
    );
  });

  it("interpolate fused rule equals the differentiated composite", () => {
    fc.assert(
      fc.property(sampleArb, (s) => expectFusedMatchesComposite((x) => interpolate(x, s.opts), [s.x])),
      { ...RUNS, numRuns: 50 },
    );
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
