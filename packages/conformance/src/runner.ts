/**
 * The runner: for each case, fast-check samples are materialised on the tested and the reference
 * backend from the same host arrays, run through core's public ops under `withBackend`, read back
 * and compared with the case's named tolerance. Each run also checks that the tested backend's live
 * handles and core's live tensor count return to where they were. Usable without vitest.
 */

import { JsBackend } from "@tessera/backend-js";
import {
  type Backend,
  capabilities,
  FUSED_KERNELS,
  type FusedKernelName,
  findBackend,
  listBackends,
  memory,
  registerBackend,
  removeBackend,
  type Tensor,
  withBackend,
} from "@tessera/core";
import * as fc from "fast-check";
import { describeSample, materialize } from "./arbitraries.js";
import { CATALOGUE } from "./cases/index.js";
import { compareOutputs, type Output } from "./compare.js";
import { hasOp } from "./ops.js";
import { isToleranceName, type ToleranceName } from "./tolerances.js";
import type {
  CasePath,
  CaseReport,
  CaseStatus,
  ConformanceCase,
  ConformanceReport,
  Mismatch,
  Sample,
} from "./types.js";

export const DEFAULT_SEED = 424242;
export const DEFAULT_NUM_RUNS = 100;

export interface ConformanceOptions {
  /** The backend results are checked against (default: a fresh backend-js with every fused kernel). */
  reference?: () => Backend;
  /** fast-check runs per case (default 100). */
  numRuns?: number;
  /** fast-check seed for every case (default: TESSERA_CONFORMANCE_SEED, else a fixed seed). */
  seed?: number;
  /** fast-check path, to replay one shrunk counterexample (default: TESSERA_CONFORMANCE_PATH). */
  path?: string;
  /** Only cases exercising these kernels (`binary`, `softmax`…). */
  kernels?: readonly string[];
  /** Only these cases, by exact name or by name prefix (`unary.exp`, `softmax[float16]`). */
  cases?: readonly string[];
  /** Replaces a case's tolerance by another named one: `{ "gelu[float16]": "f16.reduction" }`. Reported. */
  tolerances?: Readonly<Record<string, ToleranceName>>;
  /** The catalogue to draw cases from (default: every built-in case). */
  catalogue?: readonly ConformanceCase[];
  /** Called after each case, e.g. to print progress. */
  onCase?: (report: CaseReport) => void;
}

/** Reads `TESSERA_CONFORMANCE_SEED`, falling back to the fixed default so CI runs are reproducible. */
export function defaultSeed(): number {
  const env = process.env.TESSERA_CONFORMANCE_SEED;
  if (env !== undefined && env !== "") {
    const n = Number(env);
    if (!Number.isInteger(n))
      throw new RangeError(`TESSERA_CONFORMANCE_SEED must be an integer, got '${env}'`);
    return n;
  }
  return DEFAULT_SEED;
}

/** The cases `options` selects, in catalogue order. */
export function selectCases(options: ConformanceOptions = {}): ConformanceCase[] {
  const all = options.catalogue ?? CATALOGUE;
  return all.filter(
    (c) =>
      (!options.kernels || options.kernels.includes(c.kernel)) &&
      (!options.cases || options.cases.some((n) => c.name === n || c.name.startsWith(n))),
  );
}

/** A tested/reference pair registered with core under private names for the duration of a run. */
export class Session {
  readonly tested: Backend;
  readonly reference: Backend;
  readonly testedName: string;
  readonly referenceName: string;
  private readonly claimed: { name: string; previous: Backend | null }[] = [];
  readonly seed: number;
  readonly numRuns: number;
  private closed = false;

  constructor(
    factory: () => Backend,
    readonly options: ConformanceOptions = {},
  ) {
    this.tested = factory();
    this.reference = (options.reference ?? (() => new JsBackend({ name: "js-reference" })))();
    this.testedName = this.tested.name;
    this.referenceName = this.reference.name;
    if (this.tested === this.reference)
      throw new Error("conformance: the tested and the reference backend are the same instance");
    if (this.tested.name === this.reference.name) {
      throw new Error(
        `conformance: the tested and the reference backend are both named '${this.tested.name}'; give one another name`,
      );
    }
    // Core resolves a tensor's backend by name (composites create tensors with { backend: x.backendName }),
    // so each instance is registered under its own name; a different instance holding that name is
    // set aside for the session and restored by close().
    this.claim(this.tested);
    this.claim(this.reference);
    this.seed = options.seed ?? defaultSeed();
    this.numRuns = options.numRuns ?? DEFAULT_NUM_RUNS;
    if (options.tolerances) {
      for (const [k, v] of Object.entries(options.tolerances)) {
        if (!isToleranceName(v))
          throw new RangeError(`conformance: tolerance override for '${k}' names unknown tolerance '${v}'`);
      }
    }
  }

