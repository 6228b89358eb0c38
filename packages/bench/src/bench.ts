/** `runBench`: collects the runners (registered Tessera backends + peers) and times every workload on each. */
import { listBackends } from "@tessera/core";
import { type CaseResult, DEFAULT_TIMING, runCases, type TimingOptions } from "./harness.js";
import { type BenchReport, gitCommit, machineFacts } from "./report.js";
import type { Runner } from "./runner.js";
import { registerBenchBackends, tesseraRunner, threadedBackend } from "./tessera.js";
import { WORKLOADS, type Workload } from "./workloads.js";

export interface BenchOptions {
  workloads?: readonly Workload[];
  /** Runner names to keep (Tessera backends and peers); default all. */
  only?: readonly string[];
  timing?: TimingOptions;
  onCase?: (r: CaseResult) => void;
  /** Measure native's FMA peak before and after the cases (default true; nothing without native). */
  peaks?: boolean;
}

/** The ratio baseline: the pure-JS peer. */
export const BASELINE = "tfjs-cpu";

/** The backend whose thread scaling and FMA peak the bench reports. */
export const NATIVE = "native";

/** Peak single-precision GFLOP/s of the machine, per thread count, from native's FMA loop. */
export interface PeakFlops {
  threads: number;
  gflops: number;
}

/**
 * Runners for every registered backend; `native` runs on its default pool size and again as
 * `native-1t` on one thread (when the default is more than one).
 */
async function collectRunners(only: readonly string[] | undefined, notes: string[]): Promise<Runner[]> {
  notes.push(...(await registerBenchBackends()));
  const wanted = (name: string) => !only || only.includes(name);
  const runners: Runner[] = [];
  for (const name of listBackends()) {
    const pool = name === NATIVE ? threadedBackend(name) : undefined;
    const variants: [string, number | undefined][] = [[name, pool?.numThreads]];
    if (pool && pool.numThreads > 1) variants.push([`${name}-1t`, 1]);
    for (const [runnerName, threads] of variants) {
      if (!wanted(runnerName)) continue;
      try {
        runners.push(tesseraRunner(name, { runnerName, ...(threads !== undefined ? { threads } : {}) }));
      } catch (e) {
        // A backend that cannot start here (no GPU, no binary) is reported, not fatal.
        notes.push(`${runnerName}: unavailable (${e instanceof Error ? e.message : String(e)})`);
      }
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

/**
 * native's FMA peak on one thread and on its default pool size (empty when native is not here): the
 * best of three 0.1 s measurements each, so a moment of contention elsewhere on the machine does not
 * lower it. `previous` (an earlier measurement) is merged in, keeping the higher figure.
 */
export function measurePeaks(notes: string[] = [], previous: readonly PeakFlops[] = []): PeakFlops[] {
  const pool = threadedBackend(NATIVE);
  if (!pool) return [];
  const counts = [...new Set([1, pool.numThreads])];
  const peaks: PeakFlops[] = [];
  for (const threads of counts) {
    try {
      let gflops = previous.find((p) => p.threads === threads)?.gflops ?? 0;
      for (let i = 0; i < 3; i++) gflops = Math.max(gflops, pool.fmaPeak(threads, 0.1));
      if (gflops > 0) peaks.push({ threads, gflops });
      else if (previous.length === 0)
        notes.push(`native fmaPeak(${threads}) returned 0: no peak to compare with`);
    } catch (e) {
      if (previous.length === 0) {
        notes.push(`native fmaPeak(${threads}) failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
  return peaks;
}

export async function runBench(opts: BenchOptions = {}): Promise<BenchReport> {
  const notes: string[] = [];
  const runners = await collectRunners(opts.only, notes);
  const peaksBefore = opts.peaks === false ? [] : measurePeaks(notes);
  const workloads = opts.workloads ?? WORKLOADS;
  const timing = opts.timing ?? DEFAULT_TIMING;
  const date = new Date().toISOString();
  const results = await runCases({
    workloads,
    runners,
    timing,
    ...(opts.onCase ? { onCase: opts.onCase } : {}),
  });
  // Measured again after the cases (the better of the two is kept): the % of peak then does not
  // depend on what else the machine was doing at one instant.
  const peaks = opts.peaks === false ? [] : measurePeaks([], peaksBefore);
  return {
    schema: 2,
    date,
    commit: gitCommit(),
    machine: machineFacts(),
    timing,
    baseline: BASELINE,
    runners: runners.map(({ name, kind, description, fused, threads }) => ({
      name,
      kind,
      description,
      fused,
      ...(threads !== undefined ? { threads } : {}),
    })),
    peaks,
    workloads,
    results,
    notes,
  };
}
