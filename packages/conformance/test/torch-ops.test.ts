/**
 * Every PyTorch op golden (fixtures/torch, kind `op`) against Tessera's public core ops, on backend
 * 'js' (all fused kernels) and on a primitives-only backend-js, so core's composite implementations
 * are pinned to PyTorch too. Tolerances are each file's `tolerance.forward`, unchanged.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import "@tessera/backend-js";
import { JsBackend } from "@tessera/backend-js";
import * as T from "@tessera/core";
import { afterAll, describe, expect, it } from "vitest";
import {
  describeTorchOpResult,
  type LoadedTorchOpCase,
  listTorchOpCaseFiles,
  loadTorchOpCase,
  runTorchOpCase,
  runTorchOpCases,
  TORCH_OP_CASES,
} from "../src/torch/op-cases.js";
import { mappingProblems } from "./helpers.js";

const FIXTURES = fileURLToPath(new URL("../fixtures/torch/", import.meta.url));

if (!T.listBackends().includes("js-primitives")) {
  // Priority 0: 'js' stays the default backend.
  T.registerBackend("js-primitives", () => new JsBackend({ name: "js-primitives", fused: [] }), 0);
}

const cases: LoadedTorchOpCase[] = listTorchOpCaseFiles(FIXTURES)
  .map((f) => loadTorchOpCase(FIXTURES, f))
  .filter((c) => c.kind === "op");

interface IndexJson {
  count: number;
  cases: { case: string; file: string; call: string }[];
}
const index = JSON.parse(readFileSync(join(FIXTURES, "index.json"), "utf8")) as IndexJson;

describe("torch op goldens: fixture inventory", () => {
  it("fixtures/torch holds the op cases listed in its index.json, all of kind op", () => {
    const files = listTorchOpCaseFiles(FIXTURES);
    expect(files).toEqual(index.cases.map((c) => c.file).sort());
    expect(cases.length).toBe(files.length);
    expect(index.count).toBe(files.length);
    for (const c of index.cases) expect(cases.find((l) => l.name === c.case)?.call).toBe(c.call);
  });

  it("every op case in fixtures/ has a Tessera mapping translating the file's exact call", () => {
    const { unmapped, stale } = mappingProblems(cases, TORCH_OP_CASES);
    expect(unmapped, "op cases without a mapping in TORCH_OP_CASES").toEqual([]);
    expect(stale, "mappings whose torch call differs from the golden's").toEqual([]);
  });

  it("every mapping has a golden file (no orphan mappings)", () => {
    expect(mappingProblems(cases, TORCH_OP_CASES).orphans).toEqual([]);
  });
});

describe("torch op goldens: backends under test", () => {
  it("'js' exposes fused kernels and 'js-primitives' none, so core's composites are what 'js-primitives' runs", () => {
    expect(T.capabilities(T.findBackend("js")).fused.length).toBeGreaterThan(0);
    expect(T.capabilities(T.findBackend("js-primitives")).fused).toEqual([]);
  });
});

for (const backend of ["js", "js-primitives"]) {
  describe(`torch op goldens on '${backend}'`, () => {
    for (const c of cases) {
      const { rtol, atol } = c.tolerance;
      it(`${c.name}: ${c.call} (forward rtol ${rtol}, atol ${atol})`, async () => {
        const r = await runTorchOpCase(backend, c);
        expect(r.ok, describeTorchOpResult(r)).toBe(true);
        // The golden outputs were all compared (y, y1, y2, indices …).
        expect(r.outputs.length).toBe(
          [...c.safetensors.tensors.keys()].filter((k) => k.startsWith("output.")).length,
        );
      });
    }
  });
}

describe("torch op goldens: damaged fixtures", () => {
  const dir = mkdtempSync(join(tmpdir(), "tessera-torch-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("a truncated case file is reported with a clear error, not compared", async () => {
    const bytes = readFileSync(join(FIXTURES, "relu.safetensors"));
    writeFileSync(join(dir, "relu.safetensors"), bytes.subarray(0, bytes.length - 100));
    expect(() => loadTorchOpCase(dir, "relu")).toThrow(
      /relu\.safetensors: truncated file: tensor 'output\.y' ends at data byte 2912 but the data section has only 2812 bytes/,
    );
    const results = await runTorchOpCases("js", dir);
    expect(results).toHaveLength(1);
    expect(results[0]!.ok).toBe(false);
    expect(results[0]!.error).toMatch(/truncated file/);
  });

  it("a corrupted header is reported with a clear error", () => {
    const bytes = new Uint8Array(readFileSync(join(FIXTURES, "relu.safetensors")));
    bytes[8] = "[".charCodeAt(0); // the JSON object now starts with '['
    writeFileSync(join(dir, "bad.safetensors"), bytes);
    expect(() => loadTorchOpCase(dir, "bad")).toThrow(
      /bad\.safetensors: malformed header: not valid UTF-8 JSON/,
    );
  });

  it("a wrong golden makes the case fail with the element, values and error", async () => {
    const c = loadTorchOpCase(FIXTURES, "relu");
    const y = c.safetensors.tensors.get("output.y")!.data as Float32Array;
    const damaged = Float32Array.from(y);
    damaged[5] = damaged[5]! + 1e-3;
    const tensors = new Map(c.safetensors.tensors);
    tensors.set("output.y", { ...tensors.get("output.y")!, data: damaged });
    const r = await runTorchOpCase("js", { ...c, safetensors: { ...c.safetensors, tensors } });
    expect(r.ok).toBe(false);
    expect(r.outputs[0]!.mismatches).toBe(1);
    expect(r.outputs[0]!.worst!.index).toBe(5);
    expect(describeTorchOpResult(r)).toMatch(
      /output\.y: 1\/182 elements outside atol 0\.00001 \+ rtol 0\.00001/,
    );
  });
});
