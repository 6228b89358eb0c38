import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  BASELINE,
  formatTable,
  type Inputs,
  median,
  registerBenchBackends,
  runBench,
  SMOKE_TIMING,
  SMOKE_WORKLOADS,
  slug,
  tesseraRunner,
  WORKLOADS,
  writeReport,
} from "../src/index.js";
import { tfjsRunner } from "../src/peers/tfjs.js";

describe("stats", () => {
  it("median of odd and even counts ignores order", () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});

describe("workloads", () => {
  it("matmul and conv2d carry their FLOP counts", () => {
    const mm = WORKLOADS.find((w) => w.id === "matmul-1024")!;
    expect(mm.flops).toBe(2 * 1024 ** 3);
    const conv = WORKLOADS.find((w) => w.op === "conv2d")!;
    expect(conv.flops).toBe(2 * 8 * 64 * 56 * 56 * 64 * 9);
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
    // The peer implements every workload, so the ratio column always has a denominator.
    expect(report.results.filter((r) => r.backend === BASELINE).every((r) => r.status === "ok")).toBe(true);
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
    await registerBenchBackends();
    const runners = [
      tesseraRunner("js"),
      tesseraRunner("js-primitives"),
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
      for (const r of runners) {
        await r.activate?.();
        const c = r.prepare(w, inputs);
        outputs.push(await c.output());
        c.dispose();
      }
      const ref = outputs[0]!;
      for (let i = 1; i < runners.length; i++) {
        const out = outputs[i]!;
        expect(out.length, `${w.id} ${runners[i]!.name}`).toBe(ref.length);
        let worst = 0;
        for (let j = 0; j < ref.length; j++)
          worst = Math.max(worst, Math.abs(out[j]! - ref[j]!) / (1 + Math.abs(ref[j]!)));
        expect(worst, `${w.id}: ${runners[i]!.name} vs js`).toBeLessThan(1e-4);
      }
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
