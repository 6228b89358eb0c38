/**
 * Runners for Tessera backends. Every backend in core's registry is benchmarked, so a backend
 * package that registers itself on import (backend-js today, backend-native later) shows up here
 * with no change to the bench.
 */

import { grad } from "@tessera/autograd";
import { JsBackend } from "@tessera/backend-js";
import {
  capabilities,
  conv2d,
  findBackend,
  layerNorm,
  listBackends,
  matmul,
  memory,
  randn,
  registerBackend,
  relu,
  softmax,
  type Tensor,
  tensor,
  withBackend,
} from "@tessera/core";
import { type Inputs, type PreparedCase, type Runner, Unsupported } from "./runner.js";
import type { Workload } from "./workloads.js";

/** Backend packages that are benchmarked when installed; importing one registers its backends. */
const OPTIONAL_BACKEND_PACKAGES = ["@tessera/backend-native"];

/**
 * Registers 'js-primitives' (backend-js with no fused kernels: every fused op runs core's composite,
 * which is what the fused kernels buy) and imports the optional backend packages that are installed.
 * Returns a note per optional package that is absent or failed to load.
 */
export async function registerBenchBackends(): Promise<string[]> {
  if (!listBackends().includes("js-primitives")) {
    registerBackend("js-primitives", () => new JsBackend({ name: "js-primitives", fused: [] }), 0);
  }
  const notes: string[] = [];
  for (const spec of OPTIONAL_BACKEND_PACKAGES) {
    try {
      await import(spec);
    } catch (e) {
      const code = (e as { code?: string }).code;
      notes.push(
        code === "ERR_MODULE_NOT_FOUND" ? `${spec}: not installed` : `${spec}: failed to load (${String(e)})`,
      );
    }
  }
  return notes;
}

/** How each workload calls the public op, PyTorch-style. */
function compute(w: Workload, t: Record<string, Tensor>): () => Tensor {
  switch (w.op) {
    case "matmul":
      return () => matmul(t.a!, t.b!);
    case "softmax":
      return () => softmax(t.x!, -1);
    case "layerNorm": {
      const normalized = [w.shapes.x!.at(-1)!];
      return () => layerNorm(t.x!, normalized, t.weight, t.bias, 1e-5);
    }
    case "conv2d":
      return () => conv2d(t.x!, t.w!, null, { padding: w.padding ?? 0 });
    case "mlpGrad": {
      const loss = (w1: Tensor, w2: Tensor) => {
        const y = matmul(relu(matmul(t.x!, w1.mT)), w2.mT);
        return y.mul(y).mean();
      };
      const grads = grad(loss, { argnums: [0, 1] });
      return () => {
        const [g1, g2] = grads(t.w1!, t.w2!);
        g2!.dispose();
        return g1!;
      };
    }
    default:
      throw new Unsupported(`no Tessera op for workload op '${(w as Workload).op}'`);
  }
}

export function tesseraRunner(name: string): Runner {
  const backend = findBackend(name);
  return {
    name,
    kind: "tessera",
    description: backend.info().description,
    fused: capabilities(backend).fused,
    liveTensors: () => memory().backends[name]?.numTensors ?? 0,
    prepare(w: Workload, init?: Inputs): PreparedCase {
      const inputs: Record<string, Tensor> = {};
      for (const [key, shape] of Object.entries(w.shapes)) {
        const data = init?.[key];
        inputs[key] = data ? tensor(data, { shape, backend: name }) : randn(shape, { backend: name });
      }
      let fn: () => Tensor;
      try {
        fn = compute(w, inputs);
      } catch (e) {
        for (const t of Object.values(inputs)) t.dispose();
        throw e;
      }
      return {
        async run() {
          // No tidy here: an op that leaks an intermediate shows up as leaked tensors in the report.
          const out = withBackend(name, fn);
          await out.data();
          out.dispose();
        },
        async output() {
          const out = withBackend(name, fn);
          try {
            return Float32Array.from(await out.data());
          } finally {
            out.dispose();
          }
        },
        dispose() {
          for (const t of Object.values(inputs)) t.dispose();
        },
      };
    },
  };
}
