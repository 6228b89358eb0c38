import { tensor, tidy } from "@tessera/core";
import { describe, expect, it } from "vitest";
import "@tessera/backend-js";

// Regression: row planning gave one-element outputs an inner stride of 0, so `p !== end` loops never ran.
describe("one-element outputs are written", () => {
  it("0-d and all-size-1 tensors go through unary, binary and where", () => {
    tidy(() => {
      expect([...tensor([4]).div(2).dataSync()]).toEqual([2]);
      expect(tensor(3).exp().dataSync()[0]).toBeCloseTo(Math.exp(3), 4);
      expect(
        tensor([[[2]]])
          .mul(tensor(5))
          .arraySync(),
      ).toEqual([[[10]]]);
      expect(tensor(true).logicalNot().arraySync()).toBe(false);
      expect(
        tensor([5])
          .where(tensor([true]), 0)
          .arraySync(),
      ).toEqual([5]);
    });
  });
});