  private claim(backend: Backend): void {
    let previous: Backend | null = null;
    if (listBackends().includes(backend.name)) {
      previous = findBackend(backend.name);
      // Already registered as itself (the CLI's `test js`): nothing to claim or to restore.
      if (previous === backend) return;
      removeBackend(backend.name);
    }
    // Priority 0 so a session never becomes anyone's default backend.
    registerBackend(backend.name, () => backend, 0);
    this.claimed.push({ name: backend.name, previous });
  }

  /** Unregisters the session's backends and restores any registration they displaced. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const { name, previous } of this.claimed) {
      removeBackend(name);
      if (previous) registerBackend(name, () => previous);
    }
  }

  /** Which implementation the tested backend runs for `kernel`. */
  pathOf(kernel: string): CasePath {
    if (!(FUSED_KERNELS as readonly string[]).includes(kernel)) return "primitive";
    return capabilities(this.tested).fused.includes(kernel as FusedKernelName) ? "fused" : "composite";
  }

  /** Why the case cannot run here, or null. */
  unsupported(c: ConformanceCase): string | null {
    const need = [c.dtype, ...(c.requires ?? [])];
    const lacking = need.filter((d) => !this.tested.dtypes.includes(d));
    if (lacking.length) {
      return `backend '${this.tested.name}' does not declare dtype ${lacking.join(", ")} (declares ${this.tested.dtypes.join(", ")})`;
    }
    const refLacking = need.filter((d) => !this.reference.dtypes.includes(d));
    if (refLacking.length)
      return `reference '${this.reference.name}' does not declare dtype ${refLacking.join(", ")}`;
    return null;
  }

  /** Why core cannot run the case yet (an op it uses is not exported), or null. */
  unavailable(c: ConformanceCase): string | null {
    const missing = c.ops.filter((o) => !hasOp(o));
    return missing.length ? `@tessera/core does not export ${missing.join(", ")} yet` : null;
  }

  /** Runs one case and reports it. */
  async runCase(c: ConformanceCase): Promise<CaseReport> {
    const t0 = performance.now();
    const override = this.options.tolerances?.[c.name];
    const tolerance = override ?? c.tolerance;
    const base: CaseReport = {
      name: c.name,
      kernel: c.kernel,
      dtype: c.dtype,
      path: this.pathOf(c.kernel),
      status: "passed",
      tolerance,
      checks: c.oracle ? ["reference", "oracle"] : ["reference"],
      runs: 0,
      ms: 0,
    };
    if (override && override !== c.tolerance) base.toleranceOverride = { from: c.tolerance, to: override };
    const reason = this.unsupported(c);
    if (reason) return { ...base, status: "unsupported", reason };
    const missing = this.unavailable(c);
    if (missing) return { ...base, status: "unavailable", reason: missing };

    const params: fc.Parameters<[Sample]> = { numRuns: this.numRuns, seed: this.seed };
    if (this.options.path !== undefined) params.path = this.options.path;
    const details = await fc.check(
      fc.asyncProperty(c.arbitrary as fc.Arbitrary<Sample>, (s) => this.checkSample(c, s, tolerance)),
      params,
    );
    const ms = performance.now() - t0;
    if (!details.failed) return { ...base, runs: details.numRuns, ms };
    const sample = details.counterexample?.[0];
    const err = details.errorInstance;
    const mismatch = err instanceof CaseError ? err.mismatch : null;
    const message = err instanceof Error ? err.message : String(err);
    const path = details.counterexamplePath ?? "";
    return {
      ...base,
      status: "failed",
      runs: details.numRuns,
      ms,
      failure: {
        seed: details.seed,
        path,
        counterexample: sample ? describeSample(sample) : "(none)",
        mismatch,
        message,
        replay: replayLine(details.seed, c.name, path),
      },
    };
  }

