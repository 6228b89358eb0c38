/**
 * Runs a PyTorch module golden case (test/fixtures/<case>.safetensors, format in
 * shared/fixtures/torch/README.md) against a Tessera module: loads `param.*` with
 * `loadStateDict({ strict: true })` (so the keys must be PyTorch's), runs forward and compares
 * `output.*`, then backpropagates the probe loss and compares `grad.input.*` and `grad.param.*`,
 * each within the file's own tolerance.
 */
import { fileURLToPath } from "node:url";
import {
  compareWithTorchGolden,
  type LoadedTorchOpCase,
  loadTorchOpCase,
  makeTorchInputs,
  metadataJson,
  type SafetensorsTensor,
  type TorchOutputComparison,
  type TorchTolerance,
  toInt32Array,
} from "@tessera/conformance";
import { memory, mul, sum, type Tensor, tensor, tidy } from "@tessera/core";
import type { Module } from "../../src/index.js";

export const FIXTURES_DIR = fileURLToPath(new URL("../fixtures/", import.meta.url));

export interface ModuleCase<M extends Module = Module> {
  /** Builds the module from the file's `config` (PyTorch constructor kwargs). */
  build(config: Record<string, unknown>): M;
  /** Runs the module on the case inputs (by name, without `input.`); returns outputs by name (`y`, `attn_weights`, …). */
  forward(m: M, inputs: Record<string, Tensor>): Record<string, Tensor>;
  /** Outputs compared against module state after the forward (BatchNorm's running statistics): output name → state-dict key. */
  stateOutputs?: Record<string, string>;
}

export interface CaseReport {
  readonly failures: string[];
  readonly checked: number;
}

function toTensor(t: SafetensorsTensor, backend: string): Tensor {
  return t.dtype === "F32"
    ? tensor(t.data as Float32Array, { shape: t.shape, backend })
    : tensor(toInt32Array(t), { shape: t.shape, dtype: "int32", backend });
}

function describeComparison(c: TorchOutputComparison): string {
  return `${c.name}: ${c.problem}`;
}

export function loadModuleCase(name: string): LoadedTorchOpCase {
  return loadTorchOpCase(FIXTURES_DIR, name);
}

/**
 * Runs one case on `backend` and returns every mismatch (empty when the module matches PyTorch).
 * Leaves no tensors behind: the count of live tensors is checked too.
 */
export function runModuleCase<M extends Module>(
  name: string,
  spec: ModuleCase<M>,
  backend: string,
): CaseReport {
  const c = loadModuleCase(name);
  const st = c.safetensors;
  const tol = metadataJson<{ forward: TorchTolerance; grad: TorchTolerance }>(st, "tolerance");
  const gradInputs = metadataJson<string[]>(st, "grad_inputs", []);
  const lossTerms = metadataJson<[string, string][]>(st, "loss_terms");
  const failures: string[] = [];
  let checked = 0;
  const before = memory().numTensors;
  const golden = (key: string) => {
    const g = st.tensors.get(key);
    if (!g) throw new Error(`${name}: the fixture has no '${key}'`);
    return g;
  };
  const check = (key: string, t: Tensor | null | undefined, tolerance: TorchTolerance) => {
    checked++;
    const g = golden(key);
    const actual = t ? { shape: t.shape, dtype: t.dtype, data: t.dataSync() } : undefined;
    const r = compareWithTorchGolden(key, actual, g, tolerance);
    if (!r.ok) failures.push(describeComparison(r));
  };

  const m = spec.build(metadataJson<Record<string, unknown>>(st, "config"));
  try {
    m.to(backend);
    m.train(st.metadata["mode"] === "train");
    const params = new Map<string, Tensor>();
    for (const [key, t] of st.tensors) {
      if (key.startsWith("param.")) params.set(key.slice("param.".length), toTensor(t, backend));
    }
    m.loadStateDict(params, { strict: true });
    for (const t of params.values()) t.dispose();

    tidy(() => {
      const inputs = makeTorchInputs(c, backend);
      for (const n of gradInputs) inputs[n]!.requiresGrad = true;
      const out = spec.forward(m, inputs);
      for (const [key] of st.tensors) {
        if (!key.startsWith("output.")) continue;
        const oname = key.slice("output.".length);
        const stateKey = spec.stateOutputs?.[oname];
        const t = stateKey ? m.stateDict().get(stateKey) : out[oname];
        check(key, t, tol.forward);
      }
      let loss: Tensor | null = null;
      for (const [o, p] of lossTerms) {
        const probe = toTensor(golden(p), backend);
        const term = sum(mul(out[o.slice("output.".length)]!, probe));
        loss = loss ? loss.add(term) : term;
      }
      loss!.backward();
      for (const n of gradInputs) check(`grad.input.${n}`, inputs[n]!.grad, tol.grad);
      for (const [key, p] of m.namedParameters()) {
        if (!st.tensors.has(`grad.param.${key}`)) {
          failures.push(`grad.param.${key}: the fixture has no gradient for this parameter`);
          continue;
        }
        check(`grad.param.${key}`, p.grad, tol.grad);
      }
      for (const n of gradInputs) inputs[n]!.grad = null;
    });
  } finally {
    m.dispose();
  }
  const after = memory().numTensors;
  if (after !== before) failures.push(`live tensors went from ${before} to ${after}`);
  return { failures, checked };
}

/** Erases the module type so cases of different modules fit one table. */
export function moduleCase<M extends Module>(spec: ModuleCase<M>): ModuleCase {
  return spec as unknown as ModuleCase;
}
