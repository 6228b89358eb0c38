/**
 * The cuda runtime checks (cuda-runtime-checks.ts) where a GPU is usable. Without one, cuda-status.test.ts
 * covers the unavailable path and this file asserts that the checks cannot start.
 */
import { describe, expect, it } from "vitest";
import { cudaStatus } from "../src/index.js";
import { runCudaRuntimeChecks } from "./cuda-runtime-checks.js";

describe("cuda runtime", () => {
  it("passes every runtime check on a GPU (or refuses to start without one)", async () => {
    if (!cudaStatus().available) {
      await expect(runCudaRuntimeChecks()).rejects.toThrow(/not registered|unavailable/);
      return;
    }
    const results = await runCudaRuntimeChecks();
    for (const r of results) expect(r, r.detail).toMatchObject({ ok: true });
  }, 120_000);
});
