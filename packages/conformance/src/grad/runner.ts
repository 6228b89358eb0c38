/**
 * The grad runner: for each gradient case and each fast-check sample,
 *  1. `gradcheck`: analytic gradients vs central finite differences, float64 on backend-js;
 *  2. `analytic`: the tested backend's float32 analytic gradients vs backend-js's float64 ones, both
 *     for the same projection of the outputs onto fixed weights, within the case's analytic tolerance;
 *  3. `fused` (cases naming a fused kernel): backend-js's float64 gradients (the fused rule) vs those
 *     of a primitives-only backend-js (the differentiated composite), same tolerance.
 * Input values are rounded to float32 once per sample, so every check sees the same numbers. Each
 * sample must leave core's live tensor count where it found it. Usable without vitest.
 */

import { gradcheck, grad as gradOf } from "@tessera/autograd";
import { JsBackend } from "@tessera/backend-js";
import {
  capabilities,
  type DType,
  dispose,
  findBackend,
  isFloating,
  listBackends,
  memory,
  registerBackend,
  removeBackend,
  type Tensor,
  tensor,
  tidy,
  tracedOpNames,
  withBackend,
} from "@tessera/core";
import * as fc from "fast-check";
import { fmtNumber } from "../compare.js";
import { roundTo } from "../oracle.js";
import { DEFAULT_NUM_RUNS, defaultSeed, replayLine } from "../runner.js";
import { GRAD_HALF_TOLERANCES, type GradHalfToleranceName, gradHalfTolerance } from "../tolerances.js";
import { GRAD_CATALOGUE } from "./cases/index.js";
import type { GradCase, GradInput, GradSample } from "./types.js";

/** The float64 reference: backend-js with every fused kernel, as registered by @tessera/backend-js. */
export const GRAD_REFERENCE_BACKEND = "js";
/** The primitives-only backend-js the `fused` check differentiates composites on (registered during runs). */
export const GRAD_PRIMITIVES_BACKEND = "js-grad-primitives";
/**
 * The backend-js a half case computes its half-precision reference on (registered during the case): it has
 * exactly the fused forward and backward kernels the tested backend declares, so both take the same path
 * (fused kernel, or core's composite with its intermediates rounded to the half dtype).
 */
export const GRAD_MIRROR_BACKEND = "js-grad-mirror";

export const DEFAULT_GRADCHECK_TOLERANCE = { atol: 1e-5, rtol: 1e-3 } as const;
export const DEFAULT_ANALYTIC_TOLERANCE = { atol: 1e-4, rtol: 1e-3 } as const;

export type GradCheckName = "gradcheck" | "analytic" | "fused" | "half";
export type GradCaseStatus = "passed" | "failed" | "unsupported";

/** Which cases to run: a regex on the name, a list of exact names or name prefixes, or a predicate. */
export type GradCaseFilter = RegExp | readonly string[] | ((c: GradCase) => boolean);

export interface GradRunOptions {
  /** The registered backend under test (default 'js'). */
  backend?: string;
  /** fast-check runs per case (default 100). */
  numRuns?: number;
  /** fast-check seed (default: TESSERA_CONFORMANCE_SEED, else the fixed default). */
  seed?: number;
  /** fast-check path, to replay one shrunk counterexample. */
  path?: string;
}

export interface GradConformanceOptions extends GradRunOptions {
  cases?: GradCaseFilter;
  /** The cases to draw from (default GRAD_CATALOGUE). */
  catalogue?: readonly GradCase[];
  /** Called after each case, e.g. to print progress. */
  onCase?: (report: GradCaseReport) => void;
}

export interface GradFailure {
  /** The check that failed; `leak` for a tensor count that did not come back, `error` for a throw. */
  check: GradCheckName | "leak" | "error";
  seed: number;
  path: string;
  counterexample: string;
  message: string;
  /** `TESSERA_CONFORMANCE_SEED=… case=… path=…`: paste after `tessera-conformance grad --backend B`. */
  replay: string;
}

export interface GradCaseReport {
  name: string;
  ops: readonly string[];
  fused?: string;
  backend: string;
  /** The float dtype the tested backend ran the case in. */
  dtype: DType;
  /** The named half tolerance of a float16/bfloat16 case. */
  tolerance?: GradHalfToleranceName;
  status: GradCaseStatus;
  /** The checks run on every sample. */
  checks: GradCheckName[];
  runs: number;
  ms: number;
  /** Why the case did not run (unsupported). */
  reason?: string;
  failure?: GradFailure;
}

