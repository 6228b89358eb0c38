import { tensor, tidy } from "@tessera/core";
import { describe, expect, it } from "vitest";
import "@tessera/backend-js";

// Regression: binary pow used JS `**`, which gives NaN for 1 ** NaN and (±1) ** ±Inf; torch.pow and C99
// pow give 1 there. Found by the conformance suite's float64 oracle (binary.pow[float32], seed 424242).
describe("pow(1, y) is 1 for every y, pow(-1, ±Inf) is 1", () => {
  it("float32, float16 and bfloat16", () => {
    tidy(() => {
      const inf = Number.POSITIVE_INFINITY;
      for (const dtype of ["float32", "float16", "bfloat16"] as const) {
        const base = tensor([1, 1, 1, -1, -1, -1, Number.NaN, 2], { dtype });
        const exp = tensor([Number.NaN, inf, -inf, inf, -inf, Number.NaN, 0, Number.NaN], { dtype });
        expect([...base.pow(exp).dataSync()]).toEqual([1, 1, 1, 1, 1, Number.NaN, 1, Number.NaN]);
      }
    });
  });
});
