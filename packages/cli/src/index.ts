export * from "./backend-select.js";
export * from "./checkpoint.js";
export { CliError } from "./errors.js";
export { type CliIo, runCli } from "./program.js";
export * from "./progress.js";
export * from "./tasks/classification.js";
export { findTask, TASKS } from "./tasks/index.js";
export type * from "./tasks/types.js";
export {
  averageMetrics,
  evaluate,
  rebuildModel,
  type TrainResult,
  type TrainRunOptions,
  trainRun,
} from "./train.js";