export interface GradConformanceReport {
  backend: string;
  reference: string;
  seed: number;
  numRuns: number;
  cases: GradCaseReport[];
  counts: Record<GradCaseStatus, number>;
  ms: number;
  ok: boolean;
}

class GradCheckError extends Error {
  constructor(
    readonly check: GradFailure["check"],
    message: string,
  ) {
    super(message);
    this.name = "GradCheckError";
  }
}

// ---- backends ---------------------------------------------------------------------------------

let primitives: JsBackend | null = null;

/** Runs `fn` with the private primitives-only backend-js registered (once, by the outermost caller). */
async function withPrimitives<T>(fn: () => Promise<T>): Promise<T> {
  primitives ??= new JsBackend({ name: GRAD_PRIMITIVES_BACKEND, fused: [] });
  if (listBackends().includes(GRAD_PRIMITIVES_BACKEND)) {
    if (findBackend(GRAD_PRIMITIVES_BACKEND) !== primitives) {
      throw new Error(
        `grad conformance: backend name '${GRAD_PRIMITIVES_BACKEND}' is taken by another backend`,
      );
    }
    return fn();
  }
  // Priority 0 so it never becomes anyone's default backend.
  registerBackend(GRAD_PRIMITIVES_BACKEND, () => primitives!, 0);
  try {
    return await fn();
  } finally {
    removeBackend(GRAD_PRIMITIVES_BACKEND);
  }
}

/** Runs `fn` with a backend-js registered as GRAD_MIRROR_BACKEND that declares the fused kernels `backend` does. */
async function withMirror<T>(backend: string, fn: () => Promise<T>): Promise<T> {
  if (listBackends().includes(GRAD_MIRROR_BACKEND))
    throw new Error(`grad conformance: backend name '${GRAD_MIRROR_BACKEND}' is taken by another backend`);
  const available = new Set<string>(capabilities(findBackend(GRAD_REFERENCE_BACKEND)).fused);
  const fused = capabilities(findBackend(backend)).fused.filter((k) => available.has(k));
  const mirror = new JsBackend({ name: GRAD_MIRROR_BACKEND, fused });
  registerBackend(GRAD_MIRROR_BACKEND, () => mirror, 0);
  try {
    return await fn();
  } finally {
    removeBackend(GRAD_MIRROR_BACKEND);
  }
}

// ---- samples ----------------------------------------------------------------------------------

const kindOf = (i: GradInput) => i.kind ?? "float";

/** The case's float dtype (float32 unless it names one). */
export const gradDtype = (c: GradCase): DType => c.dtype ?? "float32";

/**
 * The sample with every float value rounded to `dtype` (float32 by default; float16/bfloat16 for half
 * cases), so the runs in that dtype and the float64 runs see the same numbers.
 */
function roundSample<A>(s: GradSample<A>, dtype: DType = "float32"): GradSample<A> {
  return {
    attrs: s.attrs,
    inputs: s.inputs.map((i) =>
      kindOf(i) === "float" ? { ...i, values: i.values.map((v) => roundTo(dtype, v)) } : i,
    ),
  };
}

function makeInput(i: GradInput, floatDtype: DType): Tensor {
  const k = kindOf(i);
  if (k === "float") return tensor(i.values, { shape: i.shape, dtype: floatDtype });
  if (k === "int32") return tensor(Int32Array.from(i.values), { shape: i.shape, dtype: "int32" });
  return tensor(
    Uint8Array.from(i.values, (v) => (v ? 1 : 0)),
    { shape: i.shape, dtype: "bool" },
  );
}

const fmtList = (v: ArrayLike<number>) => `[${Array.from(v, fmtNumber).join(", ")}]`;

export function describeGradSample(s: GradSample): string {
  const lines = s.inputs.map(
    (i, k) => `  input ${k}: ${kindOf(i)}[${i.shape.join(",")}] ${fmtList(i.values)}`,
  );
  lines.push(
    `  attrs: ${JSON.stringify(s.attrs, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v))}`,
  );
  return lines.join("\n");
}

/** A small deterministic generator (mulberry32) for projection weights in [-1, 1). */
function weightValues(seed: number, n: number): Float64Array {
  let a = seed >>> 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    out[i] = Math.fround(2 * u - 1);
  }
  return out;
}

