/**
 * PyTorch gradient parity: the backward of every op golden (fixtures/torch) on backend 'js' (fused
 * kernels and their rules) and on a primitives-only backend-js (core's composites, differentiated),
 * compared with torch's `grad.input.*` within each file's `tolerance.grad`.
 */
import { JsBackend } from "@tessera/backend-js";
import { listBackends, memory, registerBackend } from "@tessera/core";
import { describe, expect, it } from "vitest";
import { TORCH_FIXTURES_DIR } from "../src/fixtures-dir.js";
import { describeTorchGradResult, runTorchGradCase, runTorchGradCases } from "../src/grad/torch-grads.js";
import { type LoadedTorchOpCase, listTorchOpCaseFiles, loadTorchOpCase } from "../src/torch/op-cases.js";

if (!listBackends().includes("js-primitives")) {
  // Priority 0: 'js' stays the default backend.
  registerBackend("js-primitives", () => new JsBackend({ name: "js-primitives", fused: [] }), 0);
}

const cases: LoadedTorchOpCase[] = listTorchOpCaseFiles(TORCH_FIXTURES_DIR)
  .map((f) => loadTorchOpCase(TORCH_FIXTURES_DIR, f))
  .filter((c) => c.kind === "op");
const withGrads = cases.filter((c) =>
  [...c.safetensors.tensors.keys()].some((k) => k.startsWith("grad.input.")),
);

describe("torch gradient goldens: inventory", () => {
  it("every op golden holds input gradients (cases without any are listed here)", () => {
    const without = cases.filter((c) => !withGrads.includes(c)).map((c) => c.name);
    expect(without, "op goldens with no grad.input.* tensors").toEqual([]);
    expect(withGrads.length).toBe(99);
  });
});

for (const backend of ["js", "js-primitives"]) {
  describe(`torch gradient goldens on '${backend}'`, () => {
    for (const c of withGrads) {
      it(`${c.name}: d/d inputs of sum(${c.call.replace(/^y = /, "")} · probe)`, async () => {
        const before = memory().numTensors;
        const r = await runTorchGradCase(backend, c);
        expect(r.ok, describeTorchGradResult(r)).toBe(true);
        expect(r.grads.length).toBeGreaterThan(0);
        expect(memory().numTensors, "live tensors after the case").toBe(before);
      });
    }
  });
}

describe("runTorchGradCases", () => {
  it("returns one result per op golden, each with its grad tolerance", async () => {
    const results = await runTorchGradCases("js");
    expect(results.map((r) => r.name)).toEqual(cases.map((c) => c.name));
    for (const r of results) expect(Number.isFinite(r.tolerance.rtol) || !r.hasGrads, r.name).toBe(true);
  });
});
