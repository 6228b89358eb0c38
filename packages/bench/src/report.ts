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
  schema: 1;
  date: string;
  commit: string | null;
  machine: MachineFacts;
  timing: TimingOptions;
  baseline: string;
  runners: { name: string; kind: string; description: string; fused: readonly string[] }[];
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

function cell(r: CaseResult | undefined, base: CaseResult | undefined, showRatio: boolean): string[] {
  if (!r) return ["", "", ""];
  if (r.status !== "ok") return [r.status === "unsupported" ? "n/a" : "error", "", ""];
  const ratio = showRatio && base?.status === "ok" ? `${(base.medianMs / r.medianMs).toFixed(2)}×` : "";
  return [fmtNum(r.medianMs), r.gflops === undefined ? "" : fmtNum(r.gflops), ratio];
}

/**
 * The side-by-side table: per runner, median ms, GFLOP/s (matmul, conv) and the speed ratio against
 * the baseline (baseline median / runner median: above 1 is faster than the baseline).
 */
export function formatTable(report: BenchReport): string {
  const names = report.runners.map((r) => r.name);
  const byKey = new Map(report.results.map((r) => [`${r.workload}\u0000${r.backend}`, r]));
  const header1 = ["workload"];
  const header2 = [""];
  for (const n of names) {
    header1.push(n, "", "");
    header2.push("ms", "GF/s", n === report.baseline ? "" : "speedup");
  }
  const rows = report.workloads.map((w) => {
    const base = byKey.get(`${w.id}\u0000${report.baseline}`);
    return [
      w.label,
      ...names.flatMap((n) => cell(byKey.get(`${w.id}\u0000${n}`), base, n !== report.baseline)),
    ];
  });
  const all = [header1, header2, ...rows];
  const widths = header1.map((_, c) => Math.max(...all.map((row) => row[c]!.length)));
  const line = (row: string[]) =>
    row
      .map((v, c) => (c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!)))
      .join("  ")
      .replace(/\s+$/, "");
  // Group headers sit left-aligned over their three columns.
  const groupHeader = [header1[0]!.padEnd(widths[0]!)];
  for (let i = 0; i < names.length; i++) {
    const w = widths[1 + 3 * i]! + widths[2 + 3 * i]! + widths[3 + 3 * i]! + 4;
    groupHeader.push(names[i]!.padEnd(w));
  }
  const lines = [groupHeader.join("  ").replace(/\s+$/, ""), line(header2), ...rows.map(line)];
  // One line per distinct problem, not per cell: a missing op shows up once with every backend it affects.
  const problems = new Map<string, string[]>();
  for (const r of report.results) {
    let msg: string | undefined;
    if (r.status === "ok")
      msg = r.leakedTensors ? `! ${r.workload}: ${r.leakedTensors} tensors leaked` : undefined;
    else msg = `${r.status === "error" ? "! error" : "- n/a"}: ${r.reason.split("\n")[0]}`;
    if (!msg) continue;
    const who = problems.get(msg) ?? [];
    if (!who.includes(r.backend)) who.push(r.backend);
    problems.set(msg, who);
  }
  for (const [msg, who] of problems) lines.push(`${msg} (${who.join(", ")})`);
  return lines.join("\n");
}
