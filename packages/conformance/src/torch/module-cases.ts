/**
 * PyTorch golden cases of kind `module` and `model` (format in shared/fixtures/torch/README.md), run
 * against anything shaped like an `@tessera/nn` Module: load `param.*` with
 * `loadStateDict({ strict: true })` (so the keys must be PyTorch's), run forward and compare
 * `output.*`, backpropagate the probe loss and compare `grad.input.*` and `grad.param.*`, and for
 * model cases take one optimizer step and compare `step1.param.*` — each within the file's own
 * tolerance. Structural types keep this package independent of `@tessera/nn`.
 */
import { memory, mul, sum, type Tensor, tensor, tidy } from "@tessera/core";
import { compareWithTorchGolden, loadTorchOpCase, makeInputs, type TorchTolerance } from "./op-cases.js";
import { metadataJson, type SafetensorsTensor, toInt32Array } from "./safetensors.js";

/** What the harness needs of a module (an `@tessera/nn` Module has all of it). */
export interface TorchModuleLike {
  to(backend: string): unknown;
  train(mode?: boolean): unknown;
  loadStateDict(sd: ReadonlyMap<string, Tensor>, opts: { strict?: boolean }): unknown;
  stateDict(): ReadonlyMap<string, Tensor>;
  namedParameters(): Iterable<[string, Tensor]>;
  dispose(): void;
}

export interface TorchModuleCase<M extends TorchModuleLike = TorchModuleLike> {
  /** Builds the module from the file's `config` (PyTorch constructor kwargs; model configs also carry `batch`). */
  build(config: Record<string, unknown>): M;
  /** Runs the module on the case inputs (by name, without `input.`); returns outputs by name (`y`, `attn_weights`, `attn.encoder.0`, …). */
  forward(m: M, inputs: Record<string, Tensor>): Record<string, Tensor>;
  /** Outputs compared against module state after the forward (BatchNorm's running statistics): output name → state-dict key. */
  stateOutputs?: Record<string, string>;
  /** The scalar loss for cases whose `loss_terms` is `"custom"` (depth_vit: the L1 loss it also outputs). */
  loss?(outputs: Record<string, Tensor>, inputs: Record<string, Tensor>): Tensor;
}

export interface TorchModuleCaseOptions<M extends TorchModuleLike> {
  /**
   * Model cases: one optimizer step on the module after backward, with the file's `optimizer`
   * (AdamW lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.01); `step1.param.*` is then
   * compared end to end (own gradients → own step) with the README's rule for noise-level gradients.
   */
  step?(m: M, optimizer: Record<string, unknown>): void;
}

export interface TorchModuleCaseReport {
  /** One line per mismatch; empty when the module matches PyTorch. */
  readonly failures: string[];
  /** How many tensors were compared. */
  readonly checked: number;
}

function toTensor(t: SafetensorsTensor, backend: string): Tensor {
  return t.dtype === "F32"
    ? tensor(t.data as Float32Array, { shape: t.shape, backend })
    : tensor(toInt32Array(t), { shape: t.shape, dtype: "int32", backend });
}

interface Step1Tolerance {
  end_to_end: TorchTolerance;
}

/**
 * Runs golden case `name` from `fixturesDir` on `backend` and returns every mismatch. Leaves no
 * tensors behind: the live tensor count is checked too.
 */
