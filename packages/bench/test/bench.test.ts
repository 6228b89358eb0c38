import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  BASELINE,
  formatTable,
  median,
  runBench,
  SMOKE_TIMING,
  SMOKE_WORKLOADS,
  slug,
  WORKLOADS,
  writeReport,
} from "../src/index.js";

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
  it("times every workload on js, js-primitives and tfjs-cpu without leaking tensors", async () => {
    const report = await runBench({ workloads: SMOKE_WORKLOADS, timing: SMOKE_TIMING });
    const names = report.runners.map((r) => r.name);
    expect(names).toEqual(expect.arrayContaining(["js", "js-primitives", BASELINE]));
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

describe("slug", () => {
  it("keeps a CPU model readable in a file name", () => {
    expect(slug("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz")).toBe(
      "intel-xeon-platinum-8375c-cpu-2-90ghz",
    );
    expect(slug("  ")).toBe("unknown");
  });
});
