/**
 * Gradient cases of conv2d and convTranspose2d: input, weight and bias gradients, one case per
 * attribute that changes the backward's geometry (stride with padding, groups, dilation, outputPadding,
 * unbatched input). Shapes stay small (gradcheck perturbs every element twice).
 */
import { type Conv2dOptions, type ConvTranspose2dOptions, conv2d, convTranspose2d } from "@tessera/core";
import * as fc from "fast-check";
import type { GradCase, GradInput } from "../types.js";
import { floatIn } from "./elementwise.js";

interface Geometry {
  n: number | null; // null: unbatched [C,H,W]
  c: number;
  o: number;
  k: [number, number];
  hw: [number, number];
  bias: boolean;
}

type ConvOpts = Conv2dOptions & ConvTranspose2dOptions;

const int = (min: number, max: number) => fc.integer({ min, max });
const pair = (min: number, max: number) => fc.tuple(int(min, max), int(min, max));

/** x, weight (conv2d: [O, C/g, kh, kw]; transposed: [C, O/g, kh, kw]) and bias [O] of a geometry. */
function operands(op: "conv2d" | "convTranspose2d", g: Geometry, groups: number): fc.Arbitrary<GradInput[]> {
  const x = g.n === null ? [g.c, ...g.hw] : [g.n, g.c, ...g.hw];
  const w = op === "conv2d" ? [g.o, g.c / groups, ...g.k] : [g.c, g.o / groups, ...g.k];
  return fc.tuple(floatIn(x), floatIn(w), ...(g.bias ? [floatIn([g.o])] : []));
}

function convCase(
  op: "conv2d" | "convTranspose2d",
  variant: string,
  geometry: fc.Arbitrary<{ g: Geometry; opts: ConvOpts }>,
): GradCase<ConvOpts> {
  return {
    name: `grad.${op}${variant ? `.${variant}` : ""}`,
    ops: [op],
    fused: op,
    arbitrary: geometry.chain(({ g, opts }) =>
      operands(op, g, opts.groups ?? 1).map((inputs) => ({ inputs, attrs: opts })),
    ),
    run: ([x, w, b], opts) => (op === "conv2d" ? conv2d : convTranspose2d)(x!, w!, b ?? null, opts),
  };
}

const basic = (hw: [number, number], k: [number, number]) =>
  fc.record({
    n: int(1, 2) as fc.Arbitrary<number | null>,
    c: int(1, 2),
    o: int(1, 2),
    k: pair(k[0], k[1]),
    hw: pair(hw[0], hw[1]),
    bias: fc.boolean(),
  });

export const CONV_GRAD_CASES: GradCase[] = [
  convCase(
    "conv2d",
    "",
    basic([3, 4], [1, 3]).map((g) => ({ g, opts: {} })),
  ),
  convCase(
    "conv2d",
    "stride-padding",
    fc
      .record({ g: basic([3, 5], [2, 3]), stride: pair(2, 3), padding: pair(0, 2) })
      .map(({ g, stride, padding }) => ({ g, opts: { stride, padding } })),
  ),
  convCase(
    "conv2d",
    "groups",
    fc
      .record({ groups: fc.constantFrom(2, 3), cg: int(1, 1), og: int(1, 2), hw: pair(3, 4), k: pair(1, 2) })
      .map(({ groups, cg, og, hw, k }) => ({
        g: { n: 1, c: cg * groups, o: og * groups, k, hw, bias: true },
        opts: { groups, padding: 1 },
      })),
  ),
  convCase(
    "conv2d",
    "dilation",
    fc
      .record({ g: basic([5, 5], [2, 3]), dilation: pair(1, 2), padding: pair(0, 1) })
      .map(({ g, dilation, padding }) => ({
        g,
        opts: { dilation, padding, stride: [1, 2] as [number, number] },
      })),
  ),
  convCase(
    "conv2d",
    "unbatched",
    basic([3, 4], [1, 3]).map((g) => ({ g: { ...g, n: null }, opts: { padding: 1 } })),
  ),
  convCase(
    "convTranspose2d",
    "",
    basic([2, 3], [1, 3]).map((g) => ({ g, opts: {} })),
  ),
  convCase(
    "convTranspose2d",
    "stride-padding",
    fc
      .record({ g: basic([2, 3], [2, 3]), stride: pair(2, 3), padding: pair(0, 1) })
      .map(({ g, stride, padding }) => ({ g, opts: { stride, padding } })),
  ),
  convCase(
    "convTranspose2d",
    "outputPadding",
    fc
      .record({ g: basic([2, 3], [2, 3]), outputPadding: pair(0, 1) })
      .map(({ g, outputPadding }) => ({ g, opts: { stride: 2, padding: 1, outputPadding } })),
  ),
  convCase(
    "convTranspose2d",
    "groups-dilation",
    fc
      .record({ og: int(1, 2), hw: pair(2, 3), k: pair(2, 2), dilation: pair(1, 2) })
      .map(({ og, hw, k, dilation }) => ({
        g: { n: null, c: 2, o: og * 2, k, hw, bias: true },
        // outputPadding 1 is allowed where stride or dilation exceeds it.
        opts: {
          groups: 2,
          dilation,
          stride: [1, 2] as [number, number],
          outputPadding: [dilation[0] - 1, 1] as [number, number],
        },
      })),
  ),
];
