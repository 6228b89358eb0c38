/**
 * PyTorch gradient parity: every op golden also holds `grad.input.<name>`, the gradient of
 * `L = Σ_terms sum(output · probe)` (metadata `loss_terms`, default `[["output.y", "input.probe"]]`)
 * w.r.t. each input listed in `grad_inputs`. `runTorchGradCases` runs the same translation as the
 * forward check (`TORCH_OP_CASES`) with those inputs requiring grad, backpropagates L with
 * `Tensor.backward()` and compares each leaf's `.grad` with the golden within the file's `tolerance.grad`.
 */
import { enableGrad } from "@tessera/autograd";
import { isFloating, type Tensor, tensor, tidy, withBackend } from "@tessera/core";
import { TORCH_FIXTURES_DIR } from "../fixtures-dir.js";
import {
  compareWithTorchGolden,
  type LoadedTorchOpCase,
  listTorchOpCaseFiles,
  loadTorchOpCase,
  makeInputs,
  TORCH_OP_CASES,
  type TorchOpCaseTable,
  type TorchOutputComparison,
  type TorchTolerance,
} from "../torch/op-cases.js";
import { metadataJson } from "../torch/safetensors.js";

export interface TorchGradCaseResult {
  readonly name: string;
  readonly call: string;
  readonly backend: string;
  readonly ok: boolean;
  /** False when the file holds no `grad.input.*` tensor: nothing was checked (ok stays true). */
  readonly hasGrads: boolean;
  /** Thrown while running forward/backward, or a problem with the case itself. */
  readonly error?: string;
  /** The file's `tolerance.grad`. */
  readonly tolerance: TorchTolerance;
  /** One comparison per `grad.input.<name>` golden, named `grad.input.<name>`. */
  readonly grads: readonly TorchOutputComparison[];
}

const NO_TOLERANCE: TorchTolerance = { rtol: Number.NaN, atol: Number.NaN };

