/**
 * `--precision`: a tiny minivit run trains end to end under bf16 and fp16 autocast, records the
 * precision in config.json and metrics.json, and resumes in it; a bad value is a clear error.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../src/index.js";
import { TRAIN_BACKEND } from "./task-support.js";

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const text = { out: "", err: "" };
  const sink = (k: "out" | "err") =>
    new Writable({
      write(chunk, _enc, cb) {
        text[k] += chunk.toString();
        cb();
      },
    });
  const code = await runCli(argv, { stdout: sink("out"), stderr: sink("err"), isTTY: false });
  return { code, ...text };
}

const TINY = ["--preset", "tiny", "--limit", "128", "--epochs", "1", "--batch-size", "64"];
const dir = mkdtempSync(join(tmpdir(), "tessera-precision-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const readJson = (run: string, file: string) => JSON.parse(readFileSync(join(run, file), "utf8"));

describe.each(["bf16", "fp16"])("tessera train minivit --precision %s", (precision) => {
  it("trains end to end and records the precision in config.json and metrics.json", async () => {
    const run = join(dir, precision);
    const r = await cli([
      "train",
      "minivit",
      ...TINY,
      "--backend",
      TRAIN_BACKEND,
      "--precision",
      precision,
      "--out",
      run,
    ]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/epoch 1\/1 {2}loss \d\.\d{3}/);
    expect(readJson(run, "config.json").options.precision).toBe(precision);
    const metrics = readJson(run, "metrics.json");
    expect(metrics.precision).toBe(precision);
    expect(metrics.steps.every(Number.isFinite)).toBe(true);

    // Resume keeps the saved precision (and, for fp16, the scaler's state).
    const again = await cli([
      "train",
      "minivit",
      "--epochs",
      "2",
      "--backend",
      TRAIN_BACKEND,
      "--resume",
      "--out",
      run,
    ]);
    expect(again.code).toBe(0);
    expect(readJson(run, "metrics.json").precision).toBe(precision);
    expect(readJson(run, "metrics.json").epochs).toHaveLength(2);
  });
});

it("a bad --precision value names the choices", async () => {
  const r = await cli(["train", "minivit", ...TINY, "--precision", "fp8", "--out", join(dir, "bad")]);
  expect(r.code).toBe(1);
  expect(r.err).toMatch(/^tessera: --precision must be one of fp32, bf16, fp16, got 'fp8'/);
});
