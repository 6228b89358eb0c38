/**
 * The grad runner: the whole gradient catalogue on backend-js, and a deliberately wrong rule reported as
 * exactly its case failing, with a replay line that reproduces it.
 */
import { type GradRule, getGradRule, registerGradRule } from "@tessera/autograd";
import { JsBackend } from "@tessera/backend-js";
import { listBackends, memory, registerBackend, removeBackend, type Tensor, type View } from "@tessera/core";
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ELEMENTWISE_GRAD_CASES } from "../src/grad/cases/elementwise.js";
import { HALF_GRAD_BASES, HALF_GRAD_RUNS } from "../src/grad/cases/half.js";
import { GRAD_CATALOGUE } from "../src/grad/cases/index.js";
import {
  formatGradFailure,
  type GradCaseReport,
  runGradCase,
  runGradConformance,
  selectGradCases,
} from "../src/grad/runner.js";
import type { GradCase } from "../src/grad/types.js";
import { describeGradConformance } from "../src/index.js";
import { patchedJs } from "./helpers.js";

const shape23 = fc.constantFrom<number[]>([2, 3], [3, 4], [1, 5], [4]);
const values = (shape: number[], lo = -2, hi = 2) =>
  fc.array(fc.double({ min: lo, max: hi, noNaN: true }), {
    minLength: shape.reduce((a, b) => a * b, 1),
    maxLength: shape.reduce((a, b) => a * b, 1),
  });

const expCase: GradCase<null> = {
  name: "test.exp",
  ops: ["exp"],
  arbitrary: shape23.chain((shape) =>
    values(shape).map((v) => ({ inputs: [{ shape, values: v }], attrs: null })),
  ),
  run: ([x]) => x!.exp(),
};

const mulCase: GradCase<null> = {
  name: "test.mul.broadcast",
  ops: ["mul"],
  arbitrary: fc.tuple(values([2, 3]), values([3])).map(([a, b]) => ({
    inputs: [
      { shape: [2, 3], values: a },
      { shape: [3], values: b },
    ],
    attrs: null,
  })),
  run: ([a, b]) => a!.mul(b!),
};

const softmaxCase: GradCase<{ dim: number }> = {
  name: "test.softmax",
  ops: ["softmax"],
  fused: "softmax",
  arbitrary: fc.record({ v: values([2, 4]), dim: fc.constantFrom(0, 1, -1) }).map(({ v, dim }) => ({
    inputs: [{ shape: [2, 4], values: v }],
    attrs: { dim },
  })),
  run: ([x], { dim }) => x!.softmax(dim),
};

const LOCAL: GradCase[] = [expCase, mulCase, softmaxCase];

if (!listBackends().includes("js-primitives")) {
  // Priority 0: 'js' stays the default backend.
  registerBackend("js-primitives", () => new JsBackend({ name: "js-primitives", fused: [] }), 0);
}

