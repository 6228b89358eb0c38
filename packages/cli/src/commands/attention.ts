/** `tessera attention <run> <image> --out heat.png`: the attention-rollout overlay of one image. */
import { noGrad } from "@tessera/autograd";
import { readImage, toTensor, writeImage } from "@tessera/data";
import type { Command } from "commander";
import { CliError } from "../errors.js";
import { heatmapOverlay } from "../plot/overlay.js";
import {
  attentionGrid,
  type ClassifierConfig,
  isClassificationTask,
  prepareImage,
} from "../tasks/classification.js";
import type { Io } from "./io.js";
import { loadRun } from "./load-run.js";

/**
 * Adds `attention` to the program.
 *
 * @example
 * addAttentionCommand(program, io); // tessera attention runs/minivit shoe.png --out heat.png
 */
export function addAttentionCommand(program: Command, io: Io): void {
  program
    .command("attention")
    .description("draw where a trained classifier looks: attention rollout over the image, as a PNG")
    .argument("<run>", "run directory or checkpoint file")
    .argument("<image>", "a PNG or JPEG image")
    .option("--out <file>", "the PNG to write", "attention.png")
    .option("--backend <name>", "js, native or cuda")
    .action(async (run: string, image: string, f: { out: string; backend?: string }) => {
      const { task, config, model } = await loadRun(run, f.backend, io.err);
      if (!isClassificationTask(task.name)) {
        throw new CliError(
          `attention works on classification runs; ${run} is a ${task.name} run`,
          "train minivit, vit or transformer-cnn",
        );
      }
      const cfg = config.model as unknown as ClassifierConfig;
      const { normalized, display } = prepareImage(await readImage(image), cfg.input);
      const heat = noGrad(() => {
        const x = toTensor([normalized]);
        try {
          return attentionGrid(model, cfg, x);
        } finally {
          x.dispose();
        }
      });
      await writeImage(f.out, heatmapOverlay(display, heat));
      io.out(`wrote ${f.out} (attention rollout over a ${heat.height}×${heat.width} patch grid)`);
    });
}
