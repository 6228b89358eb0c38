/** Machine facts, the side-by-side table, and the JSON written under <repo>/bench/results/. */
import { execFileSync } from "node:child_process";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { CaseResult, TimingOptions } from "./harness.js";
import type { Workload } from "./workloads.js";

export interface MachineFacts {
  cpu: string;
  cores: number;
  memoryGiB: number;
  platform: string;
  arch: string;
  node: string;
}

export function machineFacts(): MachineFacts {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? "unknown cpu",
    cores: os.availableParallelism?.() ?? cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: os.platform(),
    arch: os.arch(),
    node: process.version,
  };
}

export interface BenchReport {
  /** 2: runners carry `threads`, results may be `skipped` and carry `gbps`, `peaks` added. */
  schema: 2;
  date: string;
  commit: string | null;
  machine: MachineFacts;
  timing: TimingOptions;
  baseline: string;
  runners: { name: string; kind: string; description: string; fused: readonly string[]; threads?: number }[];
  /** The machine's single-precision FMA peak per thread count (native's fmaPeak; empty without native). */
  peaks: { threads: number; gflops: number }[];
  workloads: readonly Workload[];
  results: CaseResult[];
  notes: string[];
}

/** The repository root, found from this file's location (src/ or dist/ of packages/bench). */
export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const DEFAULT_RESULTS_DIR = join(REPO_ROOT, "bench", "results");

export function gitCommit(): string | null {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "ignore"],
    })
      .toString()
      .trim();
  } catch {
    return null;
  }
}

/** "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz" → "intel-xeon-platinum-8375c-cpu-2-90ghz". */
export function slug(s: string): string {
  return (
    s
      .toLowerCase()
      .replace(/\((r|tm)\)/g, "")
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "") || "unknown"
  );
}

/**
 * Writes `<date>-<cpu-slug>.json` and `latest.json` (same content) into `dir`; each through a
 * temporary file and a rename, so an interrupted run never leaves half a file. Returns both paths.
 */
export function writeReport(report: BenchReport, dir = DEFAULT_RESULTS_DIR): string[] {
  mkdirSync(dir, { recursive: true });
  const text = `${JSON.stringify(report, null, 2)}\n`;
  const names = [`${report.date.slice(0, 10)}-${slug(report.machine.cpu)}.json`, "latest.json"];
  return names.map((name) => {
    const path = join(dir, name);
    writeFileSync(`${path}.tmp`, text);
    renameSync(`${path}.tmp`, path);
    return path;
  });
}

function fmtNum(x: number): string {
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

type Row = BenchReport["runners"][number];

/** The FMA peak a runner's GFLOP/s is compared with: the peak on its thread count (peers: one thread). */
function peakFor(report: BenchReport, runner: Row): number | undefined {
  const threads = runner.threads ?? 1;
  return report.peaks.find((p) => p.threads === threads)?.gflops;
}

/** Median ms and the rate: GFLOP/s with its share of the FMA peak, or GB/s. */
function cell(report: BenchReport, runner: Row, r: CaseResult | undefined): [string, string] {
  if (!r) return ["", ""];
  if (r.status !== "ok") return [r.status === "unsupported" ? "n/a" : r.status, ""];
  let rate = "";
  if (r.gflops !== undefined) {
    const peak = peakFor(report, runner);
    rate = `${fmtNum(r.gflops)} GF/s${peak ? ` ${fmtNum((100 * r.gflops) / peak)}%` : ""}`;
  } else if (r.gbps !== undefined) rate = `${fmtNum(r.gbps)} GB/s`;
  return [fmtNum(r.medianMs), rate];
}

/** Aligned text table; the header rows' first cells are left-aligned, numbers right-aligned. */
function layout(rows: string[][], groupHeader?: string[], groupSpan = 1): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const line = (row: string[]) =>
    row
      .map((v, c) => (c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!)))
      .join("  ")
      .replace(/\s+$/, "");
  const lines = rows.map(line);
  if (groupHeader) {
    // Group headers sit left-aligned over their `groupSpan` columns.
    const g = [groupHeader[0]!.padEnd(widths[0]!)];
    for (let i = 1; i < groupHeader.length; i++) {
      let w = (groupSpan - 1) * 2;
      for (let j = 0; j < groupSpan; j++) w += widths[1 + (i - 1) * groupSpan + j]!;
      g.push(groupHeader[i]!.padEnd(w));
    }
    lines.unshift(g.join("  ").replace(/\s+$/, ""));
  }
  return lines;
}

/**
 * Ratio columns: [subject, reference] pairs, each shown as reference median / subject median
 * (above 1: the subject is faster), when both runners are in the report.
 */
export const RATIO_PAIRS: readonly (readonly [string, string])[] = [
  ["js", "tfjs-cpu"],
  ["native", "js"],
  ["native", "tfjs-cpu"],
  ["native", "tfjs-wasm"],
  ["native", "native-primitives"],
  ["native", "native-1t"],
];

/**
 * Two tables. Medians: per runner, the median ms and the rate (GFLOP/s with its % of the FMA peak
 * on the runner's thread count when native measured one, or GB/s for memory-bound ops). Ratios:
 * for each pair in RATIO_PAIRS present, how many times faster the first runner is than the second.
 * Then one line per distinct problem (error, skipped, n/a, leaked tensors) with the runners it affects.
 */
export function formatTable(report: BenchReport): string {
  const names = report.runners.map((r) => r.name);
  const byKey = new Map(report.results.map((r) => [`${r.workload}\u0000${r.backend}`, r]));
  const get = (w: Workload, n: string) => byKey.get(`${w.id}\u0000${n}`);

  const header = ["median"];
  for (const _ of names) header.push("ms", "rate");
  const rows = report.workloads.map((w) => [
    w.label,
    ...report.runners.flatMap((r) => cell(report, r, get(w, r.name))),
  ]);
  const lines = layout([header, ...rows], ["", ...names], 2);

  const pairs = RATIO_PAIRS.filter(([a, b]) => names.includes(a) && names.includes(b));
  if (pairs.length > 0) {
    const ratioHeader = ["speedup of a vs b (b ms / a ms)", ...pairs.map(([a, b]) => `${a} vs ${b}`)];
    const ratioRows = report.workloads.map((w) => [
      w.label,
      ...pairs.map(([a, b]) => {
        const ra = get(w, a);
        const rb = get(w, b);
        return ra?.status === "ok" && rb?.status === "ok" ? `${(rb.medianMs / ra.medianMs).toFixed(2)}×` : "";
      }),
    ]);
    lines.push("", ...layout([ratioHeader, ...ratioRows]));
  }

  // One line per distinct problem, not per cell: a missing op shows up once with every backend it affects.
  const problems = new Map<string, string[]>();
  for (const r of report.results) {
    let msg: string | undefined;
    if (r.status === "ok")
      msg = r.leakedTensors ? `! ${r.workload}: ${r.leakedTensors} tensors leaked` : undefined;
    else {
      const tag =
        r.status === "error" ? "! error" : r.status === "skipped" ? `- skipped ${r.workload}` : "- n/a";
      msg = `${tag}: ${r.reason.split("\n")[0]}`;
    }
    if (!msg) continue;
    const who = problems.get(msg) ?? [];
    if (!who.includes(r.backend)) who.push(r.backend);
    problems.set(msg, who);
  }
  lines.push("");
  for (const [msg, who] of problems) lines.push(`${msg} (${who.join(", ")})`);
  return lines.join("\n").replace(/\n+$/, "");
}
