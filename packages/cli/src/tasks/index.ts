/** Every task `tessera train` knows, by name. */
import { autoencoderTask } from "./autoencoder.js";
import { autoencoderLstmTask } from "./autoencoder-lstm.js";
import { minivitTask, transformerCnnTask, vitTask } from "./classification.js";
import { depthTask } from "./depth.js";
import { textTask } from "./text.js";
import type { Task } from "./types.js";

/**
 * The registry: `tessera train <name>`.
 *
 * @example
 * const task = TASKS.find((t) => t.name === "minivit");
 */
export const TASKS: readonly Task<unknown>[] = [
  minivitTask,
  vitTask,
  transformerCnnTask,
  autoencoderTask,
  autoencoderLstmTask,
  depthTask,
  textTask,
] as unknown as readonly Task<unknown>[];

/**
 * A task by name, or undefined.
 *
 * @example
 * findTask("minivit")?.defaults.epochs; // 8
 */
export function findTask(name: string): Task<unknown> | undefined {
  return TASKS.find((t) => t.name === name);
}