/** Projection weights per floating output, drawn on first sight of the output and shared by every run. */
class Projection {
  private readonly weights: { shape: readonly number[]; values: Float64Array }[] = [];
  /** Weights are rounded to `dtype` (float32, or a half type), so every dtype's run projects onto the same numbers. */
  constructor(
    private readonly seed: number,
    private readonly dtype: DType = "float32",
  ) {}

  weight(j: number, out: Tensor): Tensor {
    let w = this.weights[j];
    if (!w) {
      const n = out.shape.reduce((a, b) => a * b, 1);
      const values = weightValues(this.seed + 7919 * j, n);
      if (this.dtype !== "float32") for (let i = 0; i < n; i++) values[i] = roundTo(this.dtype, values[i]!);
      w = { shape: [...out.shape], values };
      this.weights[j] = w;
    } else if (w.shape.length !== out.rank || w.shape.some((d, i) => d !== out.shape[i])) {
      throw new GradCheckError(
        "error",
        `floating output ${j} has shape [${out.shape.join(",")}] on '${out.backendName}' but [${w.shape.join(",")}] on the reference`,
      );
    }
    return tensor(w.values, { shape: w.shape, dtype: out.dtype });
  }
}

function floatOutputs(r: Tensor | Tensor[]): Tensor[] {
  return (Array.isArray(r) ? r : [r]).filter((t) => isFloating(t.dtype));
}

/**
 * Analytic gradients of Σ_j sum(out_j · w_j) w.r.t. every float input, on `backend` with float inputs
 * in `dtype`, read back as float64 arrays (one per float input, in input order).
 */
async function analyticGrads(
  backend: string,
  dtype: DType,
  c: GradCase,
  s: GradSample,
  proj: Projection,
): Promise<Float64Array[]> {
  const argnums = s.inputs.flatMap((i, k) => (kindOf(i) === "float" ? [k] : []));
  const loss = (...xs: Tensor[]): Tensor => {
    let total: Tensor | null = null;
    floatOutputs(c.run(xs, s.attrs)).forEach((o, j) => {
      const term = o.mul(proj.weight(j, o)).sum();
      total = total ? total.add(term) : term;
    });
    if (!total) throw new GradCheckError("error", `${c.name}: run returned no floating output`);
    return total;
  };
  const grads = withBackend(backend, () =>
    tidy(() => gradOf(loss, { argnums })(...s.inputs.map((i) => makeInput(i, dtype)))),
  );
  try {
    const out: Float64Array[] = [];
    for (const [k, g] of grads.entries()) {
      const want = s.inputs[argnums[k]!]!.shape;
      if (g.rank !== want.length || g.shape.some((d, i) => d !== want[i])) {
        throw new GradCheckError(
          "error",
          `gradient of input ${argnums[k]} has shape [${g.shape.join(",")}], the input [${want.join(",")}]`,
        );
      }
      out.push(Float64Array.from((await g.data()) as ArrayLike<number>));
    }
    return out;
  } finally {
    dispose(grads);
  }
}

function compareGrads(
  check: GradCheckName,
  what: string,
  s: GradSample,
  actual: Float64Array[],
  expected: Float64Array[],
  tol: { atol: number; rtol: number },
): void {
  const argnums = s.inputs.flatMap((i, k) => (kindOf(i) === "float" ? [k] : []));
  expected.forEach((e, k) => {
    const a = actual[k]!;
    for (let i = 0; i < e.length; i++) {
      const x = a[i]!;
      const y = e[i]!;
      const bad =
        Number.isNaN(x) || Number.isNaN(y)
          ? Number.isNaN(x) !== Number.isNaN(y)
          : !(Math.abs(x - y) <= tol.atol + tol.rtol * Math.abs(y));
      if (bad) {
        throw new GradCheckError(
          check,
          `${check}: ${what}: d/d input ${argnums[k]} [${s.inputs[argnums[k]!]!.shape.join(",")}] element ${i}: ` +
            `${fmtNumber(x)}, expected ${fmtNumber(y)} (|diff| ${Math.abs(x - y).toExponential(3)} > atol ${tol.atol} + rtol ${tol.rtol}·|expected|)`,
        );
      }
    }
  });
}

// ---- one case ---------------------------------------------------------------------------------

