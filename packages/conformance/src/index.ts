/**
 * @tessera/conformance: the property suite that decides whether a backend is correct.
 *
 * ```ts
 * import { describeConformance } from "@tessera/conformance";
 * await describeConformance(() => new MyBackend());           // vitest: one `it` per case
 * await describeGradConformance("my-backend");                // gradients of every op, one `it` per case
 * const report = await runConformance(() => new MyBackend()); // anywhere
 * ```
 */

export * from "./arbitraries.js";
export { CATALOGUE } from "./cases/index.js";
export { type CliIO, formatGradReport, formatReport, main, parseArgs } from "./cli.js";
export { compareOutputs, fmtNumber, type Output } from "./compare.js";
export { describeConformance, describeGradConformance, formatFailure } from "./describe.js";
export { TORCH_FIXTURES_DIR } from "./fixtures-dir.js";
export { GRAD_CATALOGUE } from "./grad/cases/index.js";
export {
  DEFAULT_ANALYTIC_TOLERANCE,
  DEFAULT_GRADCHECK_TOLERANCE,
  describeGradSample,
  formatGradFailure,
  GRAD_PRIMITIVES_BACKEND,
  GRAD_REFERENCE_BACKEND,
  type GradCaseFilter,
  type GradCaseReport,
  type GradCaseStatus,
  type GradCheckName,
  type GradConformanceOptions,
  type GradConformanceReport,
  type GradFailure,
  type GradRunOptions,
  runGradCase,
  runGradConformance,
  selectGradCases,
} from "./grad/runner.js";
export {
  describeTorchGradResult,
  runTorchGradCase,
  runTorchGradCases,
  type TorchGradCaseResult,
} from "./grad/torch-grads.js";
export * from "./grad/types.js";
export { type Dense, readHost, roundTo } from "./oracle.js";
export { type PerfOptions, type PerfRow, runPerf } from "./perf.js";
export {
  CaseError,
  type ConformanceOptions,
  DEFAULT_NUM_RUNS,
  DEFAULT_SEED,
  defaultSeed,
  replayLine,
  runConformance,
  Session,
  selectCases,
} from "./runner.js";
export { supportTable } from "./support.js";
export * from "./tolerances.js";
export { TORCH_EDGE_CASES, TORCH_EDGE_FIXTURES_DIR } from "./torch/edge-cases.js";
export {
  runTorchModuleCase,
  type TorchModuleCase,
  type TorchModuleCaseOptions,
  type TorchModuleCaseReport,
  type TorchModuleLike,
} from "./torch/module-cases.js";
export {
  type CompareOptions,
  compareWithTorchGolden,
  describeTorchOpResult,
  type LoadedTorchOpCase,
  listTorchOpCaseFiles,
  loadTorchOpCase,
  makeInputs as makeTorchInputs,
  runTorchOpCase,
  runTorchOpCases,
  TORCH_OP_CASES,
  type TorchOpCase,
  type TorchOpCaseResult,
  type TorchOpCaseTable,
  type TorchOpInputs,
  type TorchOpOutputs,
  type TorchOutputComparison,
  type TorchTolerance,
} from "./torch/op-cases.js";
export {
  metadataJson,
  readSafetensors,
  type SafetensorsDType,
  SafetensorsError,
  type SafetensorsFile,
  type SafetensorsTensor,
  toInt32Array,
} from "./torch/safetensors.js";
export * from "./types.js";
