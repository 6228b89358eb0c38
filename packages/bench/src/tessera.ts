/**
 * Runners for Tessera backends. Every backend in core's registry is benchmarked, so a backend
 * package that registers itself on import (backend-js, backend-native) shows up here with no change
 * to the bench. A backend with a thread pool (native) also gets a one-thread runner.
 */

import { grad } from "@tessera/autograd";
import { JsBackend } from "@tessera/backend-js";
import {
  capabilities,
  conv2d,
  findBackend,
  gelu,
  layerNorm,
  linear,
  listBackends,
  matmul,
  memory,
  randn,
  registerBackend,
  relu,
  scaledDotProductAttention,
  softmax,
  type Tensor,
  tensor,
  withBackend,
} from "@tessera/core";
import { modelCompute } from "./model-workloads.js";
import { type Inputs, type PreparedCase, type Runner, Unsupported } from "./runner.js";
import type { Workload } from "./workloads.js";

/** Backend packages that are benchmarked when installed; importing one registers its backends. */
const OPTIONAL_BACKEND_PACKAGES = ["@tessera/backend-native"];

/** What the bench uses of `@tessera/backend-native` (typed here: the package is optional). */
interface NativeModule {
  nativeStatus(): { available: boolean; reason?: string };
  NativeBackend: new (opts: { name: string; fused: readonly string[] }) => unknown;
}

/** A backend with a thread pool: backend-native's NativeBackend. */
export interface ThreadedBackend {
  setNumThreads(n: number): number;
  readonly numThreads: number;
  /** GFLOP/s of a register-resident FMA loop on `threads` threads. */
  fmaPeak(threads?: number, seconds?: number): number;
}

/** The backend registered as `name` when it has a thread pool, else undefined. */
export function threadedBackend(name: string): ThreadedBackend | undefined {
  try {
    const b = findBackend(name) as unknown as Partial<ThreadedBackend>;
    return typeof b.setNumThreads === "function" && typeof b.fmaPeak === "function"
      ? (b as ThreadedBackend)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Registers 'js-primitives' (backend-js with no fused kernels: every fused op runs core's composite,
 * which is what the fused kernels buy), imports the optional backend packages that are installed,
 * and when the native addon loaded registers 'native-primitives' likewise. Returns a note per
 * optional package that is absent, failed to load, or cannot run here (with the addon's reason).
 */
export async function registerBenchBackends(): Promise<string[]> {
  if (!listBackends().includes("js-primitives")) {
    registerBackend("js-primitives", () => new JsBackend({ name: "js-primitives", fused: [] }), 0);
  }
  const notes: string[] = [];
  for (const spec of OPTIONAL_BACKEND_PACKAGES) {
    let mod: unknown;
    try {
      mod = await import(spec);
    } catch (e) {
      const code = (e as { code?: string }).code;
      notes.push(
        code === "ERR_MODULE_NOT_FOUND" ? `${spec}: not installed` : `${spec}: failed to load (${String(e)})`,
      );
      continue;
    }
    if (spec === "@tessera/backend-native") {
      const native = mod as NativeModule;
      const status = native.nativeStatus();
      if (!status.available) {
        notes.push(`native: unavailable (${status.reason ?? "no reason given"}); the other runners ran`);
      } else if (!listBackends().includes("native-primitives")) {
        registerBackend(
          "native-primitives",
          () => new native.NativeBackend({ name: "native-primitives", fused: [] }) as never,
          0,
        );
      }
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
    case "gelu":
      return () => gelu(t.x!);
    case "attention":
      return () => scaledDotProductAttention(t.q!, t.k!, t.v!);
    case "blockGrad": {
      const [batch, seq, dim] = w.shapes.x! as [number, number, number];
      const heads = w.heads ?? 1;
      const hd = dim / heads;
      const names = Object.keys(w.shapes).filter((k) => k !== "x"); // the parameters, in order
      const block = (...params: Tensor[]) => {
        const p = (name: string) => params[names.indexOf(name)]!;
        const x = t.x!;
        // [B, S, 3·D] → [3, B, H, S, hd]: q, k, v with the heads split off.
        const qkv = linear(layerNorm(x, [dim], p("ln1w"), p("ln1b")), p("wqkv"), p("bqkv"))
          .reshape([batch, seq, 3, heads, hd])
          .permute(2, 0, 3, 1, 4);
        const att = scaledDotProductAttention(qkv.select(0, 0), qkv.select(0, 1), qkv.select(0, 2));
        const merged = att.permute(0, 2, 1, 3).reshape([batch, seq, dim]);
        const h = x.add(linear(merged, p("wproj"), p("bproj")));
        const mlp = linear(
          gelu(linear(layerNorm(h, [dim], p("ln2w"), p("ln2b")), p("w1"), p("b1"))),
          p("w2"),
          p("b2"),
        );
        const y = h.add(mlp);
        return y.mul(y).mean();
      };
      const grads = grad(block, { argnums: names.map((_, i) => i) });
      return () => {
        const gs = grads(...names.map((n) => t[n]!));
        const wanted = names.indexOf("wqkv");
        for (let i = 0; i < gs.length; i++) if (i !== wanted) gs[i]!.dispose();
        return gs[wanted]!; // d loss / d wqkv
      };
    }
    case "miniVitStep":
    case "vitInference":
      return modelCompute(w.model!, t.x!); // owns a model: freed by its dispose()
    default:
      throw new Unsupported(`no Tessera op for workload op '${(w as Workload).op}'`);
  }
}

export interface TesseraRunnerOptions {
  /** The runner's name (default: the backend's). */
  runnerName?: string;
  /** For a backend with a thread pool: the pool size during this runner's cases (restored after each). */
  threads?: number;
}

export function tesseraRunner(name: string, opts: TesseraRunnerOptions = {}): Runner {
  const backend = findBackend(name);
  const pool = threadedBackend(name);
  if (opts.threads !== undefined && !pool) throw new Error(`backend '${name}' has no thread pool to size`);
  let restore: number | undefined;
  const description = backend.info().description;
  return {
    name: opts.runnerName ?? name,
    kind: "tessera",
    description:
      pool && opts.threads !== undefined ? `${description}; timed on ${opts.threads} thread(s)` : description,
    fused: capabilities(backend).fused,
    ...(pool ? { threads: opts.threads ?? pool.numThreads } : {}),
    ...(pool && opts.threads !== undefined
      ? {
          async activate() {
            restore = pool.numThreads;
            pool.setNumThreads(opts.threads!);
          },
          deactivate() {
            if (restore !== undefined) pool.setNumThreads(restore);
            restore = undefined;
          },
        }
      : {}),
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
          // Waits for the backend to finish (a no-op promise on synchronous CPU backends) without
          // reading the result back: GFLOP/s measure the op, not a device-to-JS copy.
          const out = withBackend(name, fn);
          await findBackend(name).synchronize();
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
          (fn as { dispose?: () => void }).dispose?.();
          for (const t of Object.values(inputs)) t.dispose();
        },
      };
    },
  };
}
