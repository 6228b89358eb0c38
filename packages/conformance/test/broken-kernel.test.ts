import { JsBackend } from "@tessera/backend-js";
import { type BinaryOp, numel, type View } from "@tessera/core";
import { describe, expect, it } from "vitest";
import { runConformance } from "../src/index.js";
import { patchedJs } from "./helpers.js";

// Both sides run backend-js with every fused kernel, so the only difference is the injected bug.
const reference = () => new JsBackend({ name: "js-reference" });

/** Fused softmax with the first output element off by 1e-2 (float32 only). */
const brokenSoftmax = () =>
  patchedJs("js-broken-softmax", (inner) => ({
    fused: {
      softmax(x: View, dim: number, out: View) {
        inner.fused.softmax!(x, dim, out);
        if (x.dtype !== "float32" || numel(out.shape) === 0) return;
        const first = inner.readSync(out.id, out.offset, 1) as Float32Array;
        inner.write(out.id, Float32Array.of(first[0]! + 1e-2), out.offset);
      },
    },
  }));

/** float32 add that loses the sign of -0 + -0 (the classic `a + b || 0` slip). */
const brokenAdd = () =>
  patchedJs("js-broken-add", (inner) => ({
    binary(op: BinaryOp, a: View, b: View, out: View) {
      inner.binary(op, a, b, out);
      if (op !== "add" || out.dtype !== "float32") return;
      const n = numel(out.shape);
      const vals = inner.readSync(out.id, out.offset, n) as Float32Array;
      for (let i = 0; i < n; i++) if (Object.is(vals[i], -0)) vals[i] = 0;
      inner.write(out.id, vals, out.offset);
    },
  }));

describe("a deliberately broken kernel", () => {
  it("softmax off by 1e-2 on one element fails exactly softmax[float32], with a seed that replays it", async () => {
    const kernels = ["softmax", "logSoftmax", "layerNorm", "gelu", "unary"];
    const report = await runConformance(brokenSoftmax, { reference, kernels, numRuns: 30 });
    const failed = report.cases.filter((c) => c.status === "failed");
    expect(failed.map((c) => c.name)).toEqual(["softmax[float32]"]);
    expect(report.ok).toBe(false);
    const f = failed[0]!.failure!;
    expect(f.mismatch?.tolerance).toBe("f32.reduction");
    expect(f.mismatch?.index).toBe(0);
    expect(f.replay).toBe(`TESSERA_CONFORMANCE_SEED=${f.seed} case=softmax[float32] path=${f.path}`);

    // The seed alone reproduces the failure; seed + path replays the shrunk counterexample directly.
    const again = await runConformance(brokenSoftmax, {
      reference,
      cases: ["softmax[float32]"],
      seed: f.seed,
      numRuns: 30,
    });
    expect(again.cases[0]!.status).toBe("failed");
    expect(again.cases[0]!.failure!.counterexample).toBe(f.counterexample);
    const direct = await runConformance(brokenSoftmax, {
      reference,
      cases: ["softmax[float32]"],
      seed: f.seed,
      path: f.path,
      numRuns: 30,
    });
    expect(direct.cases[0]!.status).toBe("failed");
    expect(direct.cases[0]!.failure!.counterexample).toBe(f.counterexample);
  });

  it("add that turns -0 + -0 into +0 fails exactly binary.add[float32] on the sign of zero", async () => {
    const report = await runConformance(brokenAdd, { reference, kernels: ["binary"] });
    const failed = report.cases.filter((c) => c.status === "failed");
    expect(failed.map((c) => c.name)).toEqual(["binary.add[float32]"]);
    const m = failed[0]!.failure!.mismatch!;
    expect(m.message).toContain("sign of zero");
    expect(Object.is(m.expected, -0)).toBe(true);
    expect(Object.is(m.actual, 0)).toBe(true);
  });

  it("a kernel that leaks a storage handle fails the case with the leak named", async () => {
    const leaky = () =>
      patchedJs("js-leaky", (inner) => ({
        unary(op, x, out) {
          inner.unary(op, x, out);
          if (op === "exp") inner.allocate("float32", 1);
        },
      }));
    const report = await runConformance(leaky, {
      reference,
      cases: ["unary.exp[float32]", "unary.neg[float32]"],
      numRuns: 10,
    });
    const status = Object.fromEntries(report.cases.map((c) => [c.name, c.status]));
    expect(status).toEqual({ "unary.exp[float32]": "failed", "unary.neg[float32]": "passed" });
    expect(report.cases.find((c) => c.name === "unary.exp[float32]")!.failure!.message).toMatch(
      /leak: backend 'js-leaky' holds \d+ storage handles/,
    );
  });
});
