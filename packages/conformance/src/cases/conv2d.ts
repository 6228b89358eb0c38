/**
 * Fused `conv2d` (or core's composite): groups, stride, padding, dilation, rectangular kernels,
 * optional bias, batched and unbatched inputs, non-contiguous inputs. Compared by NMSE: the output is a
 * field of dot products whose accumulation order is the backend's business.
 */
import * as fc from "fast-check";
import { type Domain, dimArb, tensorArb } from "../arbitraries.js";
import { ops } from "../ops.js";
import { tolerance } from "../tolerances.js";
import type { ConformanceCase, HostTensor } from "../types.js";
import { FLOATS } from "./common.js";

export const CONV_VALUES: Domain = { min: -4, max: 4 };

interface Attrs {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
}

const pair = (lo: number, hi: number) =>
  fc.tuple(fc.integer({ min: lo, max: hi }), fc.integer({ min: lo, max: hi }));

export const cases: ConformanceCase[] = FLOATS.map(
  (dtype): ConformanceCase<Attrs> => ({
    name: `conv2d[${dtype}]`,
    kernel: "conv2d",
    dtype,
    ops: ["conv2d"],
    arbitrary: fc
      .record({
        n: fc.constantFrom(0, 1, 1, 2),
        unbatched: fc.boolean(),
        groups: fc.constantFrom(1, 1, 2, 3),
        cg: dimArb(1, 3),
        og: dimArb(1, 3),
        k: pair(1, 3),
        stride: pair(1, 3),
        padding: pair(0, 2),
        dilation: pair(1, 2),
        hw: pair(1, 7),
        bias: fc.boolean(),
      })
      .chain((p) => {
        // Grow the input until at least one output position exists.
        const hw = p.hw.map((s, i) => Math.max(s, p.dilation[i]! * (p.k[i]! - 1) + 1 - 2 * p.padding[i]!, 1));
        const c = p.cg * p.groups;
        const o = p.og * p.groups;
        const xShape = p.unbatched && p.n === 1 ? [c, hw[0]!, hw[1]!] : [p.n, c, hw[0]!, hw[1]!];
        return fc
          .tuple(
            tensorArb(dtype, xShape, CONV_VALUES),
            tensorArb(dtype, [o, p.cg, p.k[0], p.k[1]], CONV_VALUES),
            ...(p.bias ? [tensorArb(dtype, [o], CONV_VALUES)] : []),
          )
          .map((inputs: HostTensor[]) => ({
            inputs,
            attrs: { stride: p.stride, padding: p.padding, dilation: p.dilation, groups: p.groups },
          }));
      }),
    run: ([x, w, b], a) => ops.conv2d!(x, w, b ?? null, a),
    tolerance: tolerance(dtype, "nmse"),
  }),
);
