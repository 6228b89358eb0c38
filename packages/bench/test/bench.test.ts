import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  BASELINE,
  type BenchReport,
  type CaseResult,
  formatTable,
  type Inputs,
  median,
  type Runner,
  registerBenchBackends,
  runBench,
  runCases,
  SMOKE_TIMING,
  SMOKE_WORKLOADS,
  slug,
  tesseraRunner,
  threadedBackend,
  timeCase,
  WORKLOADS,
  type Workload,
  writeReport,
} from "../src/index.js";
import { tfjsRunner } from "../src/peers/tfjs.js";

/** Workloads a peer does not implement, by design (see peers/tfjs.ts): tfjs has no whole-model cases. */
const PEER_UNSUPPORTED = new Set<string>(["miniVitStep", "vitInference"]);

/** Whether the native addon loaded here (it registers 'native'; a partial dev build does not). */
const nativeHere = async () => {
  await registerBenchBackends();
  return threadedBackend("native") !== undefined;
};

describe("stats", () => {
  it("median of odd and even counts ignores order", () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});

describe("workloads", () => {
  it("GEMM-shaped workloads carry their FLOP counts, memory-bound ones their bytes", () => {
    const mm = WORKLOADS.find((w) => w.id === "matmul-1024")!;
    expect(mm.flops).toBe(2 * 1024 ** 3);
    expect(WORKLOADS.map((w) => w.id)).toEqual(
      expect.arrayContaining(["matmul-256", "matmul-512", "matmul-2048", "attention-64x1024x64"]),
    );
    const conv = WORKLOADS.find((w) => w.op === "conv2d")!;
    expect(conv.flops).toBe(2 * 8 * 64 * 56 * 56 * 64 * 9);
    const att = WORKLOADS.find((w) => w.op === "attention")!;
    expect(att.shapes.q).toEqual([64, 1024, 64]);
    expect(att.flops).toBe(4 * 64 * 1024 * 1024 * 64);
    for (const op of ["layerNorm", "softmax", "gelu"]) {
      const w = WORKLOADS.find((x) => x.op === op)!;
      expect(w.shapes.x, op).toEqual([4096, 1024]);
      // x read once, y written once (layer norm also reads its [1024] weight and bias).
      expect(w.bytes! - 2 * 4096 * 1024 * 4, op).toBe(op === "layerNorm" ? 2 * 1024 * 4 : 0);
    }
    const block = WORKLOADS.find((w) => w.op === "blockGrad")!;
    const t = 8 * 197;
    const forward = 2 * t * 192 * (576 + 192 + 768 + 768) + 4 * 8 * 197 * 197 * 192;
    expect(block.flops).toBe(3 * forward);
    expect(block.heads).toBe(3);
    // Every op has a smoke version.
    expect(new Set(SMOKE_WORKLOADS.map((w) => w.op))).toEqual(new Set(WORKLOADS.map((w) => w.op)));
  });
});

/** A runner that computes nothing: `run` calls `onRun`; records activate/deactivate. */
function fakeRunner(onRun: (w: Workload) => void = () => {}) {
  const log: string[] = [];
  const runner: Runner = {
    name: "fake",
    kind: "peer",
    description: "test double",
    fused: [],
    async activate() {
      log.push("activate");
    },
    deactivate() {
      log.push("deactivate");
    },
    liveTensors: () => 0,
    prepare(w) {
      log.push(`prepare ${w.id}`);
      return {
        async run() {
          onRun(w);
        },
        async output() {
          return new Float32Array(0);
        },
        dispose() {},
      };
    },
  };
  return { runner, log };
}

const busy = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end) {}
};