/**
 * A half case's sample: the tested backend's gradients in the case's dtype (a), backend-js's in the same
 * dtype (r) and backend-js's float64 gradients (e), all at the same half-rounded inputs and weights; per
 * gradient tensor, max|a − e| ≤ multiplier·max|r − e| + floor·max|e| (see GRAD_HALF_TOLERANCES), and a's
 * NaN/±Inf where r's are.
 */
async function checkHalfSample(
  c: GradCase,
  s: GradSample,
  backend: string,
  seed: number,
  name: GradHalfToleranceName,
): Promise<void> {
  const tol = GRAD_HALF_TOLERANCES[name];
  const dtype = gradDtype(c);
  const proj = new Projection(seed, dtype);
  const exact = await analyticGrads(GRAD_REFERENCE_BACKEND, "float64", c, s, proj);
  const reference = await analyticGrads(GRAD_MIRROR_BACKEND, dtype, c, s, proj);
  const tested = await analyticGrads(backend, dtype, c, s, proj);
  const argnums = s.inputs.flatMap((i, k) => (kindOf(i) === "float" ? [k] : []));
  exact.forEach((e, k) => {
    const a = tested[k]!;
    const r = reference[k]!;
    const where = `d/d input ${argnums[k]} [${s.inputs[argnums[k]!]!.shape.join(",")}]`;
    let errA = 0;
    let errR = 0;
    let scale = 0;
    let worst = -1;
    for (let i = 0; i < e.length; i++) {
      const x = a[i]!;
      const y = r[i]!;
      if (!Number.isFinite(x) || !Number.isFinite(y)) {
        if (!Object.is(x, y) && !(Number.isNaN(x) && Number.isNaN(y))) {
          throw new GradCheckError(
            "half",
            `half (${name}): '${backend}' ${dtype} vs backend-js ${dtype} ('${GRAD_MIRROR_BACKEND}', same fused kernels): ${where} element ${i}: ` +
              `${fmtNumber(x)}, backend-js ${fmtNumber(y)} (NaN and ±Inf must match)`,
          );
        }
        continue;
      }
      const z = e[i]!;
      if (!Number.isFinite(z)) continue;
      const d = Math.abs(x - z);
      if (d > errA) {
        errA = d;
        worst = i;
      }
      errR = Math.max(errR, Math.abs(y - z));
      scale = Math.max(scale, Math.abs(z));
    }
    const bound = tol.multiplier * errR + tol.floor * scale;
    if (!(errA <= bound)) {
      throw new GradCheckError(
        "half",
        `half (${name}): '${backend}' ${dtype} vs float64 on '${GRAD_REFERENCE_BACKEND}': ${where} element ${worst}: ` +
          `${fmtNumber(a[worst]!)}, float64 ${fmtNumber(e[worst]!)} (backend-js ${dtype} ${fmtNumber(r[worst]!)}); ` +
          `max error ${errA.toExponential(3)} > ${tol.multiplier} × backend-js's ${errR.toExponential(3)} + ` +
          `${tol.floor.toExponential(3)} × max|float64| ${scale.toExponential(3)}`,
      );
    }
  });
}

