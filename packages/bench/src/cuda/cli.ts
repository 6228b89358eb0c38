/**
 * tessera CUDA benchmark (issue 8): GEMM, scaled-dot-product attention and a ViT-B/16 training step
 * on backend 'cuda', written as one JSON file that packages/bench/scripts/cuda_compare.py joins with
 * packages/bench/scripts/torch_cuda_bench.py's on the same GPU. Bundled by scripts/gpu/prepare.sh
 * and run by scripts/gpu/run.sh on the GPU machine:
 *
 *   node .gpu/cuda-bench.mjs [--backend cuda] [--out FILE] [--only gemm,attention,vit] [--small]
 *                            [--label NAME] [--repeats N] [--warmup N] [--vit-batch N]
 *                            [--attn-seqs 1024,4096] [--gemm-n N]
 *   node .gpu/cuda-bench.mjs --status        what loaded (addon, cuda device, backends), as JSON
 *
 * --small runs every case at CPU-sized shapes (with --backend native or js it proves the code path
 * where there is no GPU).
 */
import { writeFileSync } from "node:fs";
import "@tessera/backend-js";
import { cudaStatus, nativeStatus } from "@tessera/backend-native";
import { findBackend, listBackends } from "@tessera/core";
import {
  type CaseOutcome,
  FULL_MEASURE,
  findAutocast,
  type MeasureOptions,
  runCase,
  SMALL_MEASURE,
} from "./run.js";
import {
  type CaseGroup,
  type CudaBenchConfig,
  cudaCases,
  FULL_CONFIG,
  GROUPS,
  SMALL_CONFIG,
} from "./workloads.js";

const USAGE = `usage: cuda-bench [--backend cuda] [--out FILE] [--only gemm,attention,vit] [--cases ID,…]
                  [--small] [--label NAME] [--repeats N] [--warmup N] [--vit-batch N]
                  [--attn-seqs 1024,4096] [--gemm-n N]
       cuda-bench --status`;

interface Args {
  backend: string;
  out?: string;
  only: CaseGroup[];
  cases?: string[];
  small: boolean;
  status: boolean;
  label: string;
  repeats?: number;
  warmup?: number;
  vitBatch?: number;
  attnSeqs?: number[];
  gemmN?: number;
}

function parse(argv: readonly string[]): Args {
  const a: Args = { backend: "cuda", only: [...GROUPS], small: false, status: false, label: "tessera" };
  const int = (v: string | undefined, flag: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: expected a positive integer, got '${v}'`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "--backend":
        a.backend = val();
        break;
      case "--out":
        a.out = val();
        break;
      case "--only": {
        const groups = val().split(",");
        for (const g of groups) {
          if (!GROUPS.includes(g as CaseGroup))
            throw new Error(`--only: unknown group '${g}' (${GROUPS.join(", ")})`);
        }
        a.only = groups as CaseGroup[];
        break;
      }
      case "--cases":
        a.cases = val().split(",");
        break;
      case "--small":
        a.small = true;
        break;
      case "--status":
        a.status = true;
        break;
      case "--label":
        a.label = val();
        break;
      case "--repeats":
        a.repeats = int(val(), flag);
        break;
      case "--warmup":
        a.warmup = Number(val());
        break;
      case "--vit-batch":
        a.vitBatch = int(val(), flag);
        break;
      case "--attn-seqs":
        a.attnSeqs = val()
          .split(",")
          .map((s) => int(s, flag));
        break;
      case "--gemm-n":
        a.gemmN = int(val(), flag);
        break;
      case "--help":
      case "-h":
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument '${flag}'\n${USAGE}`);
    }
  }
  return a;
}

