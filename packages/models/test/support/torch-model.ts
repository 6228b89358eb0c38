/**
 * The PyTorch model golden cases (test/fixtures/<case>.safetensors, copied from
 * shared/fixtures/torch/public), run with conformance's harness: strict `loadStateDict`, forward
 * vs `output.*`, backward vs `grad.*`, then one AdamW step with the file's hyperparameters vs
 * `step1.param.*` (end to end, with the README's rule for noise-level gradients).
 */
import { fileURLToPath } from "node:url";
import { runTorchModuleCase, type TorchModuleCase, type TorchModuleCaseReport } from "@tessera/conformance";
import { AdamW, type Module } from "@tessera/nn";

/** test/fixtures, or TESSERA_MODEL_FIXTURES (a bundled runner on a GPU machine points it at the tree). */
export const FIXTURES_DIR =
  process.env.TESSERA_MODEL_FIXTURES ?? fileURLToPath(new URL("../fixtures/", import.meta.url));

export type ModelCase<M extends Module = Module> = TorchModuleCase<M>;

/** One AdamW step as the golden files took it (`optimizer` metadata). */
export function adamwStep(m: Module, o: Record<string, unknown>): void {
  const betas = o.betas as [number, number];
  const opt = new AdamW(m.parameters(), {
    lr: o.lr as number,
    betas,
    eps: o.eps as number,
    weightDecay: o.weight_decay as number,
  });
  opt.step();
  opt.dispose();
}

/** Runs model case `name` on `backend`, with the AdamW step; returns every mismatch. */
export function runModelCase<M extends Module>(
  name: string,
  spec: ModelCase<M>,
  backend: string,
): TorchModuleCaseReport {
  return runTorchModuleCase(FIXTURES_DIR, name, spec, backend, { step: adamwStep });
}
