/**
 * Mixed precision: `autocast` scopes in which matrix products run in bfloat16 or float16 while
 * softmax, norms, losses and reductions run in float32 (torch.autocast's op lists, cut to Tessera's
 * ops). One table says what each op does; ops not in it run on their arguments as given.
 *
 * The casts happen where a user-level op is called, before autograd sees the call, so each cast is a
 * recorded `cast` op: gradients flow back through it and reach float32 parameters as float32. Ops
 * called from inside another op are not cast again (core's trace seam counts the ops running).
 * The scope lives in AsyncLocalStorage, like `scope()`, so `autocast(async () => …)` covers exactly
 * its own async continuation.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { type DType, isFloating, isHalf } from "./dtype.js";
import { Tensor } from "./tensor.js";
import { setArgsHook } from "./trace.js";

/** The dtypes autocast computes in. */
export type AutocastDType = "bfloat16" | "float16";

export interface AutocastOptions {
  /** The low-precision dtype of matrix products, convolutions and attention. */
  dtype: AutocastDType;
  /** false turns autocast off inside (also inside an enclosing scope); default true. */
  enabled?: boolean;
}

/**
 * - `lower`: floating float32 (and the other half dtype) arguments are cast to the scope's dtype.
 * - `float32`: float16/bfloat16 arguments are cast to float32, so the op computes and returns f32.
 */
type Policy = "lower" | "float32";

const POLICY: Readonly<Record<string, Policy>> = {
  matmul: "lower",
  linear: "lower",
  conv2d: "lower",
  convTranspose2d: "lower",
  scaledDotProductAttention: "lower",
  softmax: "float32",
  logSoftmax: "float32",
  layerNorm: "float32",
  sum: "float32",
  prod: "float32",
  mean: "float32",
  var: "float32",
  std: "float32",
  logsumexp: "float32",
  pow: "float32",
  crossEntropy: "float32",
  mseLoss: "float32",
  l1Loss: "float32",
  smoothL1Loss: "float32",
  binaryCrossEntropyWithLogits: "float32",
};

interface State {
  dtype: AutocastDType;
  enabled: boolean;
}

const store = new AsyncLocalStorage<State>();
/** Scopes open anywhere; while 0 the trace seam carries no hook, so ops pay nothing. */
let open = 0;

/**
 * Runs `fn` with autocast: matmul, linear, conv2d, convTranspose2d and scaledDotProductAttention
 * take their floating inputs in `dtype`; softmax, logSoftmax, layerNorm, the losses and the
 * reductions (sum, mean, prod, var, std, logsumexp) take half inputs in float32. When `fn` returns
 * a Promise the scope lasts until it settles. Scopes nest; `enabled: false` turns autocast off
 * inside. Run `backward()` outside the scope, as in PyTorch.
 *
 * @example
 * import { autocast, linear, randn, softmax } from "@tessera/core";
 *
 * const x = randn([8, 16]);
 * const w = randn([4, 16]);
 * const y = autocast({ dtype: "bfloat16" }, () => softmax(linear(x, w), -1));
 * y.dtype; // "float32": linear ran in bfloat16, softmax in float32
 */
export function autocast<T>(opts: AutocastOptions, fn: () => T): T {
  if (opts?.dtype !== "bfloat16" && opts?.dtype !== "float16") {
    throw new TypeError(
      `autocast: dtype must be 'bfloat16' or 'float16', got ${JSON.stringify(opts?.dtype)}`,
    );
  }
  const state: State = { dtype: opts.dtype, enabled: opts.enabled ?? true };
  if (open++ === 0) setArgsHook(applyPolicy);
  let pending = false;
  try {
    const result = store.run(state, fn);
    if (result instanceof Promise) {
      pending = true;
      return result.finally(close) as T;
    }
    return result;
  } finally {
    if (!pending) close();
  }
}

function close(): void {
  if (--open === 0) setArgsHook(undefined);
}

/** True inside an enabled autocast scope. */
export function isAutocastEnabled(): boolean {
  return store.getStore()?.enabled ?? false;
}

/** The dtype autocast computes matrix products in here, or null outside an enabled scope. */
export function autocastDtype(): AutocastDType | null {
  const s = store.getStore();
  return s?.enabled ? s.dtype : null;
}

function applyPolicy(name: string, args: unknown[], run: (args: unknown[]) => unknown): unknown {
  const policy = POLICY[name];
  const s = policy && store.getStore();
  if (!s?.enabled) return run(args);
  const target: DType = policy === "lower" ? s.dtype : "float32";
  const made: Tensor[] = [];
  const castOne = (v: unknown): unknown => {
    if (!(v instanceof Tensor) || v.dtype === target || !isFloating(v.dtype)) return v;
    // float64 stays (PyTorch casts only float32 and the other half type); float32 stays in f32 ops.
    if (v.dtype === "float64" || (policy === "float32" && !isHalf(v.dtype))) return v;
    const c = v.cast(target);
    made.push(c);
    return c;
  };
  const castArg = (a: unknown): unknown => {
    if (Array.isArray(a)) return a.map(castOne);
    // Option objects carry tensors too (attention's float mask must match q's dtype).
    if (
      a !== null &&
      typeof a === "object" &&
      !(a instanceof Tensor) &&
      Object.getPrototypeOf(a) === Object.prototype
    ) {
      let copy: Record<string, unknown> | undefined;
      for (const [k, v] of Object.entries(a)) {
        const c = castOne(v);
        if (c !== v) {
          copy ??= { ...(a as Record<string, unknown>) };
          copy[k] = c;
        }
      }
      return copy ?? a;
    }
    return castOne(a);
  };
  const cast = args.map(castArg);
  if (made.length === 0) return run(args);
  let result: unknown;
  try {
    result = run(cast);
  } finally {
    // The op (and autograd's graph) hold their own references to what they keep.
    for (const t of made) if (!returned(result, t)) t.dispose();
  }
  return result;
}

function returned(result: unknown, t: Tensor): boolean {
  if (result === t) return true;
  if (Array.isArray(result)) return result.includes(t);
  if (result !== null && typeof result === "object" && !(result instanceof Tensor))
    return Object.values(result).includes(t);
  return false;
}