function status(): Record<string, unknown> {
  const native = nativeStatus();
  const cuda = cudaStatus();
  const backends: Record<string, unknown> = {};
  for (const name of listBackends()) {
    try {
      backends[name] = findBackend(name).info();
    } catch (e) {
      backends[name] = { error: (e as Error).message };
    }
  }
  return {
    native: { available: native.available, reason: native.reason, binary: native.binary },
    cuda: { available: cuda.available, reason: cuda.reason, info: cuda.info },
    backends,
    autocast: findAutocast() !== undefined,
    env: {
      TESSERA_NATIVE_BINARY: process.env.TESSERA_NATIVE_BINARY ?? null,
      TESSERA_CUBLAS_PATH: process.env.TESSERA_CUBLAS_PATH ?? null,
      TESSERA_CUDA_TF32: process.env.TESSERA_CUDA_TF32 ?? null,
    },
  };
}

const fmt = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : "-");

export function formatTable(results: readonly CaseOutcome[]): string[] {
  const rows = results.map((r) =>
    r.status === "ok"
      ? [r.label, fmt(r.medianMs, 3), fmt(r.tflops, 2), r.liveTensorsFlat === false ? "growing" : ""]
      : [r.label, r.status, "", r.reason.split("\n")[0]!.slice(0, 100)],
  );
  const head = ["case", "median ms", "TFLOP/s", "note"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(head), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)];
}

async function main(argv: readonly string[]): Promise<number> {
  const args = parse(argv);
  if (args.status) {
    console.log(JSON.stringify(status(), null, 2));
    return 0;
  }
  if (!listBackends().includes(args.backend)) {
    const cuda = cudaStatus();
    console.error(
      `cuda-bench: backend '${args.backend}' is not registered (have ${listBackends().join(", ")})` +
        (args.backend === "cuda"
          ? `; cuda: ${cuda.reason ?? "?"}; native: ${nativeStatus().reason ?? "ok"}`
          : ""),
    );
    return 2;
  }
  const base = args.small ? SMALL_CONFIG : FULL_CONFIG;
  const config: CudaBenchConfig = {
    ...base,
    gemmN: args.gemmN ?? base.gemmN,
    attention: { ...base.attention, seqs: args.attnSeqs ?? base.attention.seqs },
    vitBatch: args.vitBatch ?? base.vitBatch,
  };
  const measure: MeasureOptions = {
    ...(args.small ? SMALL_MEASURE : FULL_MEASURE),
    ...(args.repeats !== undefined ? { repeats: args.repeats, vitRepeats: args.repeats } : {}),
    ...(args.warmup !== undefined ? { warmup: args.warmup } : {}),
  };
  const cases = cudaCases(config).filter(
    (c) =>
      args.only.includes(c.kind) &&
      (!args.cases || args.cases.some((id) => c.id === id || c.id.startsWith(id))),
  );
  const info = findBackend(args.backend).info();
  const report = {
    tool: args.label,
    backend: args.backend,
    device: String(info.deviceName ?? info.description),
    deviceInfo: info,
    node: process.version,
    date: new Date().toISOString(),
    small: args.small,
    config,
    measure,
    env: {
      TESSERA_CUBLAS_PATH: process.env.TESSERA_CUBLAS_PATH ?? null,
      TESSERA_CUDA_TF32: process.env.TESSERA_CUDA_TF32 ?? null,
    },
    results: [] as CaseOutcome[],
  };
  const save = () => {
    if (args.out) writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);
  };
  console.log(`${args.label} on '${args.backend}': ${info.description}`);
  save();
  for (const c of cases) {
    const t0 = Date.now();
    const r = await runCase(args.backend, c, measure);
    report.results.push(r);
    save(); // after every case: a run cut short by a time limit keeps what it measured
    const what =
      r.status === "ok"
        ? `${fmt(r.medianMs, 3)} ms, ${fmt(r.tflops, 2)} TFLOP/s (${r.samplesMs.length}×${r.itersPerSample})`
        : `${r.status}: ${r.reason.split("\n")[0]}`;
    console.log(`  ${c.label}: ${what} [${((Date.now() - t0) / 1000).toFixed(1)} s]`);
    if (r.status === "error") console.error(r.reason);
  }
  console.log("");
  for (const l of formatTable(report.results)) console.log(l);
  return report.results.some((r) => r.status === "error") ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exitCode = 2;
  },
);