describe("grad runner", () => {
  it("the runner's own cases pass gradcheck, float32 vs float64 and fused vs composite on js and js-primitives", async () => {
    for (const backend of ["js", "js-primitives"]) {
      const r = await runGradConformance({ backend, catalogue: LOCAL, numRuns: 20, seed: 7 });
      expect(r.cases.map((c) => [c.name, c.status, c.failure?.message])).toEqual(
        LOCAL.map((c) => [c.name, "passed", undefined]),
      );
      expect(r.cases.find((c) => c.name === "test.softmax")!.checks).toEqual([
        "gradcheck",
        "analytic",
        "fused",
      ]);
    }
  });

  it("a sample leaves core's live tensor count where it found it", async () => {
    const before = memory().numTensors;
    await runGradCase(softmaxCase, { numRuns: 5, seed: 1 });
    expect(memory().numTensors).toBe(before);
  });

  it("a wrong exp rule fails exactly the exp case, with a replay line that reproduces it", async () => {
    const original = getGradRule("exp")!;
    const wrong: GradRule<[Tensor]> = {
      save: (_args, out) => [out as Tensor],
      backward: (g, ctx) => [g[0]!.mul(ctx.saved[0]!).mul(1.01)],
    };
    registerGradRule("exp", wrong);
    let report: Awaited<ReturnType<typeof runGradConformance>>;
    try {
      report = await runGradConformance({ catalogue: [mulCase, expCase], numRuns: 20, seed: 3 });
    } finally {
      registerGradRule("exp", original);
    }
    const failed = report.cases.filter((c) => c.status === "failed");
    expect(failed.map((c) => c.name)).toEqual(["test.exp"]);
    const f = failed[0]!.failure!;
    expect(f.check).toBe("gradcheck");
    expect(f.replay).toMatch(/^TESSERA_CONFORMANCE_SEED=3 case=test\.exp path=\S+$/);
    expect(formatGradFailure(failed[0]!)).toContain(
      `replay: tessera-conformance grad --backend js ${f.replay}`,
    );
    // The replay reproduces the failure with the rule still wrong, and passes with the right rule.
    registerGradRule("exp", wrong);
    let replayed: GradCaseReport;
    try {
      replayed = await runGradCase(expCase, { seed: f.seed, path: f.path, numRuns: 20 });
    } finally {
      registerGradRule("exp", original);
    }
    expect(replayed.status).toBe("failed");
    expect((await runGradCase(expCase, { seed: f.seed, path: f.path, numRuns: 20 })).status).toBe("passed");
  });

  it("a wrong exp rule fails exactly the catalogue's exp case among the elementwise cases", async () => {
    const original = getGradRule("exp")!;
    registerGradRule("exp", {
      ...original,
      backward: (g, ctx) => original.backward(g, ctx).map((t) => t?.mul(1.01)),
    });
    let report: Awaited<ReturnType<typeof runGradConformance>>;
    try {
      report = await runGradConformance({ catalogue: ELEMENTWISE_GRAD_CASES, numRuns: 10, seed: 5 });
    } finally {
      registerGradRule("exp", original);
    }
    const failed = report.cases.filter((c) => c.status === "failed");
    expect(failed.map((c) => c.name)).toEqual(
      ELEMENTWISE_GRAD_CASES.filter((c) => c.ops.includes("exp")).map((c) => c.name),
    );
    expect(failed.length).toBe(1);
    expect(failed[0]!.failure!.replay).toMatch(
      new RegExp(`^TESSERA_CONFORMANCE_SEED=5 case=${failed[0]!.name.replace(/\./g, "\\.")} path=\\S+$`),
    );
  });

  it("cases are selected by regex, by name or prefix, or by predicate", () => {
    expect(selectGradCases(/^test\.m/, LOCAL).map((c) => c.name)).toEqual(["test.mul.broadcast"]);
    expect(selectGradCases(["test.exp", "test.soft"], LOCAL).map((c) => c.name)).toEqual([
      "test.exp",
      "test.softmax",
    ]);
    expect(selectGradCases((c) => c.fused !== undefined, LOCAL).map((c) => c.name)).toEqual(["test.softmax"]);
  });

  it("an unknown backend is an error, not a failing report", async () => {
    await expect(runGradCase(expCase, { backend: "no-such-backend" })).rejects.toThrow(/no-such-backend/);
  });
});

// One test per case (describeGradConformance): a single 30-second synchronous test starves
// vitest's worker RPC.
it("the catalogue has a case for well over a hundred op variants", () => {
  expect(GRAD_CATALOGUE.length).toBeGreaterThan(100);
});
await describeGradConformance("js", { numRuns: 100 });

describe("half-precision gradient cases", () => {
  it("a float16 softmax backward kernel 2⁻⁶ off fails exactly grad.softmax[float16], on the half check", async () => {
    // dx scaled by 1 + 2⁻⁶ after the real kernel, for float16 only: 16 ulp of binary16, the size of a
    // wrong conversion or a dropped correction term, well under what a float32 tolerance would notice.
    const broken = patchedJs("js-half-broken", (inner) => ({
      fused: {
        softmaxBackward: (y: View, dy: View, dim: number, dx: View) => {
          inner.fused.softmaxBackward!(y, dy, dim, dx);
          if (dx.dtype !== "float16") return;
          const id = inner.allocate(dx.dtype, 1);
          const scalar: View = { id, dtype: dx.dtype, shape: [], strides: [], offset: 0 };
          inner.fill(scalar, 1 + 2 ** -6);
          inner.binary("mul", dx, { ...scalar, shape: dx.shape, strides: dx.shape.map(() => 0) }, dx);
          inner.free(id);
        },
      },
    }));
    registerBackend("js-half-broken", () => broken, 0);
    try {
      const report = await runGradConformance({
        backend: "js-half-broken",
        cases: ["grad.softmax"],
        seed: 11,
      });
      const failed = report.cases.filter((c) => c.status === "failed");
      expect(failed.map((c) => c.name)).toEqual(["grad.softmax[float16]"]);
      expect(failed[0]!.failure!.check).toBe("half");
      expect(failed[0]!.failure!.message).toMatch(/f16\.grad/);
      expect(formatGradFailure(failed[0]!)).toMatch(/case=grad\.softmax\[float16\]/);
      const passed = report.cases.filter((c) => c.status === "passed").map((c) => [c.name, c.runs]);
      expect(passed).toEqual([
        ["grad.softmax", 100],
        ["grad.softmax[bfloat16]", HALF_GRAD_RUNS],
      ]);
    } finally {
      removeBackend("js-half-broken");
    }
  });

  it("every half variant names a float32 case and runs on js within its named tolerance", async () => {
    const half = GRAD_CATALOGUE.filter((c) => c.dtype !== undefined);
    expect(half.length).toBe(2 * HALF_GRAD_BASES.length);
    for (const c of half) expect(GRAD_CATALOGUE.some((b) => `${b.name}[${c.dtype}]` === c.name)).toBe(true);
  });
});
