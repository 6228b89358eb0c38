/**
 * Gradient cases: one per differentiable op (or variant). A case draws plain host samples with
 * fast-check, builds the op's inputs from them and differentiates `run` w.r.t. every floating input.
 * The grad runner checks, for each sample:
 *  1. analytic vs central finite differences in float64 on backend-js (`gradcheck`);
 *  2. the tested backend's analytic gradients (in the case's dtype, float32 by default) vs backend-js's
 *     float64 analytic gradients, within the case's tolerance;
 * and, for cases with `fused`, backend-js with the fused kernel vs backend-js without it (the fused
 * backward rule vs the differentiated composite).
 */
import type { DType, FusedKernelName, Tensor } from "@tessera/core";
import type * as fc from "fast-check";

/** One input of a sample: plain data so every backend materialises the same tensor. */
export interface GradInput {
  shape: number[];
  /** numel(shape) values (indices for int32, 0/1 for bool). */
  values: number[];
  /** float (the case's dtype; differentiated), int32 (indices) or bool (masks). Default float. */
  kind?: "float" | "int32" | "bool";
}

export interface GradSample<A = unknown> {
  inputs: GradInput[];
  attrs: A;
}

// biome-ignore lint/suspicious/noExplicitAny: a catalogue holds cases of many attribute types.
export interface GradCase<A = any> {
  /** Unique stable name, e.g. `grad.softmax` or `grad.conv2d.groups`. */
  name: string;
  /**
   * The float dtype the tested backend runs the case in (default float32). A float16/bfloat16 case checks
   * the tested backend's half gradients against the float64 gradients at the same half-rounded inputs,
   * allowing a named multiple of backend-js's own half error (`GRAD_HALF_TOLERANCES`); its float32 sibling
   * runs gradcheck and the fused check, which do not depend on the dtype. A backend that does not declare
   * the dtype reports the case unsupported.
   */
  dtype?: DType;
  /** At most this many fast-check runs (the runner's numRuns caps it): keeps the costlier variants cheap. */
  numRuns?: number;
  /** The traced op names this case differentiates (core's names: "softmax", "slice", "conv2d"…). */
  ops: string[];
  /** The fused kernel whose backward this case also compares against the composite, if any. */
  fused?: FusedKernelName;
  arbitrary: fc.Arbitrary<GradSample<A>>;
  /** dtypes `run` creates beyond its inputs' (e.g. a cast's target); a backend lacking one reports the case unsupported. */
  creates?: DType[];
  /** The function under test; its floating outputs are projected onto random weights and summed. */
  run(inputs: Tensor[], attrs: A): Tensor | Tensor[];
  /**
   * gradcheck tolerances in float64 (defaults atol 1e-5, rtol 1e-3) and the float32-vs-float64
   * comparison tolerance of analytic gradients (defaults atol 1e-4, rtol 1e-3). Say why when widened.
   */
  tolerance?: { gradcheck?: { atol: number; rtol: number }; analytic?: { atol: number; rtol: number } };
}
