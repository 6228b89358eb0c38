import "@tessera/backend-js";
import { autocast, manualSeed, randn, setBackend } from "@tessera/core";
import { describe, expect, it } from "vitest";
import "../src/index.js";

describe("backward and autocast", () => {
  it("runs the gradient rules outside any autocast scope, so backward inside one gives float32 gradients", () => {
    setBackend("js");
    manualSeed(3);
    const w = randn([8, 8]);
    w.requiresGrad = true;
    const x = randn([4, 8]);
    const grads = (inside: boolean) => {
      const loss = autocast({ dtype: "bfloat16" }, () => {
        const l = x.matmul(w).cast("float32").sum();
        if (inside) l.backward();
        return l;
      });
      if (!inside) loss.backward();
      const g = { dtype: w.grad!.dtype, values: [...w.grad!.dataSync()] };
      w.grad = null;
      loss.dispose();
      return g;
    };
    const outside = grads(false);
    const within = grads(true);
    expect(within.dtype).toBe("float32");
    expect(within.values).toEqual(outside.values);
  });
});
