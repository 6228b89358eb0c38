/** Test doubles: a backend-js instance with some members replaced, for broken and restricted backends. */
import { JsBackend } from "@tessera/backend-js";
import type { Backend, FusedKernels } from "@tessera/core";
import type { LoadedTorchOpCase, TorchOpCaseTable } from "../src/torch/op-cases.js";

/** A backend-js (all fused kernels) named `name` whose listed members are replaced; everything else delegates. */
export function patchedJs(
  name: string,
  patch: (inner: JsBackend) => Partial<Omit<Backend, "fused">> & { fused?: Partial<FusedKernels> },
): Backend {
  const inner = new JsBackend({ name });
  const p = patch(inner);
  const b = Object.create(inner) as Backend;
  for (const [k, v] of Object.entries(p))
    Object.defineProperty(b, k, { value: k === "fused" ? { ...inner.fused, ...(v as object) } : v });
  return b;
}

/** Where a golden fixture set and its mapping table disagree (each list empty when they match). */
export function mappingProblems(
  cases: readonly LoadedTorchOpCase[],
  table: TorchOpCaseTable,
): { unmapped: string[]; stale: string[]; orphans: string[] } {
  const names = new Set(cases.map((c) => c.name));
  return {
    unmapped: cases.filter((c) => !table[c.name]).map((c) => c.name),
    stale: cases
      .filter((c) => table[c.name] && table[c.name]!.torch !== c.call)
      .map(
        (c) => `${c.name}: file ${JSON.stringify(c.call)} vs mapping ${JSON.stringify(table[c.name]!.torch)}`,
      ),
    orphans: Object.keys(table).filter((n) => !names.has(n)),
  };
}