describe("harness", () => {
  it("skips a case whose estimated run time exceeds maxRunMs without preparing it, and says why", async () => {
    const { runner, log } = fakeRunner();
    const w: Workload = { id: "big", op: "matmul", label: "big", shapes: {}, flops: 1, maxRunMs: 1000 };
    const r = await timeCase(runner, w, SMOKE_TIMING, { ms: 20_000, from: "matmul 1024³" });
    expect(r.status).toBe("skipped");
    expect(r.status !== "ok" && r.reason).toMatch(/about 20\.0 s at its matmul 1024³ rate \(limit 1\.0 s\)/);
    expect(log).toEqual([]);
  });

  it("estimates a bigger workload's time from the runner's GFLOP/s on a smaller one of the same op", async () => {
    // Each run takes at least 5 ms, so 1e6 FLOPs run at ≤ 0.2 GFLOP/s and 1e12 FLOPs would take ≥ 5000 s.
    const { runner, log } = fakeRunner(() => busy(5));
    const small: Workload = { id: "s", op: "matmul", label: "s", shapes: {}, flops: 1e6 };
    const big: Workload = { id: "b", op: "matmul", label: "b", shapes: {}, flops: 1e12, maxRunMs: 60_000 };
    const other: Workload = { id: "o", op: "gelu", label: "o", shapes: {}, flops: 1e12, maxRunMs: 60_000 };
    const [rs, rb, ro] = await runCases({
      workloads: [small, big, other],
      runners: [runner],
      timing: SMOKE_TIMING,
    });
    expect(rs!.status).toBe("ok");
    expect(rb!.status).toBe("skipped");
    expect(rb!.status !== "ok" && rb!.reason).toContain("at its s rate");
    // No rate known for gelu: it runs (its one run takes 5 ms, under the limit).
    expect(ro!.status).toBe("ok");
    expect(log.filter((l) => l.startsWith("prepare"))).toEqual(["prepare s", "prepare o"]);
  });

  it("skips a case whose first run exceeds maxRunMs", async () => {
    const { runner } = fakeRunner(() => busy(20));
    const w: Workload = { id: "slow", op: "gelu", label: "slow", shapes: {}, maxRunMs: 1 };
    const r = await timeCase(runner, w, SMOKE_TIMING);
    expect(r.status).toBe("skipped");
    expect(r.status !== "ok" && r.reason).toMatch(/^one run took .* s \(limit 0\.0 s\)$/);
  });

  it("calls deactivate after every case, also when the case fails", async () => {
    const { runner, log } = fakeRunner(() => {
      throw new Error("boom");
    });
    const w: Workload = { id: "x", op: "gelu", label: "x", shapes: {} };
    const r = await timeCase(runner, w, SMOKE_TIMING);
    expect(r.status).toBe("error");
    expect(log).toEqual(["activate", "prepare x", "deactivate"]);
  });
});