/** Runs one loaded golden's backward on `backendName` and compares the input gradients with torch's. */
export async function runTorchGradCase(
  backendName: string,
  c: LoadedTorchOpCase,
  table: TorchOpCaseTable = TORCH_OP_CASES,
): Promise<TorchGradCaseResult> {
  const st = c.safetensors;
  const goldens = [...st.tensors].filter(([k]) => k.startsWith("grad.input."));
  const base = { name: c.name, call: c.call, backend: backendName, hasGrads: goldens.length > 0 };
  if (!goldens.length) return { ...base, ok: true, tolerance: NO_TOLERANCE, grads: [] };
  const fail = (error: string, tolerance = NO_TOLERANCE): TorchGradCaseResult => ({
    ...base,
    ok: false,
    error,
    tolerance,
    grads: [],
  });
  let tol: TorchTolerance | undefined;
  let gradInputs: string[];
  let lossTerms: [string, string][];
  try {
    tol = metadataJson<{ grad?: TorchTolerance }>(st, "tolerance").grad;
    gradInputs = metadataJson<string[]>(st, "grad_inputs");
    lossTerms = metadataJson<[string, string][]>(st, "loss_terms", [["output.y", "input.probe"]]);
  } catch (e) {
    return fail((e as Error).message);
  }
  if (!tol || typeof tol.rtol !== "number" || typeof tol.atol !== "number")
    return fail(`${c.file}: metadata 'tolerance' has no grad {rtol, atol}`);
  const spec = table[c.name];
  if (c.kind !== "op") return fail(`case kind is '${c.kind}', not 'op'`, tol);
  if (!spec) return fail(`no Tessera mapping for op case '${c.name}' (${c.call})`, tol);
  if (spec.torch !== c.call) {
    return fail(
      `the golden's call changed: file has ${JSON.stringify(c.call)}, the mapping translates ${JSON.stringify(spec.torch)}`,
      tol,
    );
  }
  const unlisted = goldens.map(([k]) => k.slice("grad.input.".length)).filter((n) => !gradInputs.includes(n));
  if (unlisted.length)
    return fail(`grad.input.${unlisted.join(", grad.input.")} not listed in grad_inputs`, tol);

  let inputs: Record<string, Tensor> = {};
  try {
    inputs = makeInputs(c, backendName);
    for (const name of gradInputs) {
      const t = inputs[name];
      if (!t) return fail(`grad_inputs lists '${name}' but there is no input.${name}`, tol);
      if (!isFloating(t.dtype)) return fail(`grad_inputs lists '${name}', a ${t.dtype} input`, tol);
      t.requiresGrad = true;
    }
    withBackend(backendName, () =>
      tidy(() => {
        const loss = enableGrad(() => {
          const outs = spec.run(inputs);
          let total: Tensor | null = null;
          for (const [outKey, probeKey] of lossTerms) {
            const out = outs[outKey.replace(/^output\./, "")];
            if (!out)
              throw new Error(`loss term '${outKey}' names an output the translation did not produce`);
            const p = st.tensors.get(probeKey);
            if (p?.dtype !== "F32") throw new Error(`loss term probe '${probeKey}' is missing or not F32`);
            const probe = tensor(p.data as Float32Array, { shape: p.shape, dtype: "float32" });
            const term = out.mul(probe).sum();
            total = total ? total.add(term) : term;
          }
          if (!total) throw new Error("metadata 'loss_terms' is empty");
          return total as Tensor;
        });
        if (!loss.requiresGrad)
          throw new Error("the loss does not depend on any grad input (no graph recorded)");
        loss.backward();
      }),
    );
    const grads: TorchOutputComparison[] = [];
    for (const [key, golden] of goldens) {
      const g = inputs[key.slice("grad.input.".length)]!.grad;
      const actual = g ? { shape: g.shape, dtype: g.dtype, data: await g.data() } : undefined;
      const r = compareWithTorchGolden(key, actual, golden, tol);
      grads.push(g ? r : { ...r, problem: `no gradient reached ${key.slice("grad.".length)}` });
    }
    return { ...base, ok: grads.every((r) => r.ok), tolerance: tol, grads };
  } catch (e) {
    const err = e as Error;
    return fail(`${err.name}: ${err.message}`, tol);
  } finally {
    for (const t of Object.values(inputs)) {
      if (t.grad) t.grad = null;
      t.dispose();
    }
  }
}

/**
 * Runs the backward of every op golden in `dir` (default fixtures/torch) on `backendName` and compares
 * the input gradients with torch's; one result per case of kind `op`, in name order.
 */
export async function runTorchGradCases(
  backendName: string,
  dir: string = TORCH_FIXTURES_DIR,
  table: TorchOpCaseTable = TORCH_OP_CASES,
): Promise<TorchGradCaseResult[]> {
  const results: TorchGradCaseResult[] = [];
  for (const file of listTorchOpCaseFiles(dir)) {
    let c: LoadedTorchOpCase;
    try {
      c = loadTorchOpCase(dir, file);
    } catch (e) {
      results.push({
        name: file.replace(/\.safetensors$/, ""),
        call: "",
        backend: backendName,
        ok: false,
        hasGrads: false,
        error: (e as Error).message,
        tolerance: NO_TOLERANCE,
        grads: [],
      });
      continue;
    }
    if (c.kind !== "op") continue;
    results.push(await runTorchGradCase(backendName, c, table));
  }
  return results;
}

/** A one-line-per-problem summary of a gradient result, for assertion messages and reports. */
export function describeTorchGradResult(r: TorchGradCaseResult): string {
  const status = !r.hasGrads ? "no grad tensors" : r.ok ? "ok" : "FAILED";
  const lines = [
    `${r.name} on '${r.backend}' (${r.call}) gradients (rtol ${r.tolerance.rtol}, atol ${r.tolerance.atol}): ${status}`,
  ];
  if (r.error) lines.push(`  error: ${r.error}`);
  for (const g of r.grads) if (!g.ok) lines.push(`  ${g.name}: ${g.problem}`);
  return lines.join("\n");
}
