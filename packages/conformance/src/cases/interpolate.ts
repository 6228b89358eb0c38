/**
 * Fused `interpolate` (or core's composite): nearest (a selection: exact) and bilinear with and without
 * alignCorners (a two-tap blend: reduction tolerance), by output size or scale factor, up and down.
 */
import type { DType } from "@tessera/core";
import * as fc from "fast-check";
import { ANY, MODERATE, tensorArb } from "../arbitraries.js";
import { ops } from "../ops.js";
import { tolerance } from "../tolerances.js";
import type { ConformanceCase, Sample } from "../types.js";
import { FLOATS } from "./common.js";

interface Attrs {
  size?: [number, number];
  scaleFactor?: [number, number];
  alignCorners: boolean;
}

function sample(dtype: DType, bilinear: boolean): fc.Arbitrary<Sample<Attrs>> {
  return fc
    .record({
      n: fc.constantFrom(0, 1, 2),
      c: fc.integer({ min: 1, max: 2 }),
      h: fc.integer({ min: 1, max: 6 }),
      w: fc.integer({ min: 1, max: 6 }),
      bySize: fc.boolean(),
      size: fc.tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 9 })),
      scale: fc.tuple(fc.constantFrom(0.5, 1, 1.5, 2, 3), fc.constantFrom(0.5, 1, 1.5, 2, 3)),
      alignCorners: bilinear ? fc.boolean() : fc.constant(false),
    })
    .filter((p) => p.bySize || (Math.floor(p.h * p.scale[0]) >= 1 && Math.floor(p.w * p.scale[1]) >= 1))
    .chain((p) =>
      tensorArb(dtype, [p.n, p.c, p.h, p.w], bilinear ? { ...MODERATE, specials: true } : ANY).map((x) => ({
        inputs: [x],
        attrs: p.bySize
          ? { size: p.size, alignCorners: p.alignCorners }
          : { scaleFactor: p.scale, alignCorners: p.alignCorners },
      })),
    );
}

export const cases: ConformanceCase[] = FLOATS.flatMap((dtype): ConformanceCase<Attrs>[] => [
  {
    name: `interpolate.nearest[${dtype}]`,
    kernel: "interpolate",
    dtype,
    ops: ["interpolate"],
    arbitrary: sample(dtype, false),
    run: ([x], a) => ops.interpolate!(x, { ...a, alignCorners: undefined, mode: "nearest" }),
    tolerance: "exact",
  },
  {
    name: `interpolate.bilinear[${dtype}]`,
    kernel: "interpolate",
    dtype,
    ops: ["interpolate"],
    arbitrary: sample(dtype, true),
    run: ([x], a) => ops.interpolate!(x, { ...a, mode: "bilinear" }),
    tolerance: tolerance(dtype, "reduction"),
  },
]);