describe("formatTable", () => {
  const ok = (workload: string, backend: string, medianMs: number, rate: Partial<CaseResult>): CaseResult =>
    ({
      workload,
      backend,
      status: "ok",
      runs: 1,
      medianMs,
      minMs: medianMs,
      maxMs: medianMs,
      samplesMs: [medianMs],
      leakedTensors: 0,
      ...rate,
    }) as CaseResult;
  const runner = (name: string, threads?: number) => ({
    name,
    kind: "tessera",
    description: name,
    fused: [],
    ...(threads ? { threads } : {}),
  });
  const report: BenchReport = {
    schema: 2,
    date: "2026-01-01T00:00:00.000Z",
    commit: null,
    machine: { cpu: "cpu", cores: 2, memoryGiB: 1, platform: "linux", arch: "x64", node: "v20" },
    timing: SMOKE_TIMING,
    baseline: BASELINE,
    runners: [runner("native", 2), runner("native-1t", 1), runner("js"), runner(BASELINE)],
    peaks: [
      { threads: 1, gflops: 100 },
      { threads: 2, gflops: 200 },
    ],
    workloads: [
      { id: "mm", op: "matmul", label: "mm", shapes: {}, flops: 1 },
      { id: "ln", op: "layerNorm", label: "ln", shapes: {}, bytes: 1 },
    ],
    results: [
      ok("mm", "native", 1, { gflops: 150 }),
      ok("mm", "native-1t", 2, { gflops: 75 }),
      ok("mm", "js", 40, { gflops: 4 }),
      { workload: "mm", backend: BASELINE, status: "skipped", reason: "one run took 9.0 s (limit 3.0 s)" },
      ok("ln", "native", 2, { gbps: 20 }),
      ok("ln", "native-1t", 3, { gbps: 13 }),
      ok("ln", "js", 30, { gbps: 1.5 }),
      ok("ln", BASELINE, 600, { gbps: 0.07 }),
    ],
    notes: [],
  };

  it("shows GFLOP/s with the % of the peak on the runner's threads, GB/s, ratios and why a case was skipped", () => {
    const table = formatTable(report);
    const lines = table.split("\n");
    const mm = lines.find((l) => l.startsWith("mm "))!;
    // native: 150 of the 2-thread peak 200; native-1t: 75 of 100; js (one thread): 4 of 100.
    expect(mm).toMatch(/150 GF\/s 75\.0%.*75\.0 GF\/s 75\.0%.*4\.00 GF\/s 4\.00%.*skipped/);
    expect(lines.find((l) => l.startsWith("ln "))).toMatch(
      /20\.0 GB\/s.*13\.0 GB\/s.*1\.50 GB\/s.*0\.07 GB\/s/,
    );
    const header = lines.find((l) => l.includes("native vs js"))!;
    expect(header).toContain("native vs native-1t");
    expect(header).toContain("js vs tfjs-cpu");
    expect(header).not.toContain("tfjs-wasm"); // not in this report
    const ratioRows = lines.slice(lines.indexOf(header) + 1);
    // mm: js vs tfjs-cpu (blank: skipped), native vs js 40×, native vs tfjs-cpu blank, native vs native-1t 2×.
    expect(
      ratioRows
        .find((l) => l.startsWith("mm "))!
        .split(/\s{2,}/)
        .slice(1),
    ).toEqual(["40.00×", "2.00×"]);
    expect(
      ratioRows
        .find((l) => l.startsWith("ln "))!
        .split(/\s{2,}/)
        .slice(1),
    ).toEqual(["20.00×", "15.00×", "300.00×", "1.50×"]);
    expect(table).toContain("- skipped mm: one run took 9.0 s (limit 3.0 s) (tfjs-cpu)");
  });
});

describe("runBench (smoke shapes)", () => {
  it("times every workload on js, js-primitives, tfjs-cpu and tfjs-wasm without leaking tensors", async () => {
    const report = await runBench({ workloads: SMOKE_WORKLOADS, timing: SMOKE_TIMING });
    const names = report.runners.map((r) => r.name);
    expect(names).toEqual(expect.arrayContaining(["js", "js-primitives", BASELINE, "tfjs-wasm"]));
    expect(report.results).toHaveLength(SMOKE_WORKLOADS.length * names.length);
    const errors = report.results.filter((r) => r.status === "error");
    expect(errors, JSON.stringify(errors, null, 2)).toEqual([]);
    for (const r of report.results) {
      if (r.status === "ok") expect(r.leakedTensors, `${r.backend} ${r.workload}`).toBe(0);
    }
    // The peer implements every workload but the block's backward, so the ratio columns have a denominator.
    const w = new Map(SMOKE_WORKLOADS.map((x) => [x.id, x]));
    for (const r of report.results.filter((x) => x.backend === BASELINE)) {
      expect(r.status, r.workload).toBe(PEER_UNSUPPORTED.has(w.get(r.workload)!.op) ? "unsupported" : "ok");
    }
    // Tessera runners implement every workload.
    for (const r of report.results.filter((x) => !x.backend.startsWith("tfjs"))) {
      expect(r.status, `${r.backend} ${r.workload}`).toBe("ok");
    }
    const table = formatTable(report);
    for (const w of SMOKE_WORKLOADS) expect(table).toContain(w.label);
  });

  it("writes the dated file and latest.json with the same content", async () => {
    const report = await runBench({
      workloads: SMOKE_WORKLOADS.slice(0, 1),
      only: [BASELINE],
      timing: SMOKE_TIMING,
    });
    const dir = mkdtempSync(join(tmpdir(), "tessera-bench-"));
    const paths = writeReport(report, dir);
    expect(readdirSync(dir).sort()).toEqual(
      [`${report.date.slice(0, 10)}-${slug(report.machine.cpu)}.json`, "latest.json"].sort(),
    );
    const [dated, latest] = paths.map((p) => readFileSync(p, "utf8"));
    expect(dated).toBe(latest);
    expect(JSON.parse(latest!).machine.node).toBe(process.version);
  });
});

