/**
 * vitest integration: one `describe` per backend, one `it` per case. vitest is an optional peer
 * dependency, imported only here, so `runConformance` and the CLI work without it. Call it at the top
 * level of a test file with `await` (vitest collects after the module's top-level awaits settle).
 *
 * Environment: TESSERA_CONFORMANCE_SEED, TESSERA_CONFORMANCE_CASE (a name or prefix, comma-separated)
 * and TESSERA_CONFORMANCE_PATH replay a failure printed by a previous run.
 */
import type { Backend } from "@tessera/core";
import { describeSample } from "./arbitraries.js";
import {
  formatGradFailure,
  type GradConformanceOptions,
  gradCaseRuns,
  gradDtype,
  gradUnsupportedReason,
  runGradCase,
  selectGradCases,
} from "./grad/runner.js";
import { type ConformanceOptions, Session, selectCases } from "./runner.js";
import type { CaseReport } from "./types.js";

/** vitest, or an error naming the vitest-free alternative to `fn`. */
async function loadVitest(fn: string, alternative: string): Promise<typeof import("vitest")> {
  try {
    return await import("vitest");
  } catch {
    throw new Error(`${fn} needs vitest (an optional peer dependency): install it, or use ${alternative}()`);
  }
}

/**
 * Lets the event loop turn between cases. Cases are synchronous work behind promises that resolve
 * at once, so a file of them would otherwise never return to the event loop; vitest's worker then
 * answers none of its own RPC replies, and on a loaded machine it reports `Timeout calling
 * "onTaskUpdate"` once a file runs past 60 s.
 */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export async function describeConformance(
  factory: () => Backend,
  options: ConformanceOptions = {},
): Promise<void> {
  const { describe, it, afterAll } = await loadVitest("describeConformance", "runConformance");
  const envCases = process.env.TESSERA_CONFORMANCE_CASE;
  const envPath = process.env.TESSERA_CONFORMANCE_PATH;
  const opts: ConformanceOptions = {
    ...options,
    ...(envCases && !options.cases ? { cases: envCases.split(",") } : {}),
    ...(envPath && options.path === undefined ? { path: envPath } : {}),
  };
  const session = new Session(factory, opts);
  const cases = selectCases(opts);
  describe(`conformance: ${session.tested.name} vs ${session.reference.name} (seed ${session.seed}, ${session.numRuns} runs per case)`, () => {
    afterAll(() => session.close());
    for (const c of cases) {
      const reason = session.unsupported(c);
      const path = session.pathOf(c.kernel);
      const title = `${c.name} (${path}, vs reference${c.oracle ? " + float64 oracle" : ""})`;
      if (reason) {
        // Decided by the backend's declared dtypes, never by a list of names.
        it.skip(`${title} — unsupported: ${reason}`, () => {});
        continue;
      }
      it(title, async () => {
        await yieldToEventLoop();
        const r = await session.runCase(c);
        if (r.status === "unavailable") {
          // Core has not grown this op yet: say so, without passing or failing the backend.
          console.warn(`${c.name}: ${r.reason}`);
          return;
        }
        if (r.status === "failed") throw new Error(formatFailure(r));
      });
    }
  });
}

/**
 * The gradient catalogue as vitest tests on the registered backend `backend`: one `it` per case,
 * each checking finite differences, the backend's gradients against backend-js's float64 ones and,
 * for fused ops, the fused backward against the composite. TESSERA_CONFORMANCE_SEED and
 * TESSERA_CONFORMANCE_CASE (comma-separated names) replay a failure.
 */
export async function describeGradConformance(
  backend: string,
  options: Omit<GradConformanceOptions, "backend" | "onCase"> = {},
): Promise<void> {
  const { describe, it } = await loadVitest("describeGradConformance", "runGradConformance");
  const envCases = process.env.TESSERA_CONFORMANCE_CASE;
  const cases = selectGradCases(
    options.cases ?? (envCases ? envCases.split(",") : undefined),
    options.catalogue,
  );
  const runs = options.numRuns ?? 100;
  describe(`grad conformance: ${backend} (${runs} runs per case)`, () => {
    for (const c of cases) {
      const half = gradDtype(c) !== "float32";
      const title = `${c.name}${half ? ` (${gradDtype(c)} vs float64, ${gradCaseRuns(c, runs)} runs)` : c.fused ? " (fused vs composite too)" : ""}`;
      // Decided by the backend's declared dtypes (when it is registered already), never by a list of names.
      const reason = gradUnsupportedReason(c, backend, options.seed);
      if (reason) {
        it.skip(`${title} — unsupported: ${reason}`, () => {});
        continue;
      }
      it(title, async (ctx) => {
        await yieldToEventLoop();
        const r = await runGradCase(c, { ...options, backend });
        if (r.status === "unsupported") {
          console.warn(`${c.name}: unsupported on ${backend}: ${r.reason}`);
          ctx.skip();
        }
        if (r.status === "failed") throw new Error(formatGradFailure(r));
        const want = gradCaseRuns(c, runs);
        if (r.runs !== want) throw new Error(`${c.name}: ran ${r.runs} samples, expected ${want}`);
      });
    }
  });
}

/** The message a failed case throws and the CLI prints: what differed, the counterexample, the replay line. */
export function formatFailure(r: CaseReport): string {
  const f = r.failure!;
  return [
    `${r.name} (${r.kernel}, ${r.path} path, tolerance ${r.tolerance}) failed after ${r.runs} runs: ${f.message}`,
    "counterexample (shrunk):",
    f.counterexample,
    `replay: ${f.replay}`,
  ].join("\n");
}

export { describeSample };
