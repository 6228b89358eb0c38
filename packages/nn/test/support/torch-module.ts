/**
 * The PyTorch module golden cases of this package (test/fixtures/<case>.safetensors), run with
 * conformance's harness: strict `loadStateDict` of `param.*`, forward vs `output.*`, backward of the
 * probe loss vs `grad.input.*` and `grad.param.*`, each within the file's own tolerance.
 */
import { fileURLToPath } from "node:url";
import {
  type LoadedTorchOpCase,
  loadTorchOpCase,
  runTorchModuleCase,
  type TorchModuleCase,
  type TorchModuleCaseReport,
} from "@tessera/conformance";
import type { Module } from "../../src/index.js";

export const FIXTURES_DIR = fileURLToPath(new URL("../fixtures/", import.meta.url));

export type ModuleCase<M extends Module = Module> = TorchModuleCase<M>;
export type CaseReport = TorchModuleCaseReport;

export function loadModuleCase(name: string): LoadedTorchOpCase {
  return loadTorchOpCase(FIXTURES_DIR, name);
}

/** Runs one case on `backend` and returns every mismatch (empty when the module matches PyTorch). */
export function runModuleCase<M extends Module>(
  name: string,
  spec: ModuleCase<M>,
  backend: string,
): CaseReport {
  return runTorchModuleCase(FIXTURES_DIR, name, spec, backend);
}

/** Erases the module type so cases of different modules fit one table. */
export function moduleCase<M extends Module>(spec: ModuleCase<M>): ModuleCase {
  return spec as unknown as ModuleCase;
}