describe("runners agree", () => {
  // The ratios only mean something if every runner computes the same op: same inputs, same outputs.
  it("every runner's output equals js's on the smoke workloads (conv layout, layer norm composite included)", async () => {
    const native = await nativeHere();
    const runners = [
      tesseraRunner("js"),
      tesseraRunner("js-primitives"),
      ...(native
        ? [
            tesseraRunner("native"),
            tesseraRunner("native", { runnerName: "native-1t", threads: 1 }),
            tesseraRunner("native-primitives"),
          ]
        : []),
      await tfjsRunner("cpu"),
      await tfjsRunner("wasm"),
    ];
    for (const w of SMOKE_WORKLOADS) {
      const inputs: Inputs = {};
      let seed = 1;
      for (const [key, shape] of Object.entries(w.shapes)) {
        const n = shape.reduce((a, b) => a * b, 1);
        // A small LCG: deterministic values in [-1, 1) without depending on any runner's RNG.
        inputs[key] = Float32Array.from(
          { length: n },
          () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 30 - 1,
        );
      }
      const outputs: Float32Array[] = [];
      const compared: Runner[] = [];
      for (const r of runners) {
        if (r.kind === "peer" && PEER_UNSUPPORTED.has(w.op)) continue;
        await r.activate?.();
        try {
          const c = r.prepare(w, inputs);
          outputs.push(await c.output());
          c.dispose();
        } finally {
          r.deactivate?.();
        }
        compared.push(r);
      }
      const ref = outputs[0]!;
      expect(ref.length, w.id).toBeGreaterThan(0);
      for (let i = 1; i < compared.length; i++) {
        const out = outputs[i]!;
        expect(out.length, `${w.id} ${compared[i]!.name}`).toBe(ref.length);
        let worst = 0;
        for (let j = 0; j < ref.length; j++)
          worst = Math.max(worst, Math.abs(out[j]! - ref[j]!) / (1 + Math.abs(ref[j]!)));
        expect(worst, `${w.id}: ${compared[i]!.name} vs js`).toBeLessThan(1e-4);
      }
    }
  });
});

describe("native runners", () => {
  it("a one-thread runner sizes the pool during its case and restores it after", async (ctx) => {
    if (!(await nativeHere())) ctx.skip();
    const pool = threadedBackend("native")!;
    const before = pool.numThreads;
    const r = tesseraRunner("native", { runnerName: "native-1t", threads: 1 });
    expect(r.threads).toBe(1);
    await r.activate!();
    expect(pool.numThreads).toBe(1);
    r.deactivate!();
    expect(pool.numThreads).toBe(before);
  });

  it("runBench reports native, native-1t and the FMA peaks when the addon loaded, and why not otherwise", async () => {
    const report = await runBench({
      workloads: SMOKE_WORKLOADS.slice(0, 1),
      only: ["native", "native-1t", "js"],
      timing: SMOKE_TIMING,
    });
    const names = report.runners.map((r) => r.name);
    if (threadedBackend("native")) {
      expect(names).toContain("native");
      if (threadedBackend("native")!.numThreads > 1) expect(names).toContain("native-1t");
      // The peak on one thread, or a note saying why there is none (a stub or failing fmaPeak).
      if (report.peaks.length > 0) expect(report.peaks.map((p) => p.threads)).toContain(1);
      else expect(report.notes.join("\n")).toMatch(/fmaPeak\(1\)/);
    } else {
      expect(names).toEqual(["js"]);
      expect(report.peaks).toEqual([]);
      expect(report.notes.join("\n")).toMatch(/native/);
    }
  });
});

describe("slug", () => {
  it("keeps a CPU model readable in a file name", () => {
    expect(slug("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz")).toBe(
      "intel-xeon-platinum-8375c-cpu-2-90ghz",
    );
    expect(slug("  ")).toBe("unknown");
  });
});
