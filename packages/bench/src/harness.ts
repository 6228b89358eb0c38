/**
 * Times every workload on every runner in one process: warm-up, then timed runs until the run
 * count or the per-case time budget is reached; the median is reported, the min kept too.
 */
import { performance } from "node:perf_hooks";
import { type Runner, Unsupported } from "./runner.js";
import { gbps, gflops, summarize, type Timing } from "./stats.js";
import type { OpName, Workload } from "./workloads.js";

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
  | ({
      workload: string;
      backend: string;
      status: "ok";
      gflops?: number;
      /** Bytes read + written per second, in GB/s (1e9), for workloads that declare `bytes`. */
      gbps?: number;
      leakedTensors: number;
    } & Timing)
  | { workload: string; backend: string; status: "unsupported" | "error" | "skipped"; reason: string };

const gc = (globalThis as { gc?: () => void }).gc;

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * Times `w` on `runner`. `estimateMs`: the run time predicted from the runner's rate on an earlier
 * workload; above `w.maxRunMs` the case is skipped without running.
 */
export async function timeCase(
  runner: Runner,
  w: Workload,
  opts: TimingOptions,
  estimate?: { ms: number; from: string },
): Promise<CaseResult> {
  const base = { workload: w.id, backend: runner.name };
  if (w.maxRunMs !== undefined && estimate && estimate.ms > w.maxRunMs) {
    return {
      ...base,
      status: "skipped",
      reason: `a run would take about ${seconds(estimate.ms)} at its ${estimate.from} rate (limit ${seconds(w.maxRunMs)})`,
    };
  }
  const minRuns = w.timing?.minRuns ?? opts.minRuns;
  let prepared: ReturnType<Runner["prepare"]> | undefined;
  try {
    await runner.activate?.();
    const liveBefore = runner.liveTensors();
    prepared = runner.prepare(w);
    for (let i = 0; i < opts.warmup; i++) {
      const t0 = performance.now();
      await prepared.run();
      const ms = performance.now() - t0;
      if (w.maxRunMs !== undefined && ms > w.maxRunMs) {
        prepared.dispose();
        return {
          ...base,
          status: "skipped",
          reason: `one run took ${seconds(ms)} (limit ${seconds(w.maxRunMs)})`,
        };
      }
      if (ms > opts.budgetMs) break;
    }
    gc?.();
    const samples: number[] = [];
    const start = performance.now();
    while (
      samples.length < opts.maxRuns &&
      (samples.length < minRuns || performance.now() - start < opts.budgetMs)
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
      ...(w.bytes ? { gbps: gbps(w.bytes, timing.medianMs) } : {}),
      leakedTensors,
    };
  } catch (e) {
    prepared?.dispose();
    if (e instanceof Unsupported) return { ...base, status: "unsupported", reason: e.message };
    return { ...base, status: "error", reason: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  } finally {
    runner.deactivate?.();
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
  // Per runner and op, the best GFLOP/s seen so far and on which workload: predicts a bigger case's time.
  const rates = new Map<string, { gflops: number; label: string }>();
  for (const w of opts.workloads) {
    for (const r of opts.runners) {
      const rate = rates.get(`${r.name}\u0000${w.rateFrom ?? w.op}`);
      const estimate = rate && w.flops ? { ms: w.flops / rate.gflops / 1e6, from: rate.label } : undefined;
      const res = await timeCase(r, w, opts.timing, estimate);
      if (res.status === "ok" && res.gflops) {
        const key = `${r.name}\u0000${w.op as OpName}`;
        if (res.gflops > (rates.get(key)?.gflops ?? 0))
          rates.set(key, { gflops: res.gflops, label: w.label });
      }
      results.push(res);
      opts.onCase?.(res);
    }
  }
  return results;
}