  /**
   * One property run: both backends, compared with each other and, where the case has an oracle, the
   * tested backend with the float64 oracle; then the leak check. Throws CaseError on any disagreement.
   */
  async checkSample(c: ConformanceCase, s: Sample, tolerance: ToleranceName): Promise<void> {
    const handles = this.tested.memory().handles;
    const tensors = memory().numTensors;
    const expected = await this.evaluate(this.referenceName, c, s, "reference");
    const actual = await this.evaluate(this.testedName, c, s, "tested");
    await this.tested.synchronize();
    if (actual.length !== expected.length) {
      throw new CaseError(
        `tested backend returned ${actual.length} outputs, reference ${expected.length}`,
        null,
      );
    }
    const oracle = c.oracle ? c.oracle(s.inputs, s.attrs) : null;
    for (let i = 0; i < expected.length; i++) {
      const m = compareOutputs(actual[i]!, expected[i]!, tolerance, i);
      if (m) {
        // Say which side the oracle takes, so a wrong reference is not blamed on the tested backend.
        const o = oracle?.[i];
        const note = !o
          ? ""
          : compareOutputs(actual[i]!, o, tolerance, i)
            ? "; the float64 oracle disagrees with the tested backend too"
            : "; the float64 oracle agrees with the tested backend, so the reference backend is suspect";
        throw new CaseError(`reference: ${m.message}${note}`, { ...m, against: "reference" });
      }
    }
    if (oracle) {
      if (oracle.length !== actual.length) {
        throw new CaseError(
          `tested backend returned ${actual.length} outputs, the oracle ${oracle.length}`,
          null,
        );
      }
      for (let i = 0; i < oracle.length; i++) {
        const m = compareOutputs(actual[i]!, oracle[i]!, tolerance, i);
        if (m) {
          throw new CaseError(
            `oracle: ${m.message} (the reference backend agrees with the tested one: a bug they share)`,
            { ...m, against: "oracle" },
          );
        }
      }
    }
    const handlesAfter = this.tested.memory().handles;
    if (handlesAfter !== handles) {
      throw new CaseError(
        `leak: backend '${this.tested.name}' holds ${handlesAfter} storage handles after the case, ${handles} before`,
        null,
      );
    }
    const tensorsAfter = memory().numTensors;
    if (tensorsAfter !== tensors) {
      throw new CaseError(
        `leak: core counts ${tensorsAfter} live tensors after the case, ${tensors} before`,
        null,
      );
    }
  }

  private async evaluate(backend: string, c: ConformanceCase, s: Sample, role: string): Promise<Output[]> {
    const created: Tensor[] = [];
    try {
      const outs = withBackend(backend, () => {
        const inputs = s.inputs.map((h) => {
          const t = materialize(h);
          created.push(t);
          return t;
        });
        const r = c.run(inputs, s.attrs);
        return Array.isArray(r) ? r : [r];
      });
      created.push(...outs);
      const res: Output[] = [];
      for (const t of outs) res.push({ dtype: t.dtype, shape: [...t.shape], values: await t.data() });
      return res;
    } catch (e) {
      if (e instanceof CaseError) throw e;
      const msg = e instanceof Error ? e.message : String(e);
      throw new CaseError(`${role} backend threw: ${msg}`, null);
    } finally {
      for (const t of created) t.dispose();
    }
  }
}

export class CaseError extends Error {
  constructor(
    message: string,
    readonly mismatch: Mismatch | null,
  ) {
    super(message);
    this.name = "CaseError";
  }
}

export function replayLine(seed: number, name: string, path: string): string {
  return `TESSERA_CONFORMANCE_SEED=${seed} case=${name}${path ? ` path=${path}` : ""}`;
}

/** Runs the selected cases against `factory()` and returns the report; never throws on a failing case. */
export async function runConformance(
  factory: () => Backend,
  options: ConformanceOptions = {},
): Promise<ConformanceReport> {
  const t0 = performance.now();
  const session = new Session(factory, options);
  const cases: CaseReport[] = [];
  try {
    for (const c of selectCases(options)) {
      const r = await session.runCase(c);
      cases.push(r);
      options.onCase?.(r);
    }
  } finally {
    session.close();
  }
  const counts: Record<CaseStatus, number> = { passed: 0, failed: 0, unsupported: 0, unavailable: 0 };
  for (const r of cases) counts[r.status]++;
  return {
    backend: session.tested.name,
    reference: session.reference.name,
    seed: session.seed,
    numRuns: session.numRuns,
    cases,
    counts,
    ms: performance.now() - t0,
    ok: counts.failed === 0,
  };
}
