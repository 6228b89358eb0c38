import { conv2d, convTranspose2d, type Tensor, tensor } from "@tessera/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { expectFusedHolds } from "./fused-vs-composite.js";
import { expectGradcheckHolds, floats, type Input, pair, useJsBackend } from "./helpers.js";

useJsBackend();

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

interface Geometry {
  n: number;
  unbatched: boolean;
  groups: number;
  cg: number;
  og: number;
  k: [number, number];
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  hw: [number, number];
  bias: boolean;
}

/**
 * Geometry shared by conv2d and convTranspose2d problems. `extra` is drawn between `hw` and `bias`:
 * the draw order fixes which samples a seed gives.
 */
const geometryArb = <E extends object>(
  maxPad: number,
  maxHW: number,
  extra: { [K in keyof E]: fc.Arbitrary<E[K]> },
) =>
  fc.record({
    n: fc.integer({ min: 1, max: 2 }),
    unbatched: fc.boolean(),
    groups: fc.constantFrom(1, 1, 2),
    cg: fc.integer({ min: 1, max: 2 }),
    og: fc.integer({ min: 1, max: 2 }),
    k: pair(1, 3),
    stride: pair(1, 3),
    padding: pair(0, maxPad),
    dilation: pair(1, 2),
    hw: pair(1, maxHW),
    ...extra,
    bias: fc.boolean(),
  }) as fc.Arbitrary<Geometry & E>;

/** x [N?,C,H,W] with C = cg·groups, weight `wShape`, bias [og·groups] when drawn. */
function sampleArb(p: Geometry, hw: number[], wShape: number[], opts: Sample["opts"]): fc.Arbitrary<Sample> {
  const c = p.cg * p.groups;
  const xShape = p.unbatched && p.n === 1 ? [c, hw[0]!, hw[1]!] : [p.n, c, hw[0]!, hw[1]!];
  return fc.record({
    x: floats(xShape),
    w: floats(wShape),
    b: p.bias ? floats([p.og * p.groups]) : fc.constant(null),
    opts: fc.constant(opts),
  });
}

/** Small conv2d problems: groups, stride, padding, dilation, rectangular kernels, bias, unbatched inputs. */
const conv2dArb: fc.Arbitrary<Sample> = geometryArb(2, 5, {}).chain((p) => {
  const hw = p.hw.map((s, i) => Math.max(s, p.dilation[i]! * (p.k[i]! - 1) + 1 - 2 * p.padding[i]!, 1));
  const { stride, padding, dilation, groups } = p;
  return sampleArb(p, hw, [p.og * groups, p.cg, p.k[0], p.k[1]], { stride, padding, dilation, groups });
});

/** Small convTranspose2d problems, outputPadding included (below the stride or the dilation). */
const convTransposeArb: fc.Arbitrary<Sample> = geometryArb(1, 4, { opRaw: pair(0, 2) }).chain((p) => {
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
  const { stride, padding, dilation, groups } = p;
  return sampleArb(p, hw, [p.cg * groups, p.og, p.k[0], p.k[1]], {
    stride,
    padding,
    dilation,
    groups,
    outputPadding,
  });
});

for (const [name, op, arb] of [
  ["conv2d", conv2d, conv2dArb],
  ["convTranspose2d", convTranspose2d, convTransposeArb],
] as const) {
  describe(name, () => {
    const problem = (s: Sample) => ({
      f: (x: Tensor, w: Tensor, b?: Tensor) => op(x, w, b ?? null, s.opts),
      inputs: s.b ? [s.x, s.w, s.b] : [s.x, s.w],
    });

    it(`${name} gradients for input, weight and bias match finite differences`, () => {
      expectGradcheckHolds(arb, problem);
    });

    it(`${name} fused rule equals the differentiated composite`, () => {
      expectFusedHolds(arb, problem, 50);
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
