export { BASELINE, type BenchOptions, runBench } from "./bench.js";
export {
  type CaseResult,
  DEFAULT_TIMING,
  runCases,
  SMOKE_TIMING,
  type TimingOptions,
  timeCase,
} from "./harness.js";
export {
  type BenchReport,
  DEFAULT_RESULTS_DIR,
  formatTable,
  type MachineFacts,
  machineFacts,
  slug,
  writeReport,
} from "./report.js";
export { type Inputs, type PreparedCase, type Runner, Unsupported } from "./runner.js";
export { median, summarize, type Timing } from "./stats.js";
export { registerBenchBackends, tesseraRunner } from "./tessera.js";
export {
  conv2dWorkload,
  layerNormWorkload,
  matmulWorkload,
  SMOKE_WORKLOADS,
  softmaxWorkload,
  WORKLOADS,
  type Workload,
} from "./workloads.js";
