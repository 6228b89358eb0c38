/**
 * Times every workload on every runner in one process: warm-up, then timed runs until the run
 * count or the per-case time budget is reached; the median is reported, the min kept too.
 */
import { performance } from "node:perf_hooks";
import { type Runner, Unsupported } from "./runner.js";
import { gflops, summarize, type Timing } from "./stats.js";
import type { Workload } from "./workloads.js";

export interface TimingOptions {
  /** Warm-up runs (JIT, allocator); a second one is skipped when the first took over `budgetMs`. */
  warmup: number;
  minRuns: number;
  maxRuns: number;
  /** Timed runs stop once at least `minRuns` were done and this much time was spent. */
  budgetMs: number;
}

export const DEFAULT_TIMING: TimingOptions = { warmup: 2, minRuns: 3, maxRuns: 15, budgetMs: 2500 };
export const SMOKE_TIMING: TimingOptions = { warmup: 1, minRuns: 1, maxRuns: 2, budgetMs: 50 };

export type CaseResult =
  | ({ workload: string; backend: string; status: "ok"; gflops?: number; leakedTensors: number } & Timing)
  | { workload: string; backend: string; status: "unsupported" | "error"; reason: string };

const gc = (globalThis as { gc?: () => void }).gc;

export async function timeCase(runner: Runner, w: Workload, opts: TimingOptions): Promise<CaseResult> {
  const base = { workload: w.id, backend: runner.name };
  let prepared: ReturnType<Runner["prepare"]>;
  let liveBefore: number;
  try {
    await runner.activate?.();
    liveBefore = runner.liveTensors();
    prepared = runner.prepare(w);
  } catch (e) {
    if (e instanceof Unsupported) return { ...base, status: "unsupported", reason: e.message };
    return { ...base, status: "error", reason: String(e) };
  }
  try {
    for (let i = 0; i < opts.warmup; i++) {
      const t0 = performance.now();
      await prepared.run();
      if (performance.now() - t0 > opts.budgetMs) break;
    }
    gc?.();
    const samples: number[] = [];
    const start = performance.now();
    while (
      samples.length < opts.maxRuns &&
      (samples.length < opts.minRuns || performance.now() - start < opts.budgetMs)
    ) {
      const t0 = performance.now();
      await prepared.run();
      samples.push(performance.now() - t0);
    }
    const timing = summarize(samples);
    prepared.dispose();
    const leakedTensors = runner.liveTensors() - liveBefore;
    return {
      ...base,
      status: "ok",
      ...timing,
      ...(w.flops ? { gflops: gflops(w.flops, timing.medianMs) } : {}),
      leakedTensors,
    };
  } catch (e) {
    prepared.dispose();
    return { ...base, status: "error", reason: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  }
}

export interface RunOptions {
  workloads: readonly Workload[];
  runners: readonly Runner[];
  timing: TimingOptions;
  /** Called after each case, e.g. to print progress. */
  onCase?: (r: CaseResult) => void;
}

/** Runs workloads in order, each on every runner before the next workload. */
export async function runCases(opts: RunOptions): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const w of opts.workloads) {
    for (const r of opts.runners) {
      const res = await timeCase(r, w, opts.timing);
      results.push(res);
      opts.onCase?.(res);
    }
  }
  return results;
}
