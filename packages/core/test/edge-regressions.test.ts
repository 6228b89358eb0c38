/**
 * Regressions for edge-value bugs found by the PyTorch edge goldens (packages/conformance/fixtures/torch-edge),
 * one `describe` per bug, each on the fused 'js' backend and the primitives-only one.
 */
import { describe, expect, it } from "vitest";
import "@tessera/backend-js";
import { pow, tensor, tidy, withBackend } from "../src/index.js";
import { PRIMITIVES } from "./helpers.js";

const inf = Number.POSITIVE_INFINITY;

// torch computes pow(Tensor, 0.5) as sqrt and pow(Tensor, -0.5) as rsqrt, so (-inf) ** 0.5 is NaN (C pow: inf),
// (-0) ** 0.5 is -0 (C pow: +0), (-inf) ** -0.5 is NaN (C pow: 0) and (-0) ** -0.5 is -inf (C pow: +inf).
// Found by edge_pow_scalar.
describe("pow with a scalar exponent of ±0.5 is sqrt / rsqrt, like torch", () => {
  for (const backend of ["js", PRIMITIVES]) {
    it(`on '${backend}'`, () => {
      withBackend(backend, () =>
        tidy(() => {
          const x = tensor([-inf, -0, 0, -4, 4, inf, Number.NaN]);
          expect([...pow(x, 0.5).dataSync()]).toEqual([Number.NaN, -0, 0, Number.NaN, 2, inf, Number.NaN]);
          expect([...x.pow(-0.5).dataSync()]).toEqual([
            Number.NaN,
            -inf,
            inf,
            Number.NaN,
            0.5,
            0,
            Number.NaN,
          ]);
          expect(Object.is(pow(x, 0.5).dataSync()[1], -0)).toBe(true);
          // A tensor exponent keeps C pow semantics (torch.pow(x, tensor(0.5)) gives inf and +0 here).
          const e = tensor([0.5, 0.5]);
          expect([...tensor([-inf, -0]).pow(e).dataSync()]).toEqual([inf, 0]);
          expect(
            Object.is(
              tensor([-0])
                .pow(tensor([0.5]))
                .dataSync()[0],
              0,
            ),
          ).toBe(true);
          // Integer bases promote to float32 as before.
          expect([...tensor([4, 9], { dtype: "int32" }).pow(0.5).dataSync()]).toEqual([2, 3]);
        }),
      );
    });
  }
});