export function runTorchModuleCase<M extends TorchModuleLike>(
  fixturesDir: string,
  name: string,
  spec: TorchModuleCase<M>,
  backend: string,
  opts: TorchModuleCaseOptions<M> = {},
): TorchModuleCaseReport {
  const c = loadTorchOpCase(fixturesDir, name);
  const st = c.safetensors;
  const tol = metadataJson<{ forward: TorchTolerance; grad: TorchTolerance; step1?: Step1Tolerance }>(
    st,
    "tolerance",
  );
  const gradInputs = metadataJson<string[]>(st, "grad_inputs", []);
  const lossTerms =
    st.metadata["loss_terms"] === "custom" ? "custom" : metadataJson<[string, string][]>(st, "loss_terms");
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
    const actual = t ? { shape: t.shape, dtype: t.dtype, data: t.dataSync() } : undefined;
    const r = compareWithTorchGolden(key, actual, golden(key), tolerance);
    if (!r.ok) failures.push(`${r.name}: ${r.problem}`);
  };

  const m = spec.build(metadataJson<Record<string, unknown>>(st, "config"));
  try {
    m.to(backend);
    m.train(st.metadata["mode"] === "train");
    const params = new Map<string, Tensor>();
    for (const [key, t] of st.tensors) {
      if (key.startsWith("param.")) params.set(key.slice("param.".length), toTensor(t, backend));
    }
    try {
      m.loadStateDict(params, { strict: true });
    } finally {
      for (const t of params.values()) t.dispose();
    }

    tidy(() => {
      const inputs = makeInputs(c, backend);
      for (const n of gradInputs) inputs[n]!.requiresGrad = true;
      const out = spec.forward(m, inputs);
      let loss: Tensor | null = null;
      if (lossTerms === "custom") {
        if (!spec.loss) throw new Error(`${name}: loss_terms is "custom", so the case needs a loss()`);
        loss = spec.loss(out, inputs);
        out["loss"] ??= loss;
      }
      for (const [key] of st.tensors) {
        if (!key.startsWith("output.")) continue;
        const oname = key.slice("output.".length);
        const stateKey = spec.stateOutputs?.[oname];
        check(key, stateKey ? m.stateDict().get(stateKey) : out[oname], tol.forward);
      }
      if (lossTerms !== "custom") {
        for (const [o, p] of lossTerms) {
          const produced = out[o.slice("output.".length)];
          if (!produced) throw new Error(`${name}: the loss needs '${o}', which forward did not return`);
          const term = sum(mul(produced, toTensor(golden(p), backend)));
          loss = loss ? loss.add(term) : term;
        }
      }
      loss!.backward();
      for (const n of gradInputs) check(`grad.input.${n}`, inputs[n]!.grad, tol.grad);
      const named = [...m.namedParameters()];
      for (const [key, p] of named) {
        if (!st.tensors.has(`grad.param.${key}`)) {
          failures.push(`grad.param.${key}: the fixture has no gradient for this parameter`);
          continue;
        }
        check(`grad.param.${key}`, p.grad, tol.grad);
      }
      if (opts.step) {
        if (!tol.step1) throw new Error(`${name}: the fixture has no step1 tolerance (not a model case?)`);
        opts.step(m, metadataJson<Record<string, unknown>>(st, "optimizer"));
        const lr = Number(metadataJson<Record<string, unknown>>(st, "optimizer")["lr"]);
        for (const [key, p] of named) checkStep(key, p, lr, tol.step1.end_to_end);
      }
      for (const n of gradInputs) inputs[n]!.grad = null;
    });
  } finally {
    m.dispose();
  }
  const after = memory().numTensors;
  if (after !== before) failures.push(`live tensors went from ${before} to ${after}`);
  return { failures, checked };

  /** step1 end to end: where PyTorch's own gradient is noise (< 1e-6), the first Adam step's sign is arbitrary, so ±2.1·lr is allowed. */
  function checkStep(key: string, p: Tensor, lr: number, t: TorchTolerance): void {
    checked++;
    const want = golden(`step1.param.${key}`);
    const g = golden(`grad.param.${key}`).data as Float32Array;
    const got = p.dataSync();
    if (got.length !== want.data.length) {
      failures.push(`step1.param.${key}: ${got.length} elements, golden ${want.data.length}`);
      return;
    }
    let bad = 0;
    let worst = 0;
    for (let i = 0; i < got.length; i++) {
      const w = (want.data as Float32Array)[i]!;
      const allowed = Math.abs(g[i]!) < 1e-6 ? 2.1 * lr : t.atol + t.rtol * Math.abs(w);
      const err = Math.abs(got[i]! - w);
      if (!(err <= allowed)) {
        bad++;
        worst = Math.max(worst, err);
      }
    }
    if (bad)
      failures.push(
        `step1.param.${key}: ${bad}/${got.length} elements off (worst |err| ${worst.toExponential(3)})`,
      );
  }
}
