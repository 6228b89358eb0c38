/** `tessera eval <run>`: loss and metrics of a trained model, per-class accuracy for classifiers. */
import { noGrad } from "@tessera/autograd";
import { argmax, dispose, type Tensor } from "@tessera/core";
import { DataLoader } from "@tessera/data";
import type { Command } from "commander";
import { CliError } from "../errors.js";
import { formatMetric } from "../progress.js";
import { isClassificationTask, logitsOf } from "../tasks/classification.js";
import type { Batch } from "../tasks/types.js";
import { evaluate, inPrecision } from "../train.js";
import { type Io, intFlag } from "./io.js";
import { loadRun } from "./load-run.js";

interface EvalFlags {
  data?: string;
  split?: string;
  backend?: string;
  batchSize?: string;
  limit?: string;
}

/**
 * Adds `eval` to the program.
 *
 * @example
 * addEvalCommand(program, io); // tessera eval runs/minivit --split test
 */
export function addEvalCommand(program: Command, io: Io): void {
  program
    .command("eval")
    .description("evaluate a trained model on its test (or train) split, or on --data")
    .argument("<run>", "run directory or checkpoint file")
    .option("--data <dir>", "data to evaluate on (default: the run's)")
    .option("--split <split>", "test or train", "test")
    .option("--backend <name>", "js, native or cuda")
    .option("--batch-size <n>", "batch size", "256")
    .option("--limit <n>", "at most N samples")
    .action(async (run: string, f: EvalFlags) => {
      if (f.split !== "test" && f.split !== "train") {
        throw new CliError(`--split must be test or train, got '${f.split}'`, "e.g. --split test");
      }
      const { task, config, model } = await loadRun(run, f.backend, io.out);
      const opts = {
        ...config.options,
        data: f.data ?? config.options.data,
        limit: intFlag("--limit", f.limit),
      };
      const data = await task.loadData(opts);
      const dataset = f.split === "train" ? data.train : data.test;
      if (!dataset) throw new CliError(`the ${task.name} data has no ${f.split} split`, "use --split train");
      const batchSize = intFlag("--batch-size", f.batchSize) ?? 256;
      // The run's precision (config.json), so the numbers match the training summary's test metrics.
      const precision = config.options.precision ?? "fp32";
      const { metrics, count } = await evaluate(task, model, dataset, batchSize, 0, precision);
      io.out(
        `${task.name} on ${f.split} (${count} samples): ${Object.entries(metrics)
          .map(([k, v]) => `${k} ${formatMetric(k === "accuracy" ? "acc" : k, v)}`)
          .join("  ")}`,
      );
      const classes = data.classes ?? config.classes;
      if (isClassificationTask(task.name) && classes) {
        const correct = new Float64Array(classes.length);
        const total = new Float64Array(classes.length);
        const loader = new DataLoader(dataset, {
          batchSize,
          collate: (s: unknown[]) => task.collate(s) as Batch,
        });
        try {
          for await (const batch of loader.iterate()) {
            try {
              const pred = noGrad(() => {
                const logits = inPrecision(precision, () => logitsOf(model, batch.image as Tensor));
                const p = argmax(logits, 1);
                const out = p.dataSync() as Int32Array;
                logits.dispose();
                p.dispose();
                return out;
              });
              const labels = (batch.label as Tensor).dataSync() as Int32Array;
              for (let i = 0; i < labels.length; i++) {
                const y = labels[i] as number;
                total[y] = (total[y] as number) + 1;
                if (pred[i] === y) correct[y] = (correct[y] as number) + 1;
              }
            } finally {
              dispose(batch);
            }
          }
        } finally {
          await loader.close();
        }
        const width = Math.max(...classes.map((c) => c.length));
        io.out("per-class accuracy:");
        for (let c = 0; c < classes.length; c++) {
          const n = total[c] as number;
          io.out(
            `  ${(classes[c] as string).padEnd(width)}  ${n > 0 ? `${((100 * (correct[c] as number)) / n).toFixed(1)}%` : "  -  "}  (${n})`,
          );
        }
      }
    });
}
