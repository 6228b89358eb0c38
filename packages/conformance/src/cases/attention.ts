/**
 * Fused `attention` (or core's composite) through scaledDotProductAttention: batched and multi-head
 * inputs, Sq ≠ Sk, D ≠ Dv, causal masking, bool and float masks (fully masked rows give NaN), explicit
 * scales, and the returned post-softmax weights. Compared by NMSE (long dot products, two of them).
 */
import * as fc from "fast-check";
import { dimArb, hostTensor, MODERATE, tensorArb } from "../arbitraries.js";
import { ops } from "../ops.js";
import { tolerance } from "../tolerances.js";
import type { ConformanceCase, HostTensor } from "../types.js";
import { FLOATS } from "./common.js";

interface Attrs {
  causal: boolean;
  scale: number | undefined;
  mask: "none" | "bool" | "float";
  weights: boolean;
}

export const cases: ConformanceCase[] = FLOATS.map(
  (dtype): ConformanceCase<Attrs> => ({
    name: `attention[${dtype}]`,
    kernel: "attention",
    dtype,
    requires: ["bool"],
    ops: ["scaledDotProductAttention"],
    arbitrary: fc
      .record({
        lead: fc.constantFrom([1], [2], [2, 2], [1, 3]),
        sq: dimArb(1, 5),
        sk: dimArb(1, 5),
        d: dimArb(1, 8),
        dv: dimArb(1, 6),
        causal: fc.boolean(),
        scale: fc.option(fc.constantFrom(0.125, 0.5, 1), { nil: undefined }),
        mask: fc.constantFrom("none" as const, "none" as const, "bool" as const, "float" as const),
        weights: fc.boolean(),
      })
      .chain((p) => {
        const maskShape = [p.sq, p.sk];
        const mask =
          p.mask === "bool"
            ? fc
                .array(fc.constantFrom(0, 1, 1, 1), { minLength: p.sq * p.sk, maxLength: p.sq * p.sk })
                .map((vals) => [hostTensor("bool", maskShape, vals)])
            : p.mask === "float"
              ? tensorArb(dtype, maskShape, { min: -4, max: 0, specials: false }).map((t) => [t])
              : fc.constant([] as HostTensor[]);
        return fc
          .tuple(
            tensorArb(dtype, [...p.lead, p.sq, p.d], MODERATE),
            tensorArb(dtype, [...p.lead, p.sk, p.d], MODERATE),
            tensorArb(dtype, [...p.lead, p.sk, p.dv], MODERATE),
            mask,
          )
          .map(([q, k, v, m]) => ({
            inputs: [q, k, v, ...m],
            attrs: { causal: p.causal, scale: p.scale, mask: p.mask, weights: p.weights },
          }));
      }),
    run: ([q, k, v, mask], a) => {
      const r = ops.scaledDotProductAttention!(q, k, v, {
        attnMask: mask ?? null,
        isCausal: a.causal,
        ...(a.scale !== undefined ? { scale: a.scale } : {}),
        returnWeights: a.weights,
      });
      return a.weights ? [r.output, r.weights] : r;
    },
    tolerance: tolerance(dtype, "nmse"),
  }),
);
