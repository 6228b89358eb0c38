/**
 * Shared by the autograd tests: the backend they run on, inputs as plain data, small arbitraries, the
 * gradcheck property and the grad-runner case check. Fused-vs-composite comparisons live in
 * fused-vs-composite.ts.
 */
import "@tessera/backend-js";
import { setBackend, type Tensor, tensor, tracedOpNames } from "@tessera/core";
import fc from "fast-check";
import { beforeAll, expect } from "vitest";
import { runGradCase } from "../../conformance/src/grad/runner.js";
import type { GradCase } from "../../conformance/src/grad/types.js";
import { grad, gradcheck, gradStatus } from "../src/index.js";

/** Every test file runs on the js backend (fused kernels registered). */
export function useJsBackend(): void {
  beforeAll(() => {
    setBackend("js");
  });
}

/** Property-test budget and seed: a failure replays with the same seed. */
export const RUNS = { numRuns: 100, seed: 42 };

export const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

export const pair = (lo: number, hi: number) =>
  fc.tuple(fc.integer({ min: lo, max: hi }), fc.integer({ min: lo, max: hi }));

/** One input: float64 values (differentiated), or int32 / bool data passed through. */
export interface Input {
  shape: number[];
  values: number[];
  kind?: "float" | "int32" | "bool";
}

/** A float input of `shape` with values in [min, max]. */
export const floats = (shape: number[], min = -2, max = 2): fc.Arbitrary<Input> =>
  fc
    .array(fc.double({ min, max, noNaN: true }), { minLength: numel(shape), maxLength: numel(shape) })
    .map((values) => ({ shape, values }));

/** The input as a tensor on `backend` (the current one when omitted): float64, int32 or bool. */
export function toTensor(i: Input, backend?: string): Tensor {
  if ((i.kind ?? "float") === "float") return tensor(i.values, { shape: i.shape, dtype: "float64", backend });
  if (i.kind === "int32")
    return tensor(Int32Array.from(i.values), { shape: i.shape, dtype: "int32", backend });
  return tensor(Uint8Array.from(i.values), { shape: i.shape, dtype: "bool", backend });
}

/** A function to differentiate and the inputs to differentiate it at. */
export interface GradProblem {
  f: (...t: Tensor[]) => Tensor | Tensor[];
  inputs: readonly Input[];
}

/** On every sample of `arb`, the problem's gradients match float64 finite differences. */
export function expectGradcheckHolds<S>(
  arb: fc.Arbitrary<S>,
  problem: (s: S) => GradProblem,
  numRuns = RUNS.numRuns,
): void {
  fc.assert(
    fc.property(arb, (s) => {
      const { f, inputs } = problem(s);
      gradcheck(
        f,
        inputs.map((i) => toTensor(i)),
      );
    }),
    { ...RUNS, numRuns },
  );
}

/** Gradients of the scalar `f` w.r.t. every argument. */
// biome-ignore lint/suspicious/noExplicitAny: test functions take one to three tensors.
export const grads = (f: (...xs: any[]) => Tensor, xs: Tensor[]) =>
  grad(f, { argnums: xs.map((_, i) => i) })(...xs);

export const values = (t: Tensor | null | undefined) => Array.from(t!.dataSync() as Float32Array);

/** Runs a case through the grad runner (gradcheck, float32 vs float64, leak check) and fails with its replay. */
export async function expectCasePasses(c: GradCase): Promise<void> {
  const r = await runGradCase(c, { seed: RUNS.seed, numRuns: RUNS.numRuns });
  const why = r.failure ? `${r.failure.message}\n${r.failure.counterexample}\n${r.failure.replay}` : "";
  expect(r.status, why).toBe("passed");
  expect(r.runs).toBe(RUNS.numRuns);
}

/** Each op is traced, has a gradient rule and is exercised by one of `cases`. */
export function expectRulesWithGradCases(names: readonly string[], cases: readonly GradCase[]): void {
  const covered = new Set(cases.flatMap((c) => c.ops));
  for (const name of names) {
    expect(tracedOpNames()).toContain(name);
    expect(gradStatus(name), name).toBe("rule");
    expect(covered.has(name), `grad case for ${name}`).toBe(true);
  }
}
