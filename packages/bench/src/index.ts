export { BASELINE, type BenchOptions, measurePeaks, NATIVE, type PeakFlops, runBench } from "./bench.js";
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
  RATIO_PAIRS,
  slug,
  writeReport,
} from "./report.js";
export { type Inputs, type PreparedCase, type Runner, Unsupported } from "./runner.js";
export { gbps, gflops, median, summarize, type Timing } from "./stats.js";
export {
  registerBenchBackends,
  type TesseraRunnerOptions,
  type ThreadedBackend,
  tesseraRunner,
  threadedBackend,
} from "./tessera.js";
export {
  attentionWorkload,
  blockGradWorkload,
  conv2dWorkload,
  geluWorkload,
  layerNormWorkload,
  matmulWorkload,
  mlpGradWorkload,
  OP_NAMES,
  type OpName,
  SMOKE_WORKLOADS,
  softmaxWorkload,
  WORKLOADS,
  type Workload,
} from "./workloads.js";