async function checkSample(c: GradCase, raw: GradSample, backend: string, seed: number): Promise<void> {
  const tensorsBefore = memory().numTensors;
  const half = gradHalfTolerance(gradDtype(c));
  if (half) {
    try {
      await checkHalfSample(c, roundSample(raw, gradDtype(c)), backend, seed, half);
    } catch (e) {
      if (e instanceof GradCheckError) throw e;
      const err = e as Error;
      throw new GradCheckError("error", `threw: ${err?.name ?? "Error"}: ${err?.message ?? String(e)}`);
    }
    const after = memory().numTensors;
    if (after !== tensorsBefore)
      throw new GradCheckError(
        "leak",
        `leak: core counts ${after} live tensors after the sample, ${tensorsBefore} before`,
      );
    return;
  }
  const s = roundSample(raw);
  const gcTol = { ...DEFAULT_GRADCHECK_TOLERANCE, ...c.tolerance?.gradcheck };
  const anTol = { ...DEFAULT_ANALYTIC_TOLERANCE, ...c.tolerance?.analytic };
  try {
    // 1. analytic vs finite differences, float64 on backend-js.
    const report = withBackend(GRAD_REFERENCE_BACKEND, () =>
      tidy(() =>
        gradcheck(
          (...xs) => c.run(xs, s.attrs),
          s.inputs.map((i) => makeInput(i, "float64")),
          { ...gcTol, backend: GRAD_REFERENCE_BACKEND, seed, raise: false },
        ),
      ),
    );
    if (!report.ok) {
      const w = report.worst!;
      throw new GradCheckError(
        "gradcheck",
        `gradcheck (float64, '${GRAD_REFERENCE_BACKEND}'): d/d input ${w.input} [${s.inputs[w.input]!.shape.join(",")}] element ${w.index}: ` +
          `analytic ${fmtNumber(w.analytic)}, finite differences ${fmtNumber(w.numeric)} ` +
          `(|diff| ${Math.abs(w.analytic - w.numeric).toExponential(3)} > atol ${gcTol.atol} + rtol ${gcTol.rtol}·|numeric|)`,
      );
    }
    // 2. the tested backend in float32 vs the float64 reference, same projection.
    const proj = new Projection(seed);
    const reference = await analyticGrads(GRAD_REFERENCE_BACKEND, "float64", c, s, proj);
    const tested = await analyticGrads(backend, "float32", c, s, proj);
    compareGrads(
      "analytic",
      `'${backend}' float32 vs '${GRAD_REFERENCE_BACKEND}' float64`,
      s,
      tested,
      reference,
      anTol,
    );
    // 3. the fused kernel's rule vs the differentiated composite (both float64 on backend-js).
    if (c.fused) {
      const composite = await analyticGrads(GRAD_PRIMITIVES_BACKEND, "float64", c, s, proj);
      compareGrads(
        "fused",
        `fused '${c.fused}' rule on '${GRAD_REFERENCE_BACKEND}' vs the composite on primitives-only '${GRAD_PRIMITIVES_BACKEND}' (float64)`,
        s,
        reference,
        composite,
        anTol,
      );
    }
  } catch (e) {
    if (e instanceof GradCheckError) throw e;
    const err = e as Error;
    throw new GradCheckError("error", `threw: ${err?.name ?? "Error"}: ${err?.message ?? String(e)}`);
  }
  const tensorsAfter = memory().numTensors;
  if (tensorsAfter !== tensorsBefore) {
    throw new GradCheckError(
      "leak",
      `leak: core counts ${tensorsAfter} live tensors after the sample, ${tensorsBefore} before`,
    );
  }
}

/** Why `c` cannot run on `backend`, or null. */
function unsupportedReason(c: GradCase, backend: string, seed: number): string | null {
  const traced = new Set(tracedOpNames());
  const untracedOps = c.ops.filter((o) => !traced.has(o));
  if (untracedOps.length) return `@tessera/core traces no op named ${untracedOps.join(", ")}`;
  const b = findBackend(backend);
  const [sample] = fc.sample(c.arbitrary, { numRuns: 1, seed });
  const need = new Set<DType>([gradDtype(c)]);
  for (const i of sample?.inputs ?? []) if (kindOf(i) !== "float") need.add(kindOf(i) as DType);
  for (const d of c.creates ?? []) need.add(d);
  const lacking = [...need].filter((d) => !b.dtypes.includes(d));
  if (lacking.length)
    return `backend '${backend}' does not declare dtype ${lacking.join(", ")} (declares ${b.dtypes.join(", ")})`;
  if (c.fused && !capabilities(findBackend(GRAD_REFERENCE_BACKEND)).fused.includes(c.fused))
    return `the reference '${GRAD_REFERENCE_BACKEND}' has no fused '${c.fused}' kernel to compare`;
  return null;
}

/**
 * Why `c` cannot run on the registered backend `backend` (a dtype it does not declare, an op core does not
 * trace), or null; also null while `backend` is not registered yet (runGradCase then decides).
 */
export function gradUnsupportedReason(c: GradCase, backend: string, seed?: number): string | null {
  if (!listBackends().includes(backend) || !listBackends().includes(GRAD_REFERENCE_BACKEND)) return null;
  return unsupportedReason(c, backend, seed ?? defaultSeed());
}

