/**
 * What the task tests share: the backend they train on, run options with small defaults, a
 * temporary folder, and a few AdamW steps through a task's own collate/trainStep that watch the
 * live tensor count.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import "@tessera/backend-js";
import { nativeStatus } from "@tessera/backend-native";
import { memory, setBackend } from "@tessera/core";
import { AdamW, type Module } from "@tessera/nn";
import type { Batch, RunOptions, Task } from "../src/tasks/types.js";

/** Training tests run on native where the addon loads (much faster), else on js. */
export const TRAIN_BACKEND = nativeStatus().available ? "native" : "js";
setBackend(TRAIN_BACKEND);

/** Run options as the CLI resolves them, with small values for tests. */
export function runOptions(overrides: Partial<RunOptions> = {}): RunOptions {
  return {
    epochs: 1,
    batchSize: 4,
    lr: 1e-3,
    weightDecay: 0,
    seed: 0,
    gradCheckpoint: false,
    workers: 0,
    ...overrides,
  };
}

/** A fresh temporary folder, removed with `cleanup()`. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tessera-${prefix}-`));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export interface StepsResult {
  losses: number[];
  /** Live tensors after the first step (optimizer state exists by then) and after the last. */
  tensorsAfterFirst: number;
  tensorsAtEnd: number;
}

/** `steps` AdamW steps on one batch collated by the task, each through the task's trainStep. */
export function trainSteps<S>(
  task: Task<S>,
  model: Module,
  samples: S[],
  steps: number,
  lr: number,
): StepsResult {
  const batch: Batch = task.collate(samples);
  const opt = new AdamW(model.parameters(), { lr, weightDecay: 0 });
  const losses: number[] = [];
  let tensorsAfterFirst = 0;
  model.train();
  for (let s = 0; s < steps; s++) {
    opt.zeroGrad();
    const { loss } = task.trainStep(model, batch);
    loss.backward();
    opt.step();
    losses.push(loss.itemSync());
    loss.dispose();
    if (s === 0) tensorsAfterFirst = memory().numTensors;
  }
  const tensorsAtEnd = memory().numTensors;
  opt.zeroGrad();
  for (const t of Object.values(batch)) t.dispose();
  return { losses, tensorsAfterFirst, tensorsAtEnd };
}
