/**
 * Gradient cases of maxPool2d, avgPool2d and adaptiveAvgPool2d. maxPool2d inputs are pairwise distinct
 * (no tie within a window, so finite differences see one maximum); the tie convention — the first
 * maximum, like torch — is unit-tested in packages/autograd/test/rules-pool.test.ts.
 */
import {
  type AvgPool2dOptions,
  adaptiveAvgPool2d,
  avgPool2d,
  type MaxPool2dOptions,
  maxPool2d,
} from "@tessera/core";
import * as fc from "fast-check";
import type { GradCase, GradInput } from "../types.js";
import { distinctInputs, floatIn } from "./elementwise.js";

const int = (min: number, max: number) => fc.integer({ min, max });
const pair = (min: number, max: number) => fc.tuple(int(min, max), int(min, max));

/** x [N,C,H,W] (or unbatched) with H, W drawn from `hw`; batch, then channels, drop to 1 above 40 elements. */
const xShape = (hw: [number, number], unbatched = false) =>
  fc.record({ n: int(1, 2), c: int(1, 2), hw: pair(hw[0], hw[1]) }).map(({ n, c, hw: [h, w] }) => {
    const n1 = unbatched || n * c * h * w > 40 ? 1 : n;
    const c1 = n1 * c * h * w > 40 ? 1 : c;
    return unbatched ? [c1, h, w] : [n1, c1, h, w];
  });

interface PoolAttrs<O> {
  kernel: [number, number];
  opts: O;
}

function poolCase<O>(
  op: "maxPool2d" | "avgPool2d",
  variant: string,
  geometry: fc.Arbitrary<{ shape: number[]; attrs: PoolAttrs<O> }>,
): GradCase<PoolAttrs<O>> {
  const values = (shape: number[]): fc.Arbitrary<GradInput[]> =>
    op === "maxPool2d" ? distinctInputs([shape]) : floatIn(shape).map((x) => [x]);
  return {
    name: `grad.${op}${variant ? `.${variant}` : ""}`,
    ops: [op],
    fused: op,
    arbitrary: geometry.chain(({ shape, attrs }) => values(shape).map((inputs) => ({ inputs, attrs }))),
    run: ([x], { kernel, opts }) =>
      op === "maxPool2d"
        ? maxPool2d(x!, kernel, opts as MaxPool2dOptions)
        : avgPool2d(x!, kernel, opts as AvgPool2dOptions),
  };
}

const fixed = <O>(shape: fc.Arbitrary<number[]>, kernel: [number, number], opts: O) =>
  shape.map((s) => ({ shape: s, attrs: { kernel, opts } }));

export const POOL_GRAD_CASES: GradCase[] = [
  poolCase<MaxPool2dOptions>("maxPool2d", "", fixed(xShape([2, 5]), [2, 2], {})),
  poolCase<MaxPool2dOptions>(
    "maxPool2d",
    "stride-padding",
    fixed(xShape([3, 5]), [3, 2], { stride: [2, 1], padding: [1, 1] }),
  ),
  poolCase<MaxPool2dOptions>(
    "maxPool2d",
    "dilation",
    fixed(xShape([3, 5]), [2, 2], { dilation: 2, stride: 1 }),
  ),
  poolCase<MaxPool2dOptions>(
    "maxPool2d",
    "ceilMode",
    fixed(xShape([3, 6]), [2, 3], { stride: 2, padding: [1, 0], ceilMode: true }),
  ),
  poolCase<MaxPool2dOptions>("maxPool2d", "unbatched", fixed(xShape([2, 4], true), [2, 2], { stride: 1 })),
  poolCase<AvgPool2dOptions>("avgPool2d", "", fixed(xShape([2, 5]), [2, 2], {})),
  poolCase<AvgPool2dOptions>(
    "avgPool2d",
    "stride-padding",
    fixed(xShape([3, 5]), [3, 2], { stride: [2, 1], padding: [1, 1] }),
  ),
  poolCase<AvgPool2dOptions>(
    "avgPool2d",
    "countIncludePad-false",
    fixed(xShape([3, 5]), [3, 3], { stride: 2, padding: 1, countIncludePad: false }),
  ),
  poolCase<AvgPool2dOptions>(
    "avgPool2d",
    "ceilMode",
    fixed(xShape([3, 6]), [2, 3], { stride: 2, padding: [1, 0], ceilMode: true }),
  ),
  {
    // Output sizes that do not divide the input: windows overlap and differ in length.
    name: "grad.adaptiveAvgPool2d",
    ops: ["adaptiveAvgPool2d"],
    fused: "adaptiveAvgPool2d",
    arbitrary: fc
      .record({ shape: xShape([1, 6]), out: pair(1, 4) })
      .chain(({ shape, out }) => floatIn(shape).map((x) => ({ inputs: [x], attrs: out }))),
    run: ([x], out: [number, number]) => adaptiveAvgPool2d(x!, out),
  },
  {
    name: "grad.adaptiveAvgPool2d.global",
    ops: ["adaptiveAvgPool2d"],
    fused: "adaptiveAvgPool2d",
    arbitrary: xShape([1, 5], true).chain((shape) => floatIn(shape).map((x) => ({ inputs: [x], attrs: 1 }))),
    run: ([x], out: number) => adaptiveAvgPool2d(x!, out),
  },
];
