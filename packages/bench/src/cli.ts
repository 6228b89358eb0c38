/**
 * `pnpm bench` — usage: node dist/cli.js [--smoke] [--only NAME,…] [--ops OP|ID,…] [--out DIR] [--no-write]
 *   --smoke      tiny shapes, one or two runs: checks the harness, not the speed (writes only with --out)
 *   --only       runners to keep, e.g. --only native,native-1t,js,tfjs-cpu
 *   --ops        workloads to keep, by op or id, e.g. --ops matmul,conv2d
 *   --out DIR    where the JSON goes (default <repo>/bench/results)
 *   --no-write   print only
 */
import { parseArgs } from "node:util";
import { runBench } from "./bench.js";
import { DEFAULT_TIMING, SMOKE_TIMING } from "./harness.js";
import { DEFAULT_RESULTS_DIR, formatTable, writeReport } from "./report.js";
import { OP_NAMES, SMOKE_WORKLOADS, WORKLOADS } from "./workloads.js";

const { values } = parseArgs({
  options: {
    smoke: { type: "boolean", default: false },
    only: { type: "string" },
    ops: { type: "string" },
    out: { type: "string" },
    "no-write": { type: "boolean", default: false },
  },
});

const list = (s: string | undefined) =>
  s
    ?.split(",")
    .map((x) => x.trim())
    .filter(Boolean);
const ops = list(values.ops);
const workloads = (values.smoke ? SMOKE_WORKLOADS : WORKLOADS).filter(
  (w) => !ops || ops.includes(w.op) || ops.includes(w.id),
);
if (workloads.length === 0) {
  console.error(
    `bench: --ops ${values.ops} matches no workload (ops: ${OP_NAMES.join(", ")}; or a workload id)`,
  );
  process.exit(2);
}

const started = performance.now();
const only = list(values.only);
const report = await runBench({
  workloads,
  ...(only ? { only } : {}),
  timing: values.smoke ? SMOKE_TIMING : DEFAULT_TIMING,
  onCase: (r) => {
    const what = r.status === "ok" ? `${r.medianMs.toFixed(2)} ms (median of ${r.runs})` : r.status;
    process.stderr.write(`  ${r.workload.padEnd(26)} ${r.backend.padEnd(16)} ${what}\n`);
  },
});
const fmtPeak = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const m = report.machine;
console.log(`\nTessera bench · ${m.cpu} · ${m.cores} cores · Node ${m.node} · ${report.date.slice(0, 10)}`);
console.log("median of timed runs after warm-up; GF/s (% of the FMA peak on the runner's threads) or GB/s");
if (report.peaks.length > 0) {
  const peaks = report.peaks.map((p) => `${fmtPeak(p.gflops)} GFLOP/s on ${p.threads} thread(s)`);
  console.log(`FMA peak (native fmaPeak): ${peaks.join(", ")}`);
}
console.log("");
console.log(formatTable(report));
for (const n of report.notes) console.log(`- ${n}`);
if (!values["no-write"] && (!values.smoke || values.out)) {
  for (const p of writeReport(report, values.out ?? DEFAULT_RESULTS_DIR)) console.log(`wrote ${p}`);
}
console.log(`bench took ${((performance.now() - started) / 1000).toFixed(1)} s`);
if (report.results.some((r) => r.status === "error")) process.exitCode = 1;
