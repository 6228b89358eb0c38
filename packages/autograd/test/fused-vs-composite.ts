/**
 * Shared by the rule tests of fused ops: the gradients of `f` on backend 'js' (fused kernels, so the
 * fused rules) and on a primitives-only backend-js (the differentiated core composite).
 */
import { JsBackend } from "@tessera/backend-js";
import {
  Generator,
  isFloating,
  listBackends,
  randn,
  registerBackend,
  type Tensor,
  tensor,
  tidy,
} from "@tessera/core";
import { expect } from "vitest";
import { runBackward } from "../src/index.js";

export const PRIMITIVES = "js-primitives-rules";

export function registerPrimitives(): void {
  if (!listBackends().includes(PRIMITIVES))
    registerBackend(PRIMITIVES, () => new JsBackend({ name: PRIMITIVES, fused: [] }), 0);
}

/** One input: float64 values (differentiated), or int32 / bool data passed through. */
export interface Input {
  shape: number[];
  values: number[];
  kind?: "float" | "int32" | "bool";
}

function make(i: Input, backend: string): Tensor {
  if ((i.kind ?? "float") === "float") return tensor(i.values, { shape: i.shape, dtype: "float64", backend });
  if (i.kind === "int32")
    return tensor(Int32Array.from(i.values), { shape: i.shape, dtype: "int32", backend });
  return tensor(Uint8Array.from(i.values), { shape: i.shape, dtype: "bool", backend });
}

/** Gradients of Σ_j ⟨outputs_j, random cotangent_j⟩ w.r.t. every float input, on `backend`. */
export function gradsOn(
  backend: string,
  f: (...t: Tensor[]) => Tensor | Tensor[],
  inputs: readonly Input[],
): number[][] {
  return tidy(() => {
    const leaves = inputs.map((i) => make(i, backend));
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

/** The fused rule's gradients equal the differentiated composite's, element by element. */
export function expectFusedMatchesComposite(
  f: (...t: Tensor[]) => Tensor | Tensor[],
  inputs: readonly Input[],
  tol = 1e-9,
): void {
  registerPrimitives();
  const fused = gradsOn("js", f, inputs);
  const composite = gradsOn(PRIMITIVES, f, inputs);
  expect(fused.length).toBe(composite.length);
  fused.forEach((g, i) => {
    g.forEach((v, e) => {
      const c = composite[i]![e]!;
      const ok = Object.is(v, c) || Math.abs(v - c) <= tol * (1 + Math.abs(c));
      expect(ok, `input ${i} element ${e}: fused ${v} vs composite ${c}`).toBe(true);
    });
  });
}
