import { JsBackend } from "@tessera/backend-js";
import { registerBackend, removeBackend } from "@tessera/core";
import { describe, expect, it } from "vitest";
import { runConformance, runGradConformance } from "../src/index.js";
import { patchedJs } from "./helpers.js";

describe("declared capabilities", () => {
  it("a dtype the backend does not declare is reported unsupported, with the reason, not failed", async () => {
    const noHalf = () =>
      patchedJs("js-no-half", () => ({ dtypes: ["float32", "float64", "int32", "bool"] as const }));
    const report = await runConformance(noHalf, {
      reference: () => new JsBackend({ name: "js-reference" }),
      kernels: ["unary", "copy"],
      numRuns: 5,
    });
    const half = report.cases.filter(
      (c) => c.dtype === "float16" || c.dtype === "bfloat16" || /->(float16|bfloat16)/.test(c.name),
    );
    expect(half.length).toBeGreaterThan(0);
    for (const c of half) {
      expect(c.status).toBe("unsupported");
      expect(c.reason).toMatch(/does not declare dtype (float16|bfloat16)/);
    }
    expect(report.counts.failed).toBe(0);
    expect(report.counts.unsupported).toBe(half.length);
    expect(report.counts.passed).toBe(report.cases.length - half.length);
    expect(report.ok).toBe(true);
  });

  it("a fused kernel the backend lacks still runs, through core's composite, and says so", async () => {
    const noSoftmax = () => new JsBackend({ name: "js-no-softmax", fused: ["logSoftmax"] });
    const report = await runConformance(noSoftmax, {
      reference: () => new JsBackend({ name: "js-reference" }),
      kernels: ["softmax", "logSoftmax"],
      numRuns: 1,
    });
    const paths = Object.fromEntries(report.cases.map((c) => [c.name, c.path]));
    expect(paths["softmax[float32]"]).toBe("composite");
    expect(paths["logSoftmax[float32]"]).toBe("fused");
    expect(report.cases.every((c) => c.runs > 0 || c.status === "failed")).toBe(true);
  });
});

describe("declared capabilities: gradients", () => {
  it("a half gradient case on a backend without that dtype is unsupported, with the reason, not failed", async () => {
    const noHalf = patchedJs("js-grad-no-half", () => ({
      dtypes: ["float32", "float64", "int32", "bool"] as const,
    }));
    registerBackend("js-grad-no-half", () => noHalf, 0);
    try {
      const report = await runGradConformance({
        backend: "js-grad-no-half",
        cases: ["grad.softmax", "grad.matmul.transposed"],
        numRuns: 3,
      });
      const names = report.cases.map((c) => c.name);
      expect(names).toEqual([
        "grad.matmul.transposed",
        "grad.softmax",
        "grad.matmul.transposed[float16]",
        "grad.matmul.transposed[bfloat16]",
        "grad.softmax[float16]",
        "grad.softmax[bfloat16]",
      ]);
      for (const c of report.cases) {
        if (c.dtype === "float32") expect(c.status).toBe("passed");
        else {
          expect(c.status).toBe("unsupported");
          expect(c.reason).toMatch(new RegExp(`does not declare dtype ${c.dtype}`));
        }
      }
      expect(report.ok).toBe(true);
    } finally {
      removeBackend("js-grad-no-half");
    }
  });
});
