/**
 * Gradient cases of interpolate: legacy nearest and bilinear (alignCorners both ways), by size and by
 * scaleFactor, up- and downsampling (2× included: PyTorch's nearest shortcut). Resampling is linear in x,
 * so any values do.
 */
import { type InterpolateOptions, interpolate } from "@tessera/core";
import * as fc from "fast-check";
import type { GradCase } from "../types.js";
import { floatIn } from "./elementwise.js";

const int = (min: number, max: number) => fc.integer({ min, max });
const pair = (min: number, max: number) => fc.tuple(int(min, max), int(min, max));

function interpolateCase(
  variant: string,
  geometry: fc.Arbitrary<{ hw: [number, number]; opts: InterpolateOptions }>,
): GradCase<InterpolateOptions> {
  return {
    name: `grad.interpolate.${variant}`,
    ops: ["interpolate"],
    fused: "interpolate",
    arbitrary: fc
      .record({ n: int(1, 2), c: int(1, 2), g: geometry })
      .chain(({ n, c, g }) => floatIn([n, c, ...g.hw]).map((x) => ({ inputs: [x], attrs: g.opts }))),
    run: ([x], opts) => interpolate(x!, opts),
  };
}

const bySize = (mode: "nearest" | "bilinear", alignCorners?: boolean) =>
  fc.record({ hw: pair(1, 4), size: pair(1, 7) }).map(({ hw, size }) => ({
    hw,
    opts: { mode, size, ...(alignCorners === undefined ? {} : { alignCorners }) } as InterpolateOptions,
  }));

export const INTERPOLATE_GRAD_CASES: GradCase[] = [
  interpolateCase("nearest", bySize("nearest")),
  interpolateCase(
    "nearest.scaleFactor",
    fc
      .record({
        hw: pair(2, 4),
        scaleFactor: fc.tuple(fc.constantFrom(0.5, 1.5, 2, 2.5), fc.constantFrom(0.75, 2, 3)),
      })
      .map(({ hw, scaleFactor }) => ({ hw, opts: { mode: "nearest", scaleFactor } as InterpolateOptions })),
  ),
  interpolateCase("bilinear", bySize("bilinear")),
  interpolateCase("bilinear.alignCorners", bySize("bilinear", true)),
  interpolateCase(
    "bilinear.scaleFactor",
    fc
      .record({
        hw: pair(2, 4),
        scaleFactor: fc.tuple(fc.constantFrom(0.5, 1.5, 2), fc.constantFrom(0.75, 2.5)),
      })
      .map(({ hw, scaleFactor }) => ({ hw, opts: { mode: "bilinear", scaleFactor } as InterpolateOptions })),
  ),
];
