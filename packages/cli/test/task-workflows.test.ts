/**
 * The autoencoder (+ LSTM), depth and text workflows through the CLI on tiny configurations:
 * `tessera train` writes the run directory (checkpoint, metrics, curves, the task's pictures) and
 * `tessera eval` reads it back.
 */
import fs from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../src/index.js";
import { writeCorpus, writeMovingSquares, writeScenes } from "./task-fixtures.js";
import { TRAIN_BACKEND, tempDir } from "./task-support.js";

const tmp = tempDir("task-workflows");
afterAll(() => tmp.cleanup());

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const sink = (add: (s: string) => void) =>
    new Writable({
      write(chunk, _enc, cb) {
        add(chunk.toString());
        cb();
      },
    });
  const code = await runCli(argv, {
    stdout: sink((s) => (out += s)),
    stderr: sink((s) => (err += s)),
    isTTY: false,
  });
  return { code, out, err };
}

interface Metrics {
  epochs: { epoch: number; train: Record<string, number>; test?: Record<string, number> }[];
}
const metricsOf = (run: string) =>
  JSON.parse(fs.readFileSync(path.join(run, "metrics.json"), "utf8")) as Metrics;
const RUN_FILES = ["config.json", "checkpoint.safetensors", "model.safetensors", "metrics.json", "loss.png"];

function expectFiles(run: string, extra: string[]): void {
  for (const f of [...RUN_FILES, ...extra]) expect(fs.existsSync(path.join(run, f)), f).toBe(true);
}

const common = ["--epochs", "2", "--backend", TRAIN_BACKEND, "--seed", "1"];

describe("workflow (b): autoencoder, then the LSTM on its embeddings", () => {
  const frames = path.join(tmp.dir, "frames");
  const ae = path.join(tmp.dir, "runs", "autoencoder");
  const lstm = path.join(tmp.dir, "runs", "autoencoder-lstm");

  it("trains the autoencoder at --img-size and writes reconstructions", async () => {
    await writeMovingSquares(frames, 3, 12, 24);
    const r = await cli([
      "train",
      "autoencoder",
      "--data",
      frames,
      "--img-size",
      "24",
      "--batch-size",
      "8",
      ...common,
      "--out",
      ae,
    ]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expectFiles(ae, ["reconstructions.png"]);
    const m = metricsOf(ae);
    expect(m.epochs.length).toBe(2);
    for (const k of ["loss", "mse", "psnr"]) expect(Number.isFinite(m.epochs[1]!.test![k])).toBe(true);
    const ev = await cli(["eval", ae, "--backend", TRAIN_BACKEND]);
    expect(ev.code).toBe(0);
    expect(ev.out).toMatch(/mse/);
  });

  it("refuses autoencoder-lstm without --init, naming the command to run first", async () => {
    const r = await cli(["train", "autoencoder-lstm", "--data", frames, ...common, "--out", lstm]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("--init");
    expect(r.err).toContain("tessera train autoencoder --out runs/autoencoder");
  });

  it("trains the LSTM from the autoencoder run and draws decoded next-frame predictions", async () => {
    const r = await cli([
      "train",
      "autoencoder-lstm",
      "--init",
      ae,
      "--data",
      frames,
      "--batch-size",
      "4",
      ...common,
      "--out",
      lstm,
    ]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expectFiles(lstm, ["next-frame.png"]);
    const last = metricsOf(lstm).epochs[1]!;
    expect(Number.isFinite(last.test!["mse"])).toBe(true);
    expect(Number.isFinite(last.test!["copy_mse"])).toBe(true);
    const ev = await cli(["eval", lstm, "--backend", TRAIN_BACKEND]);
    expect(ev.code).toBe(0);
  });
});

describe("workflow (c): depth", () => {
  it("trains MiniViTDepth and writes depth.png; eval reports abs_rel and rmse", async () => {
    const scenes = path.join(tmp.dir, "scenes");
    const run = path.join(tmp.dir, "runs", "depth");
    await writeScenes(scenes, 20, 32);
    const r = await cli([
      "train",
      "depth",
      "--data",
      scenes,
      "--img-size",
      "32",
      "--batch-size",
      "6",
      ...common,
      "--out",
      run,
    ]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expectFiles(run, ["depth.png"]);
    const last = metricsOf(run).epochs[1]!;
    for (const k of ["loss", "abs_rel", "rmse"]) expect(Number.isFinite(last.test![k])).toBe(true);
    const ev = await cli(["eval", run, "--backend", TRAIN_BACKEND]);
    expect(ev.code).toBe(0);
    expect(ev.out).toMatch(/abs_rel/);
  });
});

describe("workflow (d): text", () => {
  it("trains the text classifier to high test accuracy; eval rebuilds its vectorizer", async () => {
    const corpus = path.join(tmp.dir, "corpus.tsv");
    const run = path.join(tmp.dir, "runs", "text");
    writeCorpus(corpus, 40);
    const r = await cli([
      "train",
      "text",
      "--data",
      corpus,
      "--batch-size",
      "16",
      "--lr",
      "3e-3",
      ...common,
      "--epochs",
      "4",
      "--out",
      run,
    ]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expectFiles(run, ["accuracy.png"]);
    const config = JSON.parse(fs.readFileSync(path.join(run, "config.json"), "utf8"));
    expect(config.model.vectorizer.vocabulary.slice(0, 2)).toEqual(["", "[UNK]"]);
    expect(config.classes).toEqual(["sports", "weather"]);
    // Two topics with disjoint words: 4 short epochs separate them.
    expect(metricsOf(run).epochs[3]!.test!["accuracy"]).toBeGreaterThanOrEqual(0.9);
    const ev = await cli(["eval", run, "--backend", TRAIN_BACKEND]);
    expect(ev.code).toBe(0);
    expect(ev.out).toMatch(/acc/);
  });
});
