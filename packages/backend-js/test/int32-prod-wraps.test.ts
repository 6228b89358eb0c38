import { prod, tensor, tidy } from "@tessera/core";
import { describe, expect, it } from "vitest";
import "@tessera/backend-js";

// Regression: int32 prod accumulated in float64, so once the product passed 2^53 its low bits were lost
// and the stored int32 was not the wrapped product (int32 multiplication wraps, like Math.imul).
// Found by the conformance suite's float64 oracle (reduce.prod[int32], TESSERA_CONFORMANCE_SEED=11).
describe("int32 prod wraps modulo 2^32 however large the product grows", () => {
  it("full, single-axis and multi-axis reductions", () => {
    tidy(() => {
      const threes = tensor(new Int32Array(42).fill(3), { dtype: "int32" });
      let want = 1;
      for (let i = 0; i < 42; i++) want = Math.imul(want, 3);
      expect(prod(threes).dataSync()[0]).toBe(want);
      const x = tensor(new Int32Array(2 * 42 * 3).fill(-3), { dtype: "int32", shape: [2, 42, 3] });
      expect([...prod(x, 1).dataSync()]).toEqual(new Array(6).fill(want));
      let six = 1;
      for (let i = 0; i < 6; i++) six = Math.imul(six, -3);
      expect([...prod(x, [0, 2]).dataSync()]).toEqual(new Array(42).fill(six));
      expect(prod(tensor(new Int32Array([65536, 65536]), { dtype: "int32" })).dataSync()[0]).toBe(0);
    });
  });
});
