/**
 * The one seam between core and autograd. Every public op that takes tensors runs through
 * `traced`: with no hook installed (core alone) it is a direct call; with autograd's hook
 * installed the hook decides whether to record the op as one node (it has a gradient rule),
 * let the ops inside record themselves (a composite), or run it untracked.
 *
 * Core knows nothing about gradients: the hook receives the op name, the call's arguments
 * (a method's receiver first) and a `run` callback.
 */
import type { Disposable } from "./engine.js";

export interface OpHook {
  /**
   * Runs one traced op. `run(false)` executes it with tracing suspended inside (the ops it calls
   * are not seen again); `run(true)` executes it with tracing on, so its inner ops reach the hook.
   */
  call(name: string, args: readonly unknown[], run: (traceInside: boolean) => unknown): unknown;
  /** Called when a tensor is disposed, so per-tensor state (gradients, graph edges) can be released. */
  disposed(t: Disposable): void;
}

let hook: OpHook | undefined;
let suspended = 0;

/**
 * Rewrites the arguments of a user-level op call (autocast installs it while a scope is open).
 * Ops called from inside another op see their arguments as given: `opDepth` counts the traced ops
 * running, as PyTorch's autocast excludes itself inside the ops it wraps.
 */
export type ArgsHook = (name: string, args: unknown[], run: (args: unknown[]) => unknown) => unknown;
let argsHook: ArgsHook | undefined;
let opDepth = 0;

/** Internal (autocast): installs or removes the argument hook. */
export function setArgsHook(h: ArgsHook | undefined): void {
  argsHook = h;
}
const tracedNames = new Set<string>();

/** Installs (or, with undefined, removes) the op hook. Returns the previous one. */
export function setOpHook(h: OpHook | undefined): OpHook | undefined {
  const prev = hook;
  hook = h;
  return prev;
}

/** The installed op hook, if any. */
export function getOpHook(): OpHook | undefined {
  return hook;
}

/** Runs `fn` with tracing suspended: no op inside reaches the hook. */
export function untraced<T>(fn: () => T): T {
  suspended++;
  try {
    return fn();
  } finally {
    suspended--;
  }
}

/** The names of every traced op, for coverage checks (each needs a gradient classification). */
export function tracedOpNames(): string[] {
  return [...tracedNames].sort();
}

// biome-ignore lint/suspicious/noExplicitAny: generic over any op signature, overloads included.
type AnyFn = (...args: any[]) => any;

/** Wraps a free-function op so the hook sees it under `name`. Keeps the function's type (overloads too). */
export function traced<F extends AnyFn>(name: string, fn: F): F {
  tracedNames.add(name);
  const call = function (this: unknown, args: unknown[]): unknown {
    if (hook === undefined || suspended > 0) return fn.apply(this, args);
    return hook.call(name, args, (traceInside) =>
      traceInside ? fn.apply(this, args) : untraced(() => fn.apply(this, args)),
    );
  };
  const wrapper = function (this: unknown, ...args: unknown[]) {
    if (argsHook === undefined || opDepth > 0) return call.call(this, args);
    return argsHook(name, args, (a) => {
      opDepth++;
      try {
        return call.call(this, a);
      } finally {
        opDepth--;
      }
    });
  };
  Object.defineProperty(wrapper, "name", { value: name });
  return wrapper as unknown as F;
}

/** Wraps `proto[name]` so the hook sees calls as `name(receiver, ...args)`. */
export function traceMethod(proto: object, name: string): void {
  tracedNames.add(name);
  const target = proto as Record<string, AnyFn>;
  const fn = target[name]!;
  const wrapper = function (this: unknown, ...args: unknown[]) {
    if (hook === undefined || suspended > 0) return fn.apply(this, args);
    return hook.call(name, [this, ...args], (traceInside) =>
      traceInside ? fn.apply(this, args) : untraced(() => fn.apply(this, args)),
    );
  };
  Object.defineProperty(wrapper, "name", { value: name });
  Object.defineProperty(proto, name, { value: wrapper, writable: true, configurable: true });
}

/** Tells the hook a tensor was disposed (called by Tensor.dispose). */
export function notifyDisposed(t: Disposable): void {
  hook?.disposed(t);
}
