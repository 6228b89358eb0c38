/** `tessera predict <run> <image…>`: the top-k classes of each image, with probabilities. */
import { noGrad } from "@tessera/autograd";
import { softmax } from "@tessera/core";
import { readImage, toTensor } from "@tessera/data";
import type { Command } from "commander";
import { CliError } from "../errors.js";
import {
  type ClassifierConfig,
  isClassificationTask,
  logitsOf,
  prepareImage,
} from "../tasks/classification.js";
import { type Io, intFlag } from "./io.js";
import { loadRun } from "./load-run.js";

/**
 * Adds `predict` to the program.
 *
 * @example
 * addPredictCommand(program, io); // tessera predict runs/minivit shoe.png --top-k 3
 */
export function addPredictCommand(program: Command, io: Io): void {
  program
    .command("predict")
    .description(
      "classify images with a trained model (PNG or JPEG; converted to the model's size and channels)",
    )
    .argument("<run>", "run directory or checkpoint file")
    .argument("<images...>", "image files")
    .option("--top-k <k>", "how many classes to show", "5")
    .option("--backend <name>", "js, native or cuda")
    .action(async (run: string, images: string[], f: { topK?: string; backend?: string }) => {
      const { task, config, model } = await loadRun(run, f.backend, io.err);
      if (!isClassificationTask(task.name)) {
        throw new CliError(
          `predict works on classification runs; ${run} is a ${task.name} run`,
          "use tessera eval for it",
        );
      }
      const classes = config.classes ?? [];
      const k = Math.min(intFlag("--top-k", f.topK) ?? 5, classes.length);
      const input = (config.model as unknown as ClassifierConfig).input;
      for (const path of images) {
        const img = await readImage(path);
        const { normalized } = prepareImage(img, input);
        const probs = noGrad(() => {
          const x = toTensor([normalized]);
          const logits = logitsOf(model, x);
          const p = softmax(logits, 1);
          const out = p.dataSync() as Float32Array;
          x.dispose();
          logits.dispose();
          p.dispose();
          return out;
        });
        const order = [...probs.keys()]
          .sort((a, b) => (probs[b] as number) - (probs[a] as number))
          .slice(0, k);
        io.out(`${path}:`);
        for (const c of order)
          io.out(`  ${((probs[c] as number) * 100).toFixed(1).padStart(5)}%  ${classes[c] ?? c}`);
      }
    });
}
