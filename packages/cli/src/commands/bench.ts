/**
 * `tessera bench [task]`: the median training-step time and images/s on each available backend (in
 * one process, one after the other), and the data loader's images/s alone, so a reader can see that
 * loading never starves training.
 */
import { writeFile } from "node:fs/promises";
import { defaultGenerator, dispose, manualSeed, setBackend, tidy } from "@tessera/core";
import { DataLoader } from "@tessera/data";
import { AdamW } from "@tessera/nn";
import type { Command } from "commander";
import { backendAvailability, selectBackend } from "../backend-select.js";
import { CliError } from "../errors.js";
import { formatRate } from "../progress.js";
import { findTask, TASKS } from "../tasks/index.js";
import type { RunOptions, Task } from "../tasks/types.js";
import { type Io, intFlag } from "./io.js";

interface BenchFlags {
  backend?: string;
  batchSize?: string;
  steps?: string;
  preset?: string;
  workers?: string;
  out?: string;
}

/** One backend's figures. */
export interface BenchRow {
  backend: string;
  medianStepMs: number;
  samplesPerSecond: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

async function benchBackend(
  task: Task<unknown>,
  opts: RunOptions,
  backend: string,
  steps: number,
): Promise<BenchRow> {
  setBackend(backend);
  const data = await task.loadData(opts);
  manualSeed(opts.seed);
  const { model } = task.createModel(opts, data, undefined);
  const opt = new AdamW(model.parameters(), { lr: opts.lr, weightDecay: opts.weightDecay });
  const loader = new DataLoader(data.train, {
    batchSize: opts.batchSize,
    shuffle: true,
    seed: opts.seed,
    dropLast: data.train.length > opts.batchSize,
    collate: (s: unknown[]) => task.collate(s),
    workers: opts.workers,
  });
  const times: number[] = [];
  let count = 0;
  model.train();
  try {
    // Two warm-up steps (first-touch allocations, optimizer state) are not timed.
    let i = 0;
    for (let epoch = 0; i < steps + 2; epoch++) {
      for await (const batch of loader.iterate({ epoch })) {
        const t0 = performance.now();
        const n = tidy(() => {
          const { loss, metrics } = task.trainStep(model, batch);
          loss.backward();
          opt.step();
          opt.zeroGrad();
          loss.itemSync();
          return metrics.count;
        });
        dispose(batch);
        if (i >= 2) {
          times.push(performance.now() - t0);
          count = n;
        }
        if (++i >= steps + 2) break;
      }
    }
  } finally {
    await loader.close();
    opt.dispose();
    dispose([...model.stateDict().values()]);
  }
  const ms = median(times);
  return { backend, medianStepMs: ms, samplesPerSecond: (count * 1000) / ms };
}

async function benchLoading(task: Task<unknown>, opts: RunOptions, batches: number): Promise<number> {
  const data = await task.loadData(opts);
  const loader = new DataLoader(data.train, {
    batchSize: opts.batchSize,
    shuffle: true,
    seed: opts.seed,
    collate: (s: unknown[]) => task.collate(s),
    workers: opts.workers,
  });
  let samples = 0;
  let done = 0;
  const t0 = performance.now();
  try {
    for (let epoch = 0; done < batches; epoch++) {
      for await (const batch of loader.iterate({ epoch })) {
        samples += (Object.values(batch)[0]?.shape[0] as number | undefined) ?? 0;
        dispose(batch);
        if (++done >= batches) break;
      }
    }
  } finally {
    await loader.close();
  }
  return (samples * 1000) / (performance.now() - t0);
}

/**
 * Adds `bench` to the program.
 *
 * @example
 * addBenchCommand(program, io); // tessera bench minivit --steps 20 --out bench.json
 */
export function addBenchCommand(program: Command, io: Io): void {
  program
    .command("bench")
    .description("time training steps on each available backend, and data loading alone")
    .argument("[task]", "the task to time", "minivit")
    .option("--backend <name>", "time only this backend")
    .option("--batch-size <n>", "batch size (default: the task's)")
    .option("--steps <n>", "timed steps per backend", "10")
    .option("--preset <name>", "model preset (default: the task's)")
    .option("--workers <n>", "data loader worker threads", "0")
    .option("--out <file>", "also write the figures as JSON")
    .action(async (name: string, f: BenchFlags) => {
      const task = findTask(name);
      if (!task)
        throw new CliError(`unknown task '${name}'`, `choose one of: ${TASKS.map((t) => t.name).join(", ")}`);
      const steps = intFlag("--steps", f.steps) ?? 10;
      const d = task.defaults;
      const opts: RunOptions = {
        preset: f.preset,
        epochs: 1,
        batchSize: intFlag("--batch-size", f.batchSize) ?? d.batchSize,
        lr: d.lr,
        weightDecay: d.weightDecay ?? 0.05,
        seed: 0,
        gradCheckpoint: false,
        workers: intFlag("--workers", f.workers, 0) ?? 0,
        // Enough samples for the timed steps plus warm-up, and no more loading than that.
        limit: (steps + 2) * (intFlag("--batch-size", f.batchSize) ?? d.batchSize),
      };
      const backends = f.backend
        ? [selectBackend(f.backend).name]
        : backendAvailability()
            .filter((b) => b.available)
            .map((b) => b.name);
      const state = defaultGenerator.getState();
      const rows: BenchRow[] = [];
      for (const b of backends) {
        const row = await benchBackend(task, opts, b, steps);
        rows.push(row);
        io.out(
          `${task.name} ${b.padEnd(6)}  step ${row.medianStepMs.toFixed(1)} ms (median of ${steps})  ${formatRate(row.samplesPerSecond)} img/s  batch ${opts.batchSize}`,
        );
      }
      defaultGenerator.setState(state);
      const loading = await benchLoading(task, opts, steps + 2);
      const fastest = Math.max(...rows.map((r) => r.samplesPerSecond));
      io.out(
        `data loading alone: ${formatRate(loading)} img/s (${opts.workers} workers) — ${(loading / fastest).toFixed(1)}× the fastest training rate`,
      );
      if (f.out) {
        const json = {
          task: task.name,
          batchSize: opts.batchSize,
          steps,
          workers: opts.workers,
          backends: rows,
          loadingSamplesPerSecond: loading,
          node: process.versions.node,
          date: new Date().toISOString(),
        };
        await writeFile(f.out, `${JSON.stringify(json, null, 2)}\n`);
        io.out(`wrote ${f.out}`);
      }
    });
}
