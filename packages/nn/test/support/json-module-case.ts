/**
 * Runs a module case from test/fixtures/conv-norm-cases.json (written by
 * scripts/gen-conv-norm-cases.py with local PyTorch 1.13): loads `params` with
 * `loadStateDict({ strict: true })`, runs forward and compares `outputs`, backpropagates
 * L = Σ y·probe and compares `grads`, each within the case's own tolerance, and checks that no
 * tensor is left behind.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { compareWithTorchGolden, type TorchTolerance } from "@tessera/conformance";
import { memory, mul, sum, type Tensor, tensor, tidy } from "@tessera/core";
import type { Module } from "../../src/index.js";

export interface JsonTensor {
  shape: number[];
  data: number[];
}

export interface JsonModuleCase {
  call: string;
  config: Record<string, unknown>;
  mode: "train" | "eval";
  params: Record<string, JsonTensor>;
  int_params: Record<string, number>;
  inputs: Record<string, JsonTensor>;
  probes: Record<string, JsonTensor>;
  outputs: Record<string, JsonTensor>;
  grads: Record<string, JsonTensor>;
  tolerance: { forward: TorchTolerance; grad: TorchTolerance };
}

export const CONV_NORM_CASES = JSON.parse(
  readFileSync(fileURLToPath(new URL("../fixtures/conv-norm-cases.json", import.meta.url)), "utf8"),
) as {
  cases: Record<string, JsonModuleCase>;
  batchnorm2d_cma: {
    config: Record<string, unknown>;
    steps: {
      x: JsonTensor;
      y: JsonTensor;
      running_mean: JsonTensor;
      running_var: JsonTensor;
      num_batches_tracked: number;
    }[];
    eval: { x: JsonTensor; y: JsonTensor };
    tolerance: { forward: TorchTolerance };
  };
};

export function fromJson(t: JsonTensor, backend: string): Tensor {
  return tensor(new Float32Array(t.data), { shape: t.shape, backend });
}

/** Mismatches of `t` against the stored values (empty when within tolerance). */
export function compareJson(
  name: string,
  t: Tensor | null | undefined,
  g: JsonTensor,
  tol: TorchTolerance,
): string[] {
  const actual = t ? { shape: t.shape, dtype: t.dtype, data: t.dataSync() } : undefined;
  const r = compareWithTorchGolden(
    name,
    actual,
    { shape: g.shape, dtype: "F32", data: new Float32Array(g.data) },
    tol,
  );
  return r.ok ? [] : [`${name}: ${r.problem}`];
}

export function runJsonModuleCase<M extends Module>(
  c: JsonModuleCase,
  build: (config: Record<string, unknown>) => M,
  forward: (m: M, inputs: Record<string, Tensor>) => Record<string, Tensor>,
  backend: string,
): { failures: string[]; checked: number } {
  const failures: string[] = [];
  let checked = 0;
  const before = memory().numTensors;
  const m = build(c.config);
  try {
    m.to(backend);
    m.train(c.mode === "train");
    const sd = new Map<string, Tensor>();
    for (const [k, t] of Object.entries(c.params)) sd.set(k, fromJson(t, backend));
    for (const [k, v] of Object.entries(c.int_params)) {
      sd.set(k, tensor(new Int32Array([v]), { shape: [], dtype: "int32", backend }));
    }
    m.loadStateDict(sd, { strict: true });
    for (const t of sd.values()) t.dispose();
    tidy(() => {
      const inputs: Record<string, Tensor> = {};
      for (const [k, t] of Object.entries(c.inputs)) {
        inputs[k] = fromJson(t, backend);
        inputs[k].requiresGrad = true;
      }
      const out = forward(m, inputs);
      let loss: Tensor | null = null;
      for (const [k, g] of Object.entries(c.outputs)) {
        checked++;
        failures.push(...compareJson(`output.${k}`, out[k], g, c.tolerance.forward));
        const term = sum(mul(out[k]!, fromJson(c.probes[k]!, backend)));
        loss = loss ? loss.add(term) : term;
      }
      loss!.backward();
      const params = new Map(m.namedParameters());
      for (const [k, g] of Object.entries(c.grads)) {
        checked++;
        const t = k.startsWith("input.") ? inputs[k.slice(6)] : params.get(k.slice(6));
        failures.push(...compareJson(`grad.${k}`, t?.grad, g, c.tolerance.grad));
      }
      for (const t of Object.values(inputs)) t.grad = null;
    });
  } finally {
    m.dispose();
  }
  const after = memory().numTensors;
  if (after !== before) failures.push(`live tensors went from ${before} to ${after}`);
  return { failures, checked };
}
