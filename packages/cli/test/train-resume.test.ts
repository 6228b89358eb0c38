/**
 * Resume is exact: a run stopped mid-epoch by its abort signal and resumed gives the same per-step
 * losses, epoch metrics and final weights, bit for bit, as the same run left alone; a finished run
 * resumed with more epochs continues; the live tensor count is flat across epochs.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listBackends, memory } from "@tessera/core";
import { afterAll, describe, expect, it } from "vitest";
import { minivitTask, type TrainRunOptions, trainRun, transformerCnnTask } from "../src/index.js";
import type { Task } from "../src/tasks/types.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function opts(
  out: string,
  backend: string,
  preset: string,
  extra: Partial<TrainRunOptions> = {},
): TrainRunOptions {
  return {
    out,
    backend,
    preset,
    epochs: 2,
    batchSize: 32,
    lr: 1e-3,
    weightDecay: 0.05,
    seed: 7,
    gradCheckpoint: false,
    limit: 256,
    workers: 0,
    log: () => {},
    ...extra,
  };
}

function epochNumbers(epochs: { train: Record<string, number>; test?: Record<string, number> }[]) {
  return epochs.map((e) => ({ train: e.train, test: e.test }));
}

async function checkResume(
  task: Task<unknown>,
  backend: string,
  preset: string,
  stopAfter: number,
): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "tessera-resume-"));
  dirs.push(root);
  const a = await trainRun(task, opts(join(root, "a"), backend, preset));
  expect(a.interrupted).toBe(false);
  expect(a.steps).toHaveLength(16); // 2 epochs of 256/32

  const ac = new AbortController();
  const b1 = await trainRun(
    task,
    opts(join(root, "b"), backend, preset, {
      signal: ac.signal,
      onStep: (s) => s === stopAfter && ac.abort(),
    }),
  );
  expect(b1.interrupted).toBe(true);
  expect(b1.steps).toHaveLength(stopAfter);
  const b2 = await trainRun(task, opts(join(root, "b"), backend, preset, { resume: true }));
  expect(b2.interrupted).toBe(false);

  expect(b2.steps).toEqual(a.steps);
  expect(epochNumbers(b2.epochs)).toEqual(epochNumbers(a.epochs));
  const wa = readFileSync(join(root, "a", "model.safetensors"));
  const wb = readFileSync(join(root, "b", "model.safetensors"));
  expect(wb.equals(wa)).toBe(true);

  // A finished run resumed with more epochs continues from where it ended.
  const a3 = await trainRun(task, opts(join(root, "a"), backend, preset, { resume: true, epochs: 3 }));
  expect(a3.epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);
  expect(a3.steps.slice(0, 16)).toEqual(a.steps);
  expect(a3.steps).toHaveLength(24);
}

const trainBackend = listBackends().includes("native") ? "native" : "js";

describe("resume", () => {
  it(`minivit stopped after 3 steps (epoch 1) and resumed equals the uninterrupted run bit for bit (${trainBackend})`, async () => {
    await checkResume(minivitTask as Task<unknown>, trainBackend, "tiny", 3);
  });

  it(`transformer-cnn with dropout and BatchNorm stopped in epoch 2 and resumed equals the uninterrupted run (${trainBackend})`, async () => {
    // Dropout draws from core's global generator and BatchNorm keeps running statistics: both must
    // come back from the checkpoint for the losses to match.
    await checkResume(transformerCnnTask as Task<unknown>, trainBackend, "micro", 11);
  });
});

describe("memory", () => {
  it("the live tensor count is the same after every epoch", async () => {
    const root = mkdtempSync(join(tmpdir(), "tessera-mem-"));
    dirs.push(root);
    const counts: number[] = [];
    await trainRun(
      minivitTask as Task<unknown>,
      opts(join(root, "m"), "js", "tiny", {
        epochs: 3,
        limit: 128,
        onEpoch: () => counts.push(memory().numTensors),
      }),
    );
    expect(counts).toHaveLength(3);
    expect(counts[2]).toBe(counts[1]);
    expect(counts[1]).toBe(counts[0]);
  });
});
