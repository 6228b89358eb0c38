/** Shared sample builder of the pooling cases: [N,C,H,W] (or [C,H,W]) inputs and valid window attributes. */
import type { DType } from "@tessera/core";
import * as fc from "fast-check";
import { type Domain, tensorArb } from "../arbitraries.js";
import type { Sample } from "../types.js";

export interface PoolParams {
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  ceilMode: boolean;
  countIncludePad: boolean;
}

const pair = (lo: number, hi: number) =>
  fc.tuple(fc.integer({ min: lo, max: hi }), fc.integer({ min: lo, max: hi }));

export function poolSample(
  dtype: DType,
  domain: Domain,
  dilation: boolean,
): fc.Arbitrary<Sample<PoolParams>> {
  return fc
    .record({
      n: fc.constantFrom(0, 1, 1, 2),
      c: fc.integer({ min: 1, max: 3 }),
      unbatched: fc.boolean(),
      kernel: pair(1, 3),
      stride: pair(1, 3),
      pad: pair(0, 1),
      dilation: dilation ? pair(1, 2) : fc.constant<[number, number]>([1, 1]),
      hw: pair(1, 7),
      ceilMode: fc.boolean(),
      countIncludePad: fc.boolean(),
    })
    .chain((p) => {
      // PyTorch: padding at most half the kernel; the input plus padding must hold one dilated window.
      const padding = p.pad.map((q, i) => Math.min(q, Math.floor(p.kernel[i]! / 2))) as [number, number];
      const hw = p.hw.map((s, i) =>
        Math.max(s, p.dilation[i]! * (p.kernel[i]! - 1) + 1 - 2 * padding[i]!, 1),
      );
      const shape = p.unbatched && p.n === 1 ? [p.c, hw[0]!, hw[1]!] : [p.n, p.c, hw[0]!, hw[1]!];
      return tensorArb(dtype, shape, domain).map((x) => ({
        inputs: [x],
        attrs: {
          kernel: p.kernel,
          stride: p.stride,
          padding,
          dilation: p.dilation,
          ceilMode: p.ceilMode,
          countIncludePad: p.countIncludePad,
        },
      }));
    });
}
