/** Fused `gelu` (or core's composite), exact erf form and tanh approximation, over the whole float line. */
import * as fc from "fast-check";
import type { Domain } from "../arbitraries.js";
import { ops } from "../ops.js";
import { tolerance } from "../tolerances.js";
import type { ConformanceCase } from "../types.js";
import { FLOATS, oneTensor } from "./common.js";

const VALUES: Domain = { min: -12, max: 12, specials: true, tiny: true, huge: true };

export const cases: ConformanceCase[] = FLOATS.map(
  (dtype): ConformanceCase<{ approximate: "none" | "tanh" }> => ({
    name: `gelu[${dtype}]`,
    kernel: "gelu",
    dtype,
    ops: ["gelu"],
    arbitrary: oneTensor(dtype, VALUES, {}, () =>
      fc.record({ approximate: fc.constantFrom("none" as const, "tanh" as const) }),
    ),
    run: ([x], a) => ops.gelu!(x, { approximate: a.approximate }),
    tolerance: tolerance(dtype, "transcendental"),
  }),
);
