/**
 * The CLI end to end on a tiny configuration: train writes its run directory, and eval, predict,
 * attention and info work on it; mistakes give `tessera: …` and exit code 1.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { cudaStatus } from "@tessera/backend-native";
import { encodePng } from "@tessera/data";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../src/index.js";

function capture(): { stream: Writable; text: () => string } {
  let s = "";
  const stream = new Writable({
    write(chunk, _enc, cb) {
      s += chunk.toString();
      cb();
    },
  });
  return { stream, text: () => s };
}

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const o = capture();
  const e = capture();
  const code = await runCli(argv, { stdout: o.stream, stderr: e.stream, isTTY: false });
  return { code, out: o.text(), err: e.text() };
}

const TINY = ["--preset", "tiny", "--limit", "256", "--epochs", "1", "--batch-size", "64", "--backend", "js"];

describe("tessera CLI on a tiny minivit run", () => {
  let dir: string;
  let run: string;
  let train: { code: number; out: string; err: string };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "tessera-cli-"));
    run = join(dir, "run");
    train = await cli(["train", "minivit", ...TINY, "--out", run]);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("train writes config, checkpoint, weights, metrics and plots, and says which backend", () => {
    expect(train.err).toBe("");
    expect(train.code).toBe(0);
    expect(train.out).toContain("backend: js");
    expect(train.out).toMatch(/epoch 1\/1 {2}loss \d\.\d{3} {2}acc [\d.]+% {2}test loss/);
    for (const f of [
      "config.json",
      "checkpoint.safetensors",
      "model.safetensors",
      "metrics.json",
      "loss.png",
      "accuracy.png",
      "attention.png",
    ]) {
      expect(existsSync(join(run, f)), f).toBe(true);
    }
    const metrics = JSON.parse(readFileSync(join(run, "metrics.json"), "utf8"));
    expect(metrics.epochs).toHaveLength(1);
    expect(metrics.steps).toHaveLength(4); // 256 samples / 64
    const config = JSON.parse(readFileSync(join(run, "config.json"), "utf8"));
    expect(config.task).toBe("minivit");
    expect(config.classes).toHaveLength(10);
  });

  it("train refuses to overwrite a run without --resume or --force", async () => {
    const r = await cli(["train", "minivit", ...TINY, "--out", run]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^tessera: .*already holds a run\n {2}continue it with --resume/);
  });

  it("eval prints loss, accuracy and per-class accuracy", async () => {
    const r = await cli(["eval", run, "--limit", "128", "--backend", "js"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/minivit on test \(128 samples\): loss [\d.]+ {2}accuracy [\d.]+%/);
    expect(r.out).toContain("per-class accuracy:");
    expect(r.out).toContain("Ankle boot");
  });

  it("predict prints the top-k classes of a PNG with probabilities", async () => {
    const img = join(dir, "img.png");
    const data = new Uint8Array(20 * 20);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 256;
    writeFileSync(img, encodePng({ width: 20, height: 20, channels: 1, bitDepth: 8, data }));
    const r = await cli(["predict", run, img, "--top-k", "3", "--backend", "js"]);
    expect(r.code).toBe(0);
    const lines = r.out.trim().split("\n");
    expect(lines[0]).toBe(`${img}:`);
    expect(lines).toHaveLength(4);
    const probs = lines.slice(1).map((l) => Number(l.trim().split("%")[0]));
    expect(probs[0]).toBeGreaterThanOrEqual(probs[1] as number);
    expect(probs[1]).toBeGreaterThanOrEqual(probs[2] as number);
  });

  it("attention writes an overlay PNG", async () => {
    const img = join(dir, "img.png");
    const out = join(dir, "heat.png");
    const r = await cli(["attention", run, img, "--out", out, "--backend", "js"]);
    expect(r.err).not.toContain("tessera:");
    expect(r.code).toBe(0);
    expect(existsSync(out)).toBe(true);
  });

  it("a corrupt image is a clear error naming the file, exit 1", async () => {
    const bad = join(dir, "bad.png");
    writeFileSync(bad, "not a png at all");
    const r = await cli(["predict", run, bad, "--backend", "js"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`tessera: ${bad}`);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it("info lists the backends and the shipped dataset", async () => {
    const r = await cli(["info"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/js\s+available/);
    const cuda = cudaStatus();
    if (cuda.available) expect(r.out).toMatch(/cuda\s+available/);
    else expect(r.out).toContain(`unavailable  ${cuda.reason}`);
    expect(r.out).toMatch(/shipped dataset: .*\(10000 training, 2000 test images\)/);
  });
});

describe("tessera CLI, other commands and tasks", () => {
  it("bench times each asked backend and data loading alone, and writes JSON", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tessera-bench-"));
    try {
      const file = join(dir, "bench.json");
      const r = await cli([
        "bench",
        "minivit",
        "--preset",
        "tiny",
        "--steps",
        "2",
        "--batch-size",
        "16",
        "--backend",
        "js",
        "--out",
        file,
      ]);
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/minivit js\s+step [\d.]+ ms \(median of 2\)/);
      expect(r.out).toMatch(/data loading alone: [\d.]+ img\/s/);
      const json = JSON.parse(readFileSync(file, "utf8"));
      expect(json.backends).toHaveLength(1);
      expect(json.backends[0].samplesPerSecond).toBeGreaterThan(0);
      expect(json.loadingSamplesPerSecond).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("vit trains one epoch of its micro preset with mixup, cutmix, label smoothing and gradient checkpointing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tessera-vit-"));
    try {
      const r = await cli([
        "train",
        "vit",
        "--preset",
        "micro",
        "--limit",
        "64",
        "--epochs",
        "1",
        "--batch-size",
        "32",
        "--backend",
        "js",
        "--mixup",
        "0.8",
        "--cutmix",
        "1",
        "--label-smoothing",
        "0.1",
        "--grad-checkpoint",
        "--out",
        join(dir, "vit"),
      ]);
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/epoch 1\/1 {2}loss/);
      expect(existsSync(join(dir, "vit", "attention.png"))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("tessera CLI errors", () => {
  it("a missing --data directory is a clear error, exit 1, no stack trace", async () => {
    const r = await cli([
      "train",
      "minivit",
      ...TINY,
      "--data",
      "/no/such/dir",
      "--out",
      join(tmpdir(), "never"),
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^tessera: --data \/no\/such\/dir does not exist\n {2}give an IDX directory/);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it("a mistyped preset leaves no run folder behind", async () => {
    const out = join(tmpdir(), `tessera-never-${process.pid}`);
    const r = await cli([
      "train",
      "minivit",
      "--preset",
      "huge",
      "--limit",
      "64",
      "--backend",
      "js",
      "--out",
      out,
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("huge");
    expect(existsSync(out)).toBe(false);
  });

  it("a run of a single step trains (no room for warmup is not an error)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tessera-one-step-"));
    try {
      const argv = ["train", "minivit", "--preset", "tiny", "--limit", "64", "--batch-size", "64"];
      const r = await cli([...argv, "--epochs", "1", "--backend", "js", "--out", join(dir, "run")]);
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      const metrics = JSON.parse(readFileSync(join(dir, "run", "metrics.json"), "utf8"));
      expect(metrics.epochs).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("an unknown task and a bad flag value say what to do", async () => {
    const a = await cli(["train", "resnet"]);
    expect(a.code).toBe(1);
    expect(a.err).toContain("tessera: unknown task 'resnet'");
    expect(a.err).toContain("minivit");
    const b = await cli(["train", "minivit", "--epochs", "zero"]);
    expect(b.code).toBe(1);
    expect(b.err).toContain("tessera: --epochs must be an integer ≥ 1, got 'zero'");
    const c = await cli(["train", "minivit", "--augment", "rotate"]);
    expect(c.code).toBe(1);
    expect(c.err).toContain("tessera: --augment must be one of none, flip, crop-flip, got 'rotate'");
  });

  it("an unavailable backend says why", async () => {
    const r = await cli(["train", "minivit", ...TINY.slice(0, -2), "--backend", "metal"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("tessera: unknown backend 'metal'");
    const cuda = cudaStatus();
    if (!cuda.available) {
      const c = await cli(["train", "minivit", ...TINY.slice(0, -2), "--backend", "cuda"]);
      expect(c.code).toBe(1);
      expect(c.err).toContain(`tessera: backend 'cuda' is unavailable: ${cuda.reason}`);
    }
  });

  it("--help exits 0", async () => {
    const r = await cli(["--help"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("train");
  });
});
