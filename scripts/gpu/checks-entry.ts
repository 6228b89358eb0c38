// The GPU-only checks, bundled as .gpu/cuda-checks.mjs: the cuda runtime checks (allocator, OOM,
// non-blocking reads, flat tensor count, large shapes against backend-js in f32/f16/bf16). Exits 1 on
// any failure. The model goldens run from .gpu/model-cases.mjs.
import "@tessera/backend-native";
import { runCudaRuntimeChecks } from "../../packages/backend-native/test/cuda-runtime-checks.js";

const backend = process.argv[2] ?? "cuda";
const results = await runCudaRuntimeChecks(backend);
for (const r of results) console.log(`${r.ok ? "ok  " : "FAIL"} ${r.name}: ${r.detail}`);
const failed = results.filter((r) => !r.ok).length;
console.log(`cuda checks: ${results.length - failed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
