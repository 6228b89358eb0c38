/**
 * Runs every PyTorch model golden case on one backend and prints a line per case; exits 1 on any
 * mismatch. The model tests do the same under vitest; this entry point exists for machines without
 * the workspace's node_modules (scripts/gpu bundles it for the lent GPU machine):
 *
 *   node model-cases.mjs cuda        (TESSERA_MODEL_FIXTURES=packages/models/test/fixtures)
 */
import "@tessera/backend-js";
import "@tessera/backend-native";
import { findBackend, memory } from "@tessera/core";
import { enoughChecks, MODEL_CASES } from "./model-cases.js";
import { runModelCase } from "./torch-model.js";

const backend = process.argv[2] ?? "cuda";
findBackend(backend);
let failed = 0;
for (const [name, c] of Object.entries(MODEL_CASES)) {
  const t0 = performance.now();
  const before = memory().numTensors;
  let line: string;
  try {
    const r = runModelCase(name, c.spec, backend);
    const leaked = memory().numTensors - before;
    const ok = r.failures.length === 0 && enoughChecks(name, r.checked) && leaked === 0;
    if (!ok) failed++;
    line = `${ok ? "ok  " : "FAIL"} ${name} on ${backend}: ${r.checked} checks, ${r.failures.length} failures, ${leaked} tensors left`;
    if (r.failures.length) line += `\n      ${r.failures.slice(0, 8).join("\n      ")}`;
  } catch (e) {
    failed++;
    line = `FAIL ${name} on ${backend}: ${(e as Error).stack}`;
  }
  console.log(`${line} (${(performance.now() - t0).toFixed(0)} ms)`);
}
console.log(
  `model cases on ${backend}: ${Object.keys(MODEL_CASES).length - failed} passed, ${failed} failed`,
);
process.exitCode = failed ? 1 : 0;
