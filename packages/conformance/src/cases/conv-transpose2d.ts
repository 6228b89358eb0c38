/**
 * Fused `convTranspose2d` (or core's composite): stride, padding (including crops past the kernel),
 * outputPadding below stride or dilation, dilation, groups, optional bias. Compared by NMSE.
 */
import * as fc from "fast-check";
import { dimArb, tensorArb } from "../arbitraries.js";
import { ops } from "../ops.js";
import { tolerance } from "../tolerances.js";
import type { ConformanceCase, HostTensor } from "../types.js";
import { FLOATS } from "./common.js";
import { CONV_VALUES } from "./conv2d.js";

interface Attrs {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  outputPadding: [number, number];
  groups: number;
}

const pair = (lo: number, hi: number) =>
  fc.tuple(fc.integer({ min: lo, max: hi }), fc.integer({ min: lo, max: hi }));

export const cases: ConformanceCase[] = FLOATS.map(
  (dtype): ConformanceCase<Attrs> => ({
    name: `convTranspose2d[${dtype}]`,
    kernel: "convTranspose2d",
    dtype,
    ops: ["convTranspose2d"],
    arbitrary: fc
      .record({
        n: fc.constantFrom(0, 1, 1, 2),
        groups: fc.constantFrom(1, 1, 2),
        cg: dimArb(1, 3),
        og: dimArb(1, 3),
        k: pair(1, 4),
        stride: pair(1, 3),
        padding: pair(0, 2),
        dilation: pair(1, 2),
        op: pair(0, 2),
        hw: pair(1, 5),
        bias: fc.boolean(),
      })
      .chain((p) => {
        const outputPadding = p.op.map((o, i) => Math.min(o, Math.max(p.stride[i]!, p.dilation[i]!) - 1)) as [
          number,
          number,
        ];
        // Grow the input until the output has at least one row and column.
        const hw = p.hw.map((s, i) => {
          const extra = p.dilation[i]! * (p.k[i]! - 1) + outputPadding[i]! + 1 - 2 * p.padding[i]!;
          return Math.max(s, extra >= 1 ? 1 : Math.ceil((1 - extra) / p.stride[i]!) + 1);
        });
        const c = p.cg * p.groups;
        return fc
          .tuple(
            tensorArb(dtype, [p.n, c, hw[0]!, hw[1]!], CONV_VALUES),
            tensorArb(dtype, [c, p.og, p.k[0], p.k[1]], CONV_VALUES),
            ...(p.bias ? [tensorArb(dtype, [p.og * p.groups], CONV_VALUES)] : []),
          )
          .map((inputs: HostTensor[]) => ({
            inputs,
            attrs: {
              stride: p.stride,
              padding: p.padding,
              dilation: p.dilation,
              outputPadding,
              groups: p.groups,
            },
          }));
      }),
    run: ([x, w, b], a) => ops.convTranspose2d!(x, w, b ?? null, a),
    tolerance: tolerance(dtype, "nmse"),
  }),
);