/** Runs one gradient case on `opts.backend` and reports it; never throws on a failing sample. */
export async function runGradCase(c: GradCase, opts: GradRunOptions = {}): Promise<GradCaseReport> {
  const backend = opts.backend ?? "js";
  const seed = opts.seed ?? defaultSeed();
  const numRuns = gradCaseRuns(c, opts.numRuns ?? DEFAULT_NUM_RUNS);
  findBackend(backend); // throws a clear error for an unregistered backend
  findBackend(GRAD_REFERENCE_BACKEND);
  const dtype = gradDtype(c);
  const half = gradHalfTolerance(dtype);
  const checks: GradCheckName[] = half
    ? ["half"]
    : c.fused
      ? ["gradcheck", "analytic", "fused"]
      : ["gradcheck", "analytic"];
  const base: GradCaseReport = {
    name: c.name,
    ops: c.ops,
    ...(c.fused ? { fused: c.fused } : {}),
    backend,
    dtype,
    ...(half ? { tolerance: half } : {}),
    status: "passed",
    checks,
    runs: 0,
    ms: 0,
  };
  const reason = unsupportedReason(c, backend, seed);
  if (reason) return { ...base, status: "unsupported", reason };
  const run = async (): Promise<GradCaseReport> => {
    const t0 = performance.now();
    const params: fc.Parameters<[GradSample]> = { numRuns, seed };
    if (opts.path !== undefined) params.path = opts.path;
    const details = await fc.check(
      fc.asyncProperty(c.arbitrary as fc.Arbitrary<GradSample>, (s) => checkSample(c, s, backend, seed)),
      params,
    );
    const ms = performance.now() - t0;
    if (!details.failed) return { ...base, runs: details.numRuns, ms };
    const err = details.errorInstance;
    const path = details.counterexamplePath ?? "";
    const sample = details.counterexample?.[0];
    return {
      ...base,
      status: "failed",
      runs: details.numRuns,
      ms,
      failure: {
        check: err instanceof GradCheckError ? err.check : "error",
        seed: details.seed,
        path,
        counterexample: sample ? describeGradSample(roundSample(sample, dtype)) : "(none)",
        message: err instanceof Error ? err.message : String(err),
        replay: replayLine(details.seed, c.name, path),
      },
    };
  };
  return withPrimitives(() => (half ? withMirror(backend, run) : run()));
}

/** The runs a case gets when the run asks for `numRuns`: the case's own `numRuns` caps it. */
export function gradCaseRuns(c: GradCase, numRuns: number): number {
  return c.numRuns !== undefined ? Math.min(c.numRuns, numRuns) : numRuns;
}

/** The cases `filter` selects from `catalogue`, in catalogue order. */
export function selectGradCases(
  filter?: GradCaseFilter,
  catalogue: readonly GradCase[] = GRAD_CATALOGUE,
): GradCase[] {
  if (!filter) return [...catalogue];
  if (filter instanceof RegExp) return catalogue.filter((c) => filter.test(c.name));
  if (typeof filter === "function") return catalogue.filter(filter);
  return catalogue.filter((c) => filter.some((n) => c.name === n || c.name.startsWith(n)));
}

/** Runs the selected gradient cases on `opts.backend` (default 'js') and returns the report. */
export async function runGradConformance(opts: GradConformanceOptions = {}): Promise<GradConformanceReport> {
  const t0 = performance.now();
  const backend = opts.backend ?? "js";
  const seed = opts.seed ?? defaultSeed();
  const numRuns = opts.numRuns ?? DEFAULT_NUM_RUNS;
  const cases: GradCaseReport[] = [];
  await withPrimitives(async () => {
    for (const c of selectGradCases(opts.cases, opts.catalogue)) {
      const r = await runGradCase(c, { ...opts, backend, seed, numRuns });
      cases.push(r);
      opts.onCase?.(r);
    }
  });
  const counts: Record<GradCaseStatus, number> = { passed: 0, failed: 0, unsupported: 0 };
  for (const r of cases) counts[r.status]++;
  return {
    backend,
    reference: GRAD_REFERENCE_BACKEND,
    seed,
    numRuns,
    cases,
    counts,
    ms: performance.now() - t0,
    ok: counts.failed === 0,
  };
}

/** The message a failed grad case shows: which check, what differed, the counterexample, the replay line. */
export function formatGradFailure(r: GradCaseReport): string {
  const f = r.failure!;
  return [
    `${r.name} (ops ${r.ops.join(", ")}${r.fused ? `, fused ${r.fused}` : ""}${r.tolerance ? `, tolerance ${r.tolerance}` : ""}) failed the ${f.check} check after ${r.runs} runs on '${r.backend}': ${f.message}`,
    `counterexample (shrunk, float values rounded to ${r.dtype}):`,
    f.counterexample,
    `replay: tessera-conformance grad --backend ${r.backend} ${f.replay}`,
  ].join("\n");
}
