import "@tessera/backend-js";
import { conv2d, convTranspose2d, setBackend, type Tensor, tensor } from "@tessera/core";
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

interface Sample {
  x: Input;
  w: Input;
  b: Input | null;
  opts: {
    stride: [number, number];
    padding: [number, number];
    dilation: [number, number];
    groups: number;
    outputPadding?: [number, number];
  };
}

/** Small conv2d problems: groups, stride, padding, dilation, rectangular kernels, bias, unbatched inputs. */
const conv2dArb: fc.Arbitrary<Sample> = fc
  .record({
    n: fc.integer({ min: 1, max: 2 }),
    unbatched: fc.boolean(),
    groups: fc.constantFrom(1, 1, 2),
    cg: fc.integer({ min: 1, max: 2 }),
    og: fc.integer({ min: 1, max: 2 }),
    k: pair(1, 3),
    stride: pair(1, 3),
    padding: pair(0, 2),
    dilation: pair(1, 2),
    hw: pair(1, 5),
    bias: fc.boolean(),
  })
  .chain((p) => {
    const hw = p.hw.map((s, i) => Math.max(s, p.dilation[i]! * (p.k[i]! - 1) + 1 - 2 * p.padding[i]!, 1));
    const c = p.cg * p.groups;
    const o = p.og * p.groups;
    const xShape = p.unbatched && p.n === 1 ? [c, hw[0]!, hw[1]!] : [p.n, c, hw[0]!, hw[1]!];
    return fc.record({
      x: withValues(xShape),
      w: withValues([o, p.cg, p.k[0], p.k[1]]),
      b: p.bias ? withValues([o]) : fc.constant(null),
      opts: fc.constant({ stride: p.stride, padding: p.padding, dilation: p.dilation, groups: p.groups }),
    });
  });

/** Small convTranspose2d problems, outputPadding included (below the stride or the dilation). */
const convTransposeArb: fc.Arbitrary<Sample> = fc
  .record({
    n: fc.integer({ min: 1, max: 2 }),
    unbatched: fc.boolean(),
    groups: fc.constantFrom(1, 1, 2),
    cg: fc.integer({ min: 1, max: 2 }),
    og: fc.integer({ min: 1, max: 2 }),
    k: pair(1, 3),
    stride: pair(1, 3),
    padding: pair(0, 1),
    dilation: pair(1, 2),
    hw: pair(1, 4),
    opRaw: pair(0, 2),
    bias: fc.boolean(),
  })
  .chain((p) => {
    const outputPadding = p.opRaw.map((o, i) => Math.min(o, Math.max(p.stride[i]!, p.dilation[i]!) - 1)) as [
      number,
      number,
    ];
    // Grow the input until the output is non-empty.
    const hw = p.hw.map((s, i) => {
      let h = s;
      while (
        (h - 1) * p.stride[i]! - 2 * p.padding[i]! + p.dilation[i]! * (p.k[i]! - 1) + outputPadding[i]! + 1 <
        1
      )
        h++;
      return h;
    });
    const c = p.cg * p.groups;
    const xShape = p.unbatched && p.n === 1 ? [c, hw[0]!, hw[1]!] : [p.n, c, hw[0]!, hw[1]!];
    return fc.record({
      x: withValues(xShape),
      w: withValues([c, p.og, p.k[0], p.k[1]]),
      b: p.bias ? withValues([p.og * p.groups]) : fc.constant(null),
      opts: fc.constant({
        stride: p.stride,
        padding: p.padding,
        dilation: p.dilation,
        groups: p.groups,
        outputPadding,
      }),
    });
  });

const inputsOf = (s: Sample): Input[] => (s.b ? [s.x, s.w, s.b] : [s.x, s.w]);

for (const [name, op, arb] of [
  ["conv2d", conv2d, conv2dArb],
  ["convTranspose2d", convTranspose2d, convTransposeArb],
] as const) {
  describe(name, () => {
    const run = (s: Sample) => (x: Tensor, w: Tensor, b?: Tensor) => op(x, w, b ?? null, s.opts);

    it(`${name} gradients for input, weight and bias match finite differences`, () => {
      fc.assert(
        fc.property(arb, (s) => {
          gradcheck(run(s), inputsOf(s).map(f64));
        }),
        RUNS,
      );
    });

    it(`${name} fused rule equals the differentiated composite`, () => {
      fc.assert(
        fc.property(arb, (s) => expectFusedMatchesComposite(run(s), inputsOf(s))),
        { ...RUNS, numRuns: 50 },
      );
    });
  });
}

describe("conv2d through the engine", () => {
  it("conv2d input gradient has the input's shape when the stride skips trailing rows", () => {
    // H=6, k=2, stride 3: the last row is never read; its gradient is zero.
    const x = tensor(
      Array.from({ length: 36 }, (_, i) => i / 10),
      { shape: [1, 1, 6, 6], dtype: "float64" },
    );
    const w = tensor([1, 2, 3, 4], { shape: [1, 1, 2, 2], dtype: "float64" });
    x.requiresGrad = true;
    conv2d(x, w, null, { stride: 3 }).sum().backward();
    const g = x.grad!;
    expect(g.shape).toEqual([1, 1, 6, 6]);
    const d = Array.from(g.dataSync() as Float64Array);
    const rows = [0, 1, 2, 3, 4, 5].map((r) => d.slice(6 * r, 6 * r + 6));
    expect(rows[2]).toEqual([0, 0, 0, 0, 0, 0]);
    expect(rows[5]).toEqual([0, 0, 0, 0, 0, 0]);
    expect(rows[0]).toEqual([1, 2, 0, 1, 2, 0]);
  });
});
