/**
 * The data a conformance case is made of. A case names the kernel it exercises, the dtype it runs in,
 * a fast-check arbitrary of host-side samples, a `run` over core's public ops and a tolerance name.
 * Samples are plain host data so the same sample is materialised identically on every backend.
 */
import type { DType, FusedKernelName, PrimitiveKernelName, Tensor } from "@tessera/core";
import type * as fc from "fast-check";
import type { Output } from "./compare.js";
import type { ToleranceName } from "./tolerances.js";

/** How a host tensor is turned into the (possibly non-contiguous) view a case receives. */
export type ViewSpec =
  | { kind: "contiguous" }
  /** base has dims dim0/dim1 swapped; the view transposes them back. */
  | { kind: "transpose"; dim0: number; dim1: number }
  /** base is `perm`-permuted storage; the view applies `perm` to reach the logical shape. */
  | { kind: "permute"; perm: number[] }
  /** base is longer along `dim`; the view takes every `step`-th element from `start`. */
  | { kind: "slice"; dim: number; start: number; step: number }
  /** base has size 1 where the logical shape does not; the view expands it (stride 0). */
  | { kind: "expand" };

export interface HostTensor {
  dtype: DType;
  /** The shape the case sees. */
  shape: number[];
  /** The shape of the allocated storage the view is taken from. */
  base: number[];
  /** `numel(base)` values in JS numbers (bools as 0/1), written with core's `tensor()`. */
  values: number[];
  view: ViewSpec;
}

export interface Sample<A = unknown> {
  inputs: HostTensor[];
  attrs: A;
}

export type KernelName = PrimitiveKernelName | FusedKernelName;

// biome-ignore lint/suspicious/noExplicitAny: a catalogue holds cases of many attribute types.
export interface ConformanceCase<A = any> {
  /** Unique, stable name used in reports and replay lines, e.g. `unary.exp[float32]`. */
  name: string;
  /** The primitive or fused kernel this case exercises. */
  kernel: KernelName;
  /** The dtype under test; with `requires`, what the backend must declare or the case is unsupported. */
  dtype: DType;
  /** Further dtypes the case needs (int32 indices, bool masks…). */
  requires?: DType[];
  /** Public core exports `run` uses; a missing one reports the case unavailable (core not there yet). */
  ops: string[];
  arbitrary: fc.Arbitrary<Sample<A>>;
  /** Computes the outputs on the active backend from materialised inputs. */
  run(inputs: Tensor[], attrs: A): Tensor | Tensor[];
  tolerance: ToleranceName;
  /**
   * An independent oracle: the expected outputs computed in plain float64 JavaScript straight from the
   * sample's host arrays (values + view description), rounded once to each output dtype. When present,
   * the tested backend is checked against it too, with the same tolerance, so a bug the reference
   * backend shares (both sides running the same primitive code) still fails. Every primitive case has one.
   */
  oracle?(inputs: HostTensor[], attrs: A): Output[];
}

/** What a case's outputs were compared with: the reference backend, and the float64 oracle where the case has one. */
export type CaseCheck = "reference" | "oracle";

export type CasePath = "primitive" | "fused" | "composite";

export interface Mismatch {
  /** Which output of the case. */
  output: number;
  /** First offending flat index (row-major), or -1 for a shape/dtype/norm mismatch. */
  index: number;
  actual: number | string;
  expected: number | string;
  tolerance: ToleranceName;
  message: string;
  /** Which comparison found it (set by the runner). */
  against?: CaseCheck;
}

export interface CaseFailure {
  /** The fast-check seed; rerun with TESSERA_CONFORMANCE_SEED to reproduce. */
  seed: number;
  /** The fast-check path of the shrunk counterexample (replays it directly). */
  path: string;
  /** The shrunk counterexample, summarised (shapes, views, attrs, small value lists). */
  counterexample: string;
  mismatch: Mismatch | null;
  message: string;
  replay: string;
}

export type CaseStatus = "passed" | "failed" | "unsupported" | "unavailable";

export interface CaseReport {
  name: string;
  kernel: KernelName;
  dtype: DType;
  path: CasePath;
  status: CaseStatus;
  tolerance: ToleranceName;
  /** The comparisons each run made: always the reference backend, plus the float64 oracle where the case has one. */
  checks: CaseCheck[];
  /** Set when an option replaced the case's own tolerance (reported, never silent). */
  toleranceOverride?: { from: ToleranceName; to: ToleranceName };
  runs: number;
  ms: number;
  /** Why it is unsupported (backend lacks a dtype) or unavailable (core lacks an op). */
  reason?: string;
  failure?: CaseFailure;
}

export interface ConformanceReport {
  backend: string;
  reference: string;
  seed: number;
  numRuns: number;
  cases: CaseReport[];
  counts: Record<CaseStatus, number>;
  ms: number;
  ok: boolean;
}
