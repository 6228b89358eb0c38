/**
 * The PyTorch reference trajectories of test/fixtures/optim.json (written by
 * scripts/make-optim-fixtures.py with torch 1.13) and an elementwise comparison that names the
 * worst element.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export interface OptimCase {
  name: string;
  optimizer: "SGD" | "Adam" | "AdamW";
  /** torch's keyword arguments. */
  options: Record<string, unknown>;
  groups: Array<Record<string, unknown> & { params: number[] }> | null;
  shapes: number[][];
  params: number[][];
  /** Per step, per parameter: the gradient, or null (no gradient that step). */
  grads: (number[] | null)[][];
  /** Per step, per parameter: the values after the step. */
  trajectory: number[][][];
}

export interface ClipCase {
  kind: "norm" | "value";
  normType?: number | "inf";
  maxNorm?: number;
  clipValue?: number;
  total?: number;
  grads: number[][];
  clipped: number[][];
}

export interface SchedulerCase {
  name: string;
  optimizer: "sgd" | "adam";
  config: Record<string, unknown>;
  /** lrs[0] after construction, lrs[k] after k steps; one value per group. */
  lrs: number[][];
  metrics?: number[];
  momentum?: number[][];
}

export interface OptimFixtures {
  torch: string;
  optimizers: OptimCase[];
  clip: ClipCase[];
  schedulers: SchedulerCase[];
}

export const OPTIM_FIXTURES: OptimFixtures = JSON.parse(
  readFileSync(fileURLToPath(new URL("../fixtures/optim.json", import.meta.url)), "utf8"),
);

/** torch keyword → Tessera option name. */
const OPTION_NAMES: Record<string, string> = { weight_decay: "weightDecay" };

export function tesseraOptions(torchKwargs: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(torchKwargs).map(([k, v]) => [OPTION_NAMES[k] ?? k, v]));
}

/**
 * An empty string when every |actual − expected| <= atol + rtol·|expected|, else a message with the
 * worst element.
 */
export function compareClose(
  what: string,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: { rtol: number; atol: number },
): string {
  if (actual.length !== expected.length)
    return `${what}: ${actual.length} values, expected ${expected.length}`;
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const excess = Math.abs(a - e) - (tol.atol + tol.rtol * Math.abs(e));
    if (!(excess <= worstExcess)) {
      worst = i;
      worstExcess = Number.isNaN(excess) ? Number.POSITIVE_INFINITY : excess;
    }
  }
  if (worst < 0) return "";
  return `${what}[${worst}] = ${actual[worst]}, torch ${expected[worst]} (|diff| ${Math.abs(actual[worst]! - expected[worst]!)} > atol ${tol.atol} + rtol ${tol.rtol}·|torch|)`;
}

/** The largest |actual − expected| (for reporting how close a result is). */
export function maxAbsDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < expected.length; i++) m = Math.max(m, Math.abs(actual[i]! - expected[i]!));
  return m;
}
