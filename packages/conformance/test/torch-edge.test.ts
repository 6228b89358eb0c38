/**
 * PyTorch edge-case goldens (fixtures/torch-edge: NaN/±Inf, -0, 0-size dims, size-1 broadcasting, int/bool
 * dtypes) against Tessera's public core ops, on backend 'js' (fused kernels) and on a primitives-only
 * backend-js (core's composites). NaN/±Inf and ints match exactly; -0 vs +0 only where a case says
 * `signed_zero`; floats within each file's `tolerance.forward`, unchanged.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import "@tessera/backend-js";
import { JsBackend } from "@tessera/backend-js";
import * as T from "@tessera/core";
import { describe, expect, it } from "vitest";
import { TORCH_EDGE_CASES, TORCH_EDGE_FIXTURES_DIR } from "../src/torch/edge-cases.js";
import {
  compareWithTorchGolden,
  describeTorchOpResult,
  type LoadedTorchOpCase,
  listTorchOpCaseFiles,
  loadTorchOpCase,
  runTorchOpCase,
  runTorchOpCases,
  TORCH_OP_CASES,
} from "../src/torch/op-cases.js";
import { mappingProblems } from "./helpers.js";

const FIXTURES = TORCH_EDGE_FIXTURES_DIR;

if (!T.listBackends().includes("js-primitives")) {
  // Priority 0: 'js' stays the default backend.
  T.registerBackend("js-primitives", () => new JsBackend({ name: "js-primitives", fused: [] }), 0);
}

const cases: LoadedTorchOpCase[] = listTorchOpCaseFiles(FIXTURES).map((f) => loadTorchOpCase(FIXTURES, f));

interface IndexJson {
  count: number;
  cases: { case: string; file: string; call: string }[];
}
const index = JSON.parse(readFileSync(join(FIXTURES, "index.json"), "utf8")) as IndexJson;

describe("torch edge goldens: fixture inventory", () => {
  it("fixtures/torch-edge holds the op cases listed in its index.json", () => {
    const files = listTorchOpCaseFiles(FIXTURES);
    expect(files).toEqual(index.cases.map((c) => c.file).sort());
    expect(index.count).toBe(files.length);
    expect(cases.length).toBeGreaterThanOrEqual(40);
    for (const c of cases) expect(c.kind, c.name).toBe("op");
    for (const c of index.cases) expect(cases.find((l) => l.name === c.case)?.call).toBe(c.call);
  });

  it("every edge fixture has a Tessera mapping translating the file's exact call", () => {
    const { unmapped, stale } = mappingProblems(cases, TORCH_EDGE_CASES);
    expect(unmapped, "edge cases without a mapping in TORCH_EDGE_CASES").toEqual([]);
    expect(stale, "mappings whose torch call differs from the golden's").toEqual([]);
  });

  it("every edge mapping has a golden file, and edge names do not collide with the regular goldens", () => {
    expect(mappingProblems(cases, TORCH_EDGE_CASES).orphans).toEqual([]);
    expect(Object.keys(TORCH_EDGE_CASES).filter((n) => n in TORCH_OP_CASES)).toEqual([]);
  });

  it("the edge set covers NaN/Inf, -0, 0-size dims, ints and bools", () => {
    const anyInput = (
      pred: (t: { dtype: string; shape: readonly number[]; data: ArrayLike<unknown> }) => boolean,
    ) => cases.some((c) => [...c.safetensors.tensors.values()].some(pred));
    const floats = (t: { dtype: string; data: ArrayLike<unknown> }) =>
      t.dtype === "F32" ? Array.from(t.data as Float32Array) : [];
    expect(anyInput((t) => floats(t).some(Number.isNaN))).toBe(true);
    expect(anyInput((t) => floats(t).includes(Number.NEGATIVE_INFINITY))).toBe(true);
    expect(anyInput((t) => floats(t).some((v) => Object.is(v, -0)))).toBe(true);
    expect(anyInput((t) => t.shape.includes(0))).toBe(true);
    expect(cases.some((c) => c.signedZero)).toBe(true);
    expect(cases.some((c) => c.boolOutputs.length > 0)).toBe(true);
    expect(cases.some((c) => c.safetensors.metadata["int_inputs"] !== "[]")).toBe(true);
  });
});

describe("torch edge goldens: comparison rules", () => {
  const golden = (v: number[]) => ({ shape: [v.length], dtype: "F32" as const, data: Float32Array.from(v) });
  const actual = (v: number[], dtype = "float32") => ({ shape: [v.length], dtype, data: v });
  const tol = { rtol: 1e-5, atol: 1e-7 };

  it("-0 vs +0 passes by value, and fails only with signedZero", () => {
    expect(compareWithTorchGolden("y", actual([0, -0]), golden([-0, 0]), tol).ok).toBe(true);
    const r = compareWithTorchGolden("y", actual([0, -0]), golden([-0, 0]), tol, { signedZero: true });
    expect(r.ok).toBe(false);
    expect(r.mismatches).toBe(2);
    expect(compareWithTorchGolden("y", actual([-0]), golden([-0]), tol, { signedZero: true }).ok).toBe(true);
  });

  it("NaN and ±Inf must match exactly", () => {
    expect(compareWithTorchGolden("y", actual([Number.NaN]), golden([Number.NaN]), tol).ok).toBe(true);
    expect(compareWithTorchGolden("y", actual([1e30]), golden([Number.POSITIVE_INFINITY]), tol).ok).toBe(
      false,
    );
    expect(compareWithTorchGolden("y", actual([0]), golden([Number.NaN]), tol).ok).toBe(false);
  });

  it("bool goldens want a bool output", () => {
    const g = { shape: [2], dtype: "I64" as const, data: BigInt64Array.from([1n, 0n]) };
    expect(compareWithTorchGolden("y", actual([1, 0], "bool"), g, tol, { bool: true }).ok).toBe(true);
    expect(compareWithTorchGolden("y", actual([1, 0], "int32"), g, tol, { bool: true }).problem).toMatch(
      /dtype int32, expected bool/,
    );
  });
});

for (const backend of ["js", "js-primitives"]) {
  describe(`torch edge goldens on '${backend}'`, () => {
    for (const c of cases) {
      const { rtol, atol } = c.tolerance;
      const zeros = c.signedZero ? ", signed zeros" : "";
      it(`${c.name}: ${c.call} (rtol ${rtol}, atol ${atol}${zeros})`, async () => {
        const r = await runTorchOpCase(backend, c, TORCH_EDGE_CASES);
        expect(r.ok, describeTorchOpResult(r)).toBe(true);
        expect(r.outputs.length).toBe(
          [...c.safetensors.tensors.keys()].filter((k) => k.startsWith("output.")).length,
        );
      });
    }
  });
}

describe("torch edge goldens: the directory runner", () => {
  it("runTorchOpCases takes the edge table and runs every edge case", async () => {
    const results = await runTorchOpCases("js", FIXTURES, TORCH_EDGE_CASES);
    expect(results.map((r) => r.name).sort()).toEqual(cases.map((c) => c.name).sort());
  });
});
