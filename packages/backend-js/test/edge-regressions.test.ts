/**
 * Regressions for edge-value bugs found by the PyTorch edge goldens (packages/conformance/fixtures/torch-edge),
 * one `describe` per bug.
 */
import { erf, tensor, tidy } from "@tessera/core";
import { describe, expect, it } from "vitest";
import "@tessera/backend-js";
import { erf as erfScalar } from "../src/kernels/math.js";

// erf's Taylor branch added +0 terms to x, so erf(-0) came back +0; torch (and C erf) give -0.
// Found by edge_erf.
describe("erf(-0) is -0", () => {
  it("the scalar helper and the elementwise kernel keep the sign of zero", () => {
    expect(Object.is(erfScalar(-0), -0)).toBe(true);
    expect(Object.is(erfScalar(0), 0)).toBe(true);
    tidy(() => {
      const y = erf(tensor([-0, 0, Number.NaN, 1e-3])).dataSync();
      expect(Object.is(y[0], -0)).toBe(true);
      expect(Object.is(y[1], 0)).toBe(true);
      expect(y[2]).toBeNaN();
      expect(y[3]).toBeCloseTo(1.1283791e-3, 9);
    });
  });
});
