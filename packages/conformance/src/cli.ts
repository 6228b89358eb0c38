/**
 * tessera-conformance: the suite as a command (ggml test-backend-ops' modes).
 *
 *   tessera-conformance test [backend] [--reference NAME] [--runs N] [--seed S] [--case NAME,…] [--kernel K,…]
 *                                      [--path P] [--import MODULE] [--verbose]
 *   tessera-conformance perf [backend] [--samples N] [--repeats N] (same selection options)
 *   tessera-conformance support [backend…]
 *   tessera-conformance grad [--backend NAME] [--cases REGEX] [--runs N] [--seed S] [--verbose]
 *
 * Backends are looked up in core's registry: `js` (backend-js), `js-primitives` (backend-js without
 * fused kernels, registered here) and whatever `--import MODULE` registers. Replay lines printed by a
 * failing run (`TESSERA_CONFORMANCE_SEED=… case=… path=…`) can be pasted after `test <backend>`.
 */
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { JsBackend } from "@tessera/backend-js";
import { type Backend, findBackend, listBackends, registerBackend } from "@tessera/core";
import { formatFailure } from "./describe.js";
import { TORCH_FIXTURES_DIR } from "./fixtures-dir.js";
import {
  formatGradFailure,
  type GradConformanceOptions,
  type GradConformanceReport,
  runGradConformance,
} from "./grad/runner.js";
import { runPerf } from "./perf.js";
import { type ConformanceOptions, defaultSeed, runConformance } from "./runner.js";
import { supportTable } from "./support.js";
import { TORCH_EDGE_CASES, TORCH_EDGE_FIXTURES_DIR } from "./torch/edge-cases.js";
import { describeTorchOpResult, runTorchOpCases } from "./torch/op-cases.js";
import type { CaseReport, CaseStatus, ConformanceReport } from "./types.js";

export interface CliIO {
  out(line: string): void;
  err(line: string): void;
}

const defaultIO: CliIO = {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
};

export const USAGE = `usage: tessera-conformance <mode> [options]

modes:
  test [backend]       run the suite against a registered backend (default js); exits 1 on failure
  perf [backend]       time each case on the backend and on the reference (median of repeats)
  support [backend…]   print the op × backend support table (Markdown) from declared capabilities
  torch [backend]      check every op against the PyTorch goldens shipped in fixtures/ (torch, torch-edge)
  grad                 gradient checks of every differentiable op: gradcheck (float64 finite differences),
                       the backend's float32 gradients vs backend-js float64, fused rules vs composites,
                       and float16/bfloat16 gradients vs float64 within a multiple of backend-js's own
                       half error (f16.grad, bf16.grad);
                       exits 1 on failure

options:
  --reference NAME     registered backend to compare with (default: a fresh backend-js)
  --runs N             fast-check runs per case (default 100)
  --seed S             fast-check seed (default: TESSERA_CONFORMANCE_SEED, else ${defaultSeed()})
  --case NAME,…        only these cases (exact name or prefix); also accepted as case=NAME
  --kernel K,…         only cases exercising these kernels (binary, softmax, …)
  --path P             replay one shrunk counterexample (as printed); also path=P
  --import MODULE      import a module that registers more backends (repeatable)
  --samples N          perf: samples per case (default 20)
  --repeats N          perf: timed repetitions (default 7)
  --backend NAME       grad: the backend under test (default js; also the first positional argument)
  --cases REGEX        grad: only cases whose name matches (replay lines' case=NAME selects one exactly)
  --verbose            test, grad: print every case, not only the summary
`;

interface Args {
  mode: string | undefined;
  positional: string[];
  flags: Map<string, string[]>;
}

const BOOLEAN_FLAGS = new Set(["verbose", "help"]);

export function parseArgs(argv: readonly string[]): Args {
  const flags = new Map<string, string[]>();
  const positional: string[] = [];
  const add = (k: string, v: string) => flags.set(k, [...(flags.get(k) ?? []), v]);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const key = eq > 0 ? a.slice(2, eq) : a.slice(2);
      if (eq > 0) add(key, a.slice(eq + 1));
      else if (BOOLEAN_FLAGS.has(key)) add(key, "true");
      else {
        const v = argv[i + 1];
        if (v === undefined) throw new UsageError(`option --${key} needs a value`);
        add(key, v);
        i++;
      }
    } else if (a === "-h") add("help", "true");
    else if (/^(case|path|seed|TESSERA_CONFORMANCE_SEED)=/.test(a)) {
      // Replay lines paste as they are printed.
      const [k, v] = [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)];
      add(k === "TESSERA_CONFORMANCE_SEED" ? "seed" : k, v);
    } else positional.push(a);
  }
  return { mode: positional.shift(), positional, flags };
}

class UsageError extends Error {}

function one(args: Args, key: string): string | undefined {
  const v = args.flags.get(key);
  return v?.[v.length - 1];
}

function int(args: Args, key: string): number | undefined {
  const v = one(args, key);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new UsageError(`option --${key} must be an integer, got '${v}'`);
  return n;
}

