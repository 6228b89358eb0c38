import { JsBackend } from "@tessera/backend-js";
import {
  type BinaryOp,
  contiguousStrides,
  numel,
  type ReduceOp,
  type UnaryOp,
  type View,
} from "@tessera/core";
import { describe, expect, it } from "vitest";
import { CATALOGUE, type ConformanceCase, runConformance } from "../src/index.js";
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

/**
 * backend-js with `round` rounding half away from zero (C's round(), JS's Math.round on |x|) instead of
 * half to even. Used for BOTH the tested and the reference backend, so the two always agree: only the
 * float64 oracle can tell. Halves reach it too (backend-js runs them through float32 scratch views).
 */
class RoundHalfAway extends JsBackend {
  override unary(op: UnaryOp, x: View, out: View): void {
    if (op !== "round" || x.dtype !== "float32") {
      super.unary(op, x, out);
      return;
    }
    const n = numel(x.shape);
    const id = this.allocate("float32", n);
    const tmp: View = {
      id,
      dtype: "float32",
      shape: x.shape,
      strides: contiguousStrides(x.shape),
      offset: 0,
    };
    this.copy(x, tmp);
    const v = Float32Array.from(this.readSync(id, 0, n) as Float32Array);
    for (let i = 0; i < n; i++) v[i] = Math.sign(v[i]!) * Math.round(Math.abs(v[i]!));
    this.write(id, v, 0);
    this.copy(tmp, out);
    this.free(id);
  }
}

/** backend-js whose float `argmax` returns the LAST index of the maximum (PyTorch returns the first). */
class ArgmaxLast extends JsBackend {
  override reduce(op: ReduceOp, x: View, axes: readonly number[], out: View): void {
    if (op !== "argmax" || x.dtype !== "float32") {
      super.reduce(op, x, axes, out);
      return;
    }
    // x is contiguous here (core hands reduce contiguous inputs).
    const xs = this.readSync(x.id, x.offset, numel(x.shape)) as Float32Array;
    const axis = axes[0]!;
    const len = x.shape[axis]!;
    const inner = numel(x.shape.slice(axis + 1));
    const outer = numel(x.shape.slice(0, axis));
    const res = new Int32Array(outer * inner);
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < inner; j++) {
        let best = xs[o * len * inner + j]!;
        let at = 0;
        for (let k = 1; k < len; k++) {
          const v = xs[(o * len + k) * inner + j]!;
          if (Number.isNaN(best)) break;
          if (Number.isNaN(v) || v >= best) {
            best = v;
            at = k;
          }
        }
        res[o * inner + j] = at;
      }
    }
    this.write(out.id, res, out.offset);
  }
}

/** The same cases without their oracles: what the suite could check before it had them. */
const withoutOracles = (prefix: string): ConformanceCase[] =>
  CATALOGUE.filter((c) => c.name.startsWith(prefix)).map(({ oracle: _oracle, ...c }) => c);

describe("a primitive that is wrong the same way on the reference side", () => {
  it("round half away from zero on both sides passes the reference comparison but fails the float64 oracle, replayably", async () => {
    const tested = () => new RoundHalfAway({ name: "js-round-away" });
    const sameBug = () => new RoundHalfAway({ name: "js-round-away-reference" });

    // Before: tested and reference share the bug, so comparing them proves nothing.
    const before = await runConformance(tested, {
      reference: sameBug,
      catalogue: withoutOracles("unary.round"),
      numRuns: 100,
    });
    expect(before.cases.map((c) => [c.name, c.status, c.checks])).toEqual([
      ["unary.round[float32]", "passed", ["reference"]],
      ["unary.round[float16]", "passed", ["reference"]],
      ["unary.round[bfloat16]", "passed", ["reference"]],
      ["unary.round[int32]", "passed", ["reference"]],
    ]);

    // With the oracle every float dtype fails; int32 round is the identity and passes.
    const report = await runConformance(tested, { reference: sameBug, cases: ["unary.round"], numRuns: 100 });
    const status = Object.fromEntries(report.cases.map((c) => [c.name, c.status]));
    expect(status).toEqual({
      "unary.round[float32]": "failed",
      "unary.round[float16]": "failed",
      "unary.round[bfloat16]": "failed",
      "unary.round[int32]": "passed",
    });
    const r = report.cases[0]!;
    expect(r.checks).toEqual(["reference", "oracle"]);
    const f = r.failure!;
    expect(f.mismatch?.against).toBe("oracle");
    expect(f.message).toMatch(/^oracle: /);
    // A half-way value rounded away from zero where half-to-even goes to the even neighbour.
    const { actual, expected } = f.mismatch! as { actual: number; expected: number };
    expect(Math.abs(actual - expected)).toBe(1);
    expect(Math.abs(expected) % 2).toBe(0);
    expect(f.replay).toBe(`TESSERA_CONFORMANCE_SEED=${f.seed} case=unary.round[float32] path=${f.path}`);

    // The seed replays it, and seed + path replays the shrunk counterexample directly.
    for (const path of [undefined, f.path]) {
      const again = await runConformance(tested, {
        reference: sameBug,
        cases: ["unary.round[float32]"],
        seed: f.seed,
        numRuns: 100,
        ...(path !== undefined ? { path } : {}),
      });
      expect(again.cases[0]!.status).toBe("failed");
      expect(again.cases[0]!.failure!.counterexample).toBe(f.counterexample);
      expect(again.cases[0]!.failure!.mismatch?.against).toBe("oracle");
    }
  });

  it("argmax returning the last maximum on both sides fails the oracle on argmax and max(x, dim)", async () => {
    const tested = () => new ArgmaxLast({ name: "js-argmax-last" });
    const sameBug = () => new ArgmaxLast({ name: "js-argmax-last-reference" });
    const cases = ["reduce.argmax[float32]", "reduce.max.dim[float32]", "reduce.argmin[float32]"];

    const before = await runConformance(tested, {
      reference: sameBug,
      catalogue: cases.flatMap((n) => withoutOracles(n)),
      numRuns: 100,
    });
    expect(before.ok).toBe(true);

    const report = await runConformance(tested, { reference: sameBug, cases, numRuns: 100 });
    const status = Object.fromEntries(report.cases.map((c) => [c.name, c.status]));
    expect(status).toEqual({
      "reduce.argmax[float32]": "failed",
      "reduce.max.dim[float32]": "failed",
      "reduce.argmin[float32]": "passed",
    });
    const f = report.cases.find((c) => c.name === "reduce.argmax[float32]")!.failure!;
    expect(f.mismatch?.against).toBe("oracle");
    // The oracle's index is the first maximum, the backend's a later one.
    expect(f.mismatch!.actual as number).toBeGreaterThan(f.mismatch!.expected as number);
    const again = await runConformance(tested, {
      reference: sameBug,
      cases: ["reduce.argmax[float32]"],
      seed: f.seed,
      path: f.path,
      numRuns: 100,
    });
    expect(again.cases[0]!.failure!.counterexample).toBe(f.counterexample);
  });

  it("a reference that is wrong where the tested backend is right is named as the suspect", async () => {
    const report = await runConformance(() => new JsBackend({ name: "js-correct" }), {
      reference: () => new RoundHalfAway({ name: "js-round-away-reference" }),
      cases: ["unary.round[float32]"],
      numRuns: 100,
    });
    const f = report.cases[0]!.failure!;
    expect(f.mismatch?.against).toBe("reference");
    expect(f.message).toContain(
      "the float64 oracle agrees with the tested backend, so the reference backend is suspect",
    );
  });
});
