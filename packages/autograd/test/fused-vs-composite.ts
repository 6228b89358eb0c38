/**
 * Shared by the rule tests of fused ops: the gradients of `f` on backend 'js' (fused kernels, forward
 * and backward, so the fused rules running the backward kernels), on a backend-js with the forward
 * kernels only (the fused rules computing with core ops) and on a primitives-only backend-js (the
 * differentiated core composite).
 */
import { JsBackend } from "@tessera/backend-js";
import {
  FUSED_KERNELS,
  Generator,
  isFloating,
  listBackends,
  randn,
  registerBackend,
  type Tensor,
  tidy,
} from "@tessera/core";
import fc from "fast-check";
import { expect } from "vitest";
import { runBackward } from "../src/index.js";
import { type GradProblem, type Input, RUNS, toTensor } from "./helpers.js";

export const PRIMITIVES = "js-primitives-rules";
export const FORWARD_ONLY = "js-forward-fused-rules";

export function registerPrimitives(): void {
  if (!listBackends().includes(PRIMITIVES))
    registerBackend(PRIMITIVES, () => new JsBackend({ name: PRIMITIVES, fused: [] }), 0);
  if (!listBackends().includes(FORWARD_ONLY))
    registerBackend(FORWARD_ONLY, () => new JsBackend({ name: FORWARD_ONLY, fused: FUSED_KERNELS }), 0);
}

/** Gradients of Σ_j ⟨outputs_j, random cotangent_j⟩ w.r.t. every float input, on `backend`. */
export function gradsOn(
  backend: string,
  f: (...t: Tensor[]) => Tensor | Tensor[],
  inputs: readonly Input[],
): number[][] {
  return tidy(() => {
    const leaves = inputs.map((i) => toTensor(i, backend));
    for (const l of leaves) if (isFloating(l.dtype)) l.requiresGrad = true;
    const outs = [f(...leaves)].flat();
    const gen = new Generator(11);
    const cot = outs.map((o) => randn(o.shape, { dtype: o.dtype, backend, generator: gen }));
    runBackward(outs, cot, { retainGraph: false, accumulate: true });
    return leaves
      .filter((l) => isFloating(l.dtype))
      .map((l) => (l.grad ? Array.from(l.grad.dataSync() as Float64Array) : new Array(l.size).fill(0)));
  });
}

/**
 * The fused rule's gradients, with the backward kernels and without them, equal the differentiated
 * composite's, element by element.
 */
export function expectFusedMatchesComposite(
  f: (...t: Tensor[]) => Tensor | Tensor[],
  inputs: readonly Input[],
  tol = 1e-9,
): void {
  registerPrimitives();
  const composite = gradsOn(PRIMITIVES, f, inputs);
  for (const [backend, label] of [
    ["js", "fused with backward kernels"],
    [FORWARD_ONLY, "fused forward only"],
  ] as const) {
    const fused = gradsOn(backend, f, inputs);
    expect(fused.length).toBe(composite.length);
    fused.forEach((g, i) => {
      g.forEach((v, e) => {
        const c = composite[i]![e]!;
        const ok = Object.is(v, c) || Math.abs(v - c) <= tol * (1 + Math.abs(c));
        expect(ok, `input ${i} element ${e}: ${label} ${v} vs composite ${c}`).toBe(true);
      });
    });
  }
}

/** On every sample of `arb`, the problem's fused rule equals the differentiated composite. */
export function expectFusedHolds<S>(
  arb: fc.Arbitrary<S>,
  problem: (s: S) => GradProblem,
  numRuns: number,
): void {
  fc.assert(
    fc.property(arb, (s) => {
      const { f, inputs } = problem(s);
      expectFusedMatchesComposite(f, inputs);
    }),
    { ...RUNS, numRuns },
  );
}