function list(args: Args, key: string): string[] | undefined {
  const v = args.flags.get(key);
  return v ? v.flatMap((s) => s.split(",")).filter(Boolean) : undefined;
}

/** `js-primitives` is backend-js restricted to primitives: every fused kernel runs core's composite. */
function registerBuiltins(): void {
  if (!listBackends().includes("js-primitives")) {
    registerBackend("js-primitives", () => new JsBackend({ name: "js-primitives", fused: [] }), 0);
  }
}

function lookup(name: string): Backend {
  try {
    return findBackend(name);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function options(args: Args): ConformanceOptions {
  const o: ConformanceOptions = { ...replayOptions(args) };
  const ref = one(args, "reference");
  if (ref) {
    const r = lookup(ref);
    o.reference = () => r;
  }
  const cases = list(args, "case");
  if (cases) o.cases = cases;
  const kernels = list(args, "kernel");
  if (kernels) o.kernels = kernels;
  return o;
}

/** --runs, --seed and --path (the parts of a replay line both property modes take). */
function replayOptions(args: Args): { numRuns?: number; seed?: number; path?: string } {
  const o: { numRuns?: number; seed?: number; path?: string } = {};
  const runs = int(args, "runs");
  if (runs !== undefined) o.numRuns = runs;
  const seed = int(args, "seed");
  if (seed !== undefined) o.seed = seed;
  const path = one(args, "path");
  if (path !== undefined) o.path = path;
  return o;
}

function gradOptions(args: Args, backend: string): GradConformanceOptions {
  const o: GradConformanceOptions = { backend, ...replayOptions(args) };
  const regex = one(args, "cases");
  const exact = list(args, "case");
  if (regex !== undefined && exact) throw new UsageError("grad: give --cases REGEX or case=NAME, not both");
  if (regex !== undefined) {
    try {
      o.cases = new RegExp(regex);
    } catch (e) {
      throw new UsageError(`option --cases: ${(e as Error).message}`);
    }
  } else if (exact) o.cases = (c) => exact.includes(c.name);
  return o;
}

/** The summary `grad` prints: counts, what did not run, then failures with replay lines. */
export function formatGradReport(report: GradConformanceReport, verbose = false): string[] {
  const c = report.counts;
  const lines: string[] = [
    `grad conformance: ${report.backend} (float32) vs ${report.reference} (float64) + gradcheck + fused vs composite` +
      `${report.cases.some((r) => r.tolerance) ? "; half cases: float16/bfloat16 vs float64 within f16.grad/bf16.grad" : ""}, ` +
      `seed ${report.seed}, ${report.numRuns} runs per case, ${(report.ms / 1000).toFixed(1)} s`,
    "",
    `${report.cases.length} case${report.cases.length === 1 ? "" : "s"}: ${c.passed} passed, ${c.failed} failed, ${c.unsupported} unsupported`,
  ];
  if (verbose) {
    lines.push(
      "",
      ...table(
        ["case", "dtype", "status", "ops", "checks", "runs", "ms"],
        report.cases.map((r) => [
          r.name,
          r.dtype,
          r.status,
          r.ops.join(", "),
          r.checks.join(" + "),
          r.runs,
          r.ms.toFixed(0),
        ]),
      ),
    );
  }
  const notRun = report.cases.filter((r) => r.status === "unsupported");
  if (notRun.length) {
    lines.push("", "not run:");
    for (const r of notRun) lines.push(`  ${r.name}: unsupported: ${r.reason}`);
  }
  const failed = report.cases.filter((r) => r.status === "failed");
  if (failed.length) {
    lines.push("", "failures:");
    for (const r of failed) lines.push("", formatGradFailure(r));
    lines.push("", "replay:");
    for (const r of failed)
      lines.push(`  tessera-conformance grad --backend ${r.backend} ${r.failure!.replay}`);
  }
  return lines;
}

function table(header: string[], rows: (string | number)[][]): string[] {
  return [
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ];
}

/** The summary `test` prints: per kernel and path, then failures with replay lines, then what did not run. */
export function formatReport(report: ConformanceReport, verbose = false): string[] {
  const lines: string[] = [
    `conformance: ${report.backend} vs ${report.reference}, seed ${report.seed}, ${report.numRuns} runs per case, ${(report.ms / 1000).toFixed(1)} s`,
    "",
  ];
  const groups = new Map<string, Record<CaseStatus, number>>();
  for (const c of report.cases) {
    const key = `${c.kernel}\u0000${c.path}\u0000${c.checks.join(" + ")}`;
    const g = groups.get(key) ?? { passed: 0, failed: 0, unsupported: 0, unavailable: 0 };
    g[c.status]++;
    groups.set(key, g);
  }
  lines.push(
    ...table(
      ["kernel", "path", "checked against", "passed", "failed", "unsupported", "unavailable"],
      [...groups].map(([k, g]) => [...k.split("\u0000"), g.passed, g.failed, g.unsupported, g.unavailable]),
    ),
  );
  const c = report.counts;
  lines.push(
    "",
    `${c.passed} passed, ${c.failed} failed, ${c.unsupported} unsupported, ${c.unavailable} unavailable`,
    `${report.cases.filter((r) => r.checks.includes("oracle") && r.status !== "unsupported" && r.status !== "unavailable").length} of the cases that ran were also checked against a float64 oracle`,
  );
  if (verbose) {
    lines.push(
      "",
      ...table(
        ["case", "status", "path", "checked against", "runs", "ms", "tolerance"],
        report.cases.map(caseRow),
      ),
    );
  }
  const overridden = report.cases.filter((r) => r.toleranceOverride);
  if (overridden.length) {
    lines.push("", "tolerance overrides:");
    for (const r of overridden)
      lines.push(`  ${r.name}: ${r.toleranceOverride!.from} → ${r.toleranceOverride!.to}`);
  }
  const notRun = report.cases.filter((r) => r.status === "unsupported" || r.status === "unavailable");
  if (notRun.length) {
    lines.push("", "not run:");
    for (const r of notRun) lines.push(`  ${r.name}: ${r.status}: ${r.reason}`);
  }
  const failed = report.cases.filter((r) => r.status === "failed");
  if (failed.length) {
    lines.push("", "failures:");
    for (const r of failed) lines.push("", formatFailure(r));
    lines.push("", "replay:");
    for (const r of failed) lines.push(`  ${r.failure!.replay}`);
  }
  return lines;
}

function caseRow(r: CaseReport): (string | number)[] {
  return [
    r.name,
    r.status,
    r.path,
    r.checks.join(" + "),
    r.runs,
    r.ms.toFixed(0),
    r.toleranceOverride ? `${r.tolerance} (override)` : r.tolerance,
  ];
}

/** Runs the command; returns the exit code instead of exiting, so tests can call it in-process. */
export async function main(argv: readonly string[], io: CliIO = defaultIO): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (e) {
    io.err(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (args.flags.has("help") || args.mode === "help" || args.mode === undefined) {
    (args.mode === undefined && !args.flags.has("help") ? io.err : io.out)(USAGE);
    return args.mode === undefined && !args.flags.has("help") ? 2 : 0;
  }
  try {
    for (const m of args.flags.get("import") ?? [])
      await import(m.startsWith(".") ? pathToFileURL(m).href : m);
    registerBuiltins();
    switch (args.mode) {
      case "test": {
        const name = args.positional[0] ?? "js";
        const backend = lookup(name);
        const verbose = args.flags.has("verbose");
        const report = await runConformance(() => backend, options(args));
        for (const l of formatReport(report, verbose)) io.out(l);
        return report.ok ? 0 : 1;
      }
      case "perf": {
        const name = args.positional[0] ?? "js";
        const backend = lookup(name);
        const o = options(args);
        const samples = int(args, "samples");
        const repeats = int(args, "repeats");
        const rows = await runPerf(() => backend, {
          ...o,
          ...(samples !== undefined ? { samples } : {}),
          ...(repeats !== undefined ? { repeats } : {}),
        });
        io.out(
          `perf: ${name} vs reference, median of ${repeats ?? 7} repeats over ${samples ?? 20} samples per case (ms)`,
        );
        io.out("");
        for (const l of table(
          ["case", "path", `${name} ms`, "reference ms", "speedup"],
          rows.map((r) => [
            r.name,
            r.path,
            r.testedMs.toFixed(3),
            r.referenceMs.toFixed(3),
            `${r.speedup.toFixed(2)}×`,
          ]),
        )) {
          io.out(l);
        }
        return 0;
      }
      case "support": {
        const names = args.positional.length ? args.positional : listBackends();
        io.out(supportTable(names.map(lookup)));
        return 0;
      }
      case "torch": {
        const name = args.positional[0] ?? "js";
        lookup(name);
        const results = [
          ...(await runTorchOpCases(name, TORCH_FIXTURES_DIR)),
          ...(await runTorchOpCases(name, TORCH_EDGE_FIXTURES_DIR, TORCH_EDGE_CASES)),
        ];
        const failed = results.filter((r) => !r.ok);
        for (const r of failed) io.out(describeTorchOpResult(r));
        io.out(
          `torch goldens on '${name}': ${results.length - failed.length} passed, ${failed.length} failed`,
        );
        return failed.length ? 1 : 0;
      }
      case "grad": {
        const name = one(args, "backend") ?? args.positional[0] ?? "js";
        lookup(name);
        const report = await runGradConformance(gradOptions(args, name));
        for (const l of formatGradReport(report, args.flags.has("verbose"))) io.out(l);
        return report.ok ? 0 : 1;
      }
      default:
        io.err(`unknown mode '${args.mode}'\n\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`${e.message}\n\n${USAGE}`);
      return 2;
    }
    throw e;
  }
}

/**
 * Whether this module is the program node started: the bin (dist/cli.js) or a bundle of the CLI
 * named conformance*.mjs. Another program that bundles this package inline (import.meta.url is then
 * that program's file) must not start the CLI, so the file name is checked too.
 */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script || !/(^|[\\/])(cli|tessera-conformance|conformance[\w-]*)(\.[cm]?[jt]s)?$/.test(script))
    return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
