/** Test doubles: a backend-js instance with some members replaced, for broken and restricted backends. */
import { JsBackend } from "@tessera/backend-js";
import type { Backend, FusedKernels } from "@tessera/core";

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
