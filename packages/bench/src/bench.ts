/** `runBench`: collects the runners (registered Tessera backends + peers) and times every workload on each. */
import { listBackends } from "@tessera/core";
import { type CaseResult, DEFAULT_TIMING, runCases, type TimingOptions } from "./harness.js";
import { type BenchReport, gitCommit, machineFacts } from "./report.js";
import type { Runner } from "./runner.js";
import { registerBenchBackends, tesseraRunner } from "./tessera.js";
import { WORKLOADS, type Workload } from "./workloads.js";

export interface BenchOptions {
  workloads?: readonly Workload[];
  /** Runner names to keep (Tessera backends and peers); default all. */
  only?: readonly string[];
  timing?: TimingOptions;
  onCase?: (r: CaseResult) => void;
}

/** The ratio baseline: the pure-JS peer. */
export const BASELINE = "tfjs-cpu";

async function collectRunners(only: readonly string[] | undefined, notes: string[]): Promise<Runner[]> {
  notes.push(...(await registerBenchBackends()));
  const wanted = (name: string) => !only || only.includes(name);
  const runners: Runner[] = [];
  for (const name of listBackends()) {
    if (!wanted(name)) continue;
    try {
      runners.push(tesseraRunner(name));
    } catch (e) {
      // A backend that cannot start here (no GPU, no binary) is reported, not fatal.
      notes.push(`${name}: unavailable (${e instanceof Error ? e.message : String(e)})`);
    }
  }
  for (const backend of ["cpu", "wasm"] as const) {
    if (!wanted(`tfjs-${backend}`)) continue;
    const { tfjsRunner } = await import("./peers/tfjs.js");
    try {
      runners.push(await tfjsRunner(backend));
    } catch (e) {
      notes.push(`tfjs-${backend}: unavailable (${e instanceof Error ? e.message : String(e)})`);
    }
  }
  return runners;
}

export async function runBench(opts: BenchOptions = {}): Promise<BenchReport> {
  const notes: string[] = [];
  const runners = await collectRunners(opts.only, notes);
  const workloads = opts.workloads ?? WORKLOADS;
  const timing = opts.timing ?? DEFAULT_TIMING;
  const date = new Date().toISOString();
  const results = await runCases({
    workloads,
    runners,
    timing,
    ...(opts.onCase ? { onCase: opts.onCase } : {}),
  });
  return {
    schema: 1,
    date,
    commit: gitCommit(),
    machine: machineFacts(),
    timing,
    baseline: BASELINE,
    runners: runners.map(({ name, kind, description, fused }) => ({ name, kind, description, fused })),
    workloads,
    results,
    notes,
  };
}
