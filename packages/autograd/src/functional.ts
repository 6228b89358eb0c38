/**
 * The functional API: grad, valueAndGrad and vjp differentiate a function w.r.t. its tensor
 * arguments without touching anyone's `.grad`. Inputs are differentiated through fresh leaves
 * (detached views), so the caller's tensors and graphs are left as they were. The function's
 * intermediates are freed as soon as it returns (the recorded graph keeps what backward needs).
 */
import { fmtShape, isFloating, Tensor, tidy } from "@tessera/core";
import { runBackward } from "./backward.js";
import { edgeOf } from "./graph.js";
import { enableGrad } from "./mode.js";

export interface GradOptions {
  /** Which positional arguments to differentiate: one index (default 0) or a list. */
  argnums?: number | readonly number[];
}

type TensorFn = (...args: Tensor[]) => Tensor;

function leavesFor(op: string, args: readonly Tensor[], argnums: readonly number[]): Tensor[] {
  for (const i of argnums) {
    const a = args[i];
    if (!(a instanceof Tensor))
      throw new TypeError(`${op}: argument ${i} must be a Tensor to differentiate it, got ${typeof a}`);
    if (!isFloating(a.dtype))
      throw new TypeError(`${op}: argument ${i} has dtype ${a.dtype}; only floating tensors have gradients`);
  }
  return args.map((a, i) => (argnums.includes(i) ? a.detach().requiresGrad_(true) : a));
}

function normArgnums(op: string, argnums: GradOptions["argnums"], n: number): number[] {
  const list = argnums === undefined ? [0] : typeof argnums === "number" ? [argnums] : [...argnums];
  for (const i of list) {
    if (!Number.isInteger(i) || i < 0 || i >= n)
      throw new RangeError(`${op}: argnums ${i} is out of range for ${n} arguments`);
  }
  return list;
}

function gradsOf(op: string, out: Tensor, leaves: readonly Tensor[], argnums: readonly number[]): Tensor[] {
  if (!(out instanceof Tensor) || out.size !== 1) {
    throw new TypeError(
      `${op}: the function must return a one-element tensor, got ${out instanceof Tensor ? fmtShape(out.shape) : typeof out}; use vjp for other outputs`,
    );
  }
  if (!out.requiresGrad) return argnums.map((i) => leaves[i]!.mul(0));
  const capture = argnums.map((i) => edgeOf(leaves[i]!)!);
  const g = runBackward([out], [null], { retainGraph: false, accumulate: false, capture });
  return g.map((t, k) => t ?? leaves[argnums[k]!]!.mul(0));
}

function release(leaves: readonly Tensor[], args: readonly Tensor[]): void {
  leaves.forEach((l, i) => {
    if (l !== args[i]) l.dispose();
  });
}

/**
 * `grad(f)(x)` is d f(x) / dx for a function returning a one-element tensor. With `argnums` a list,
 * returns one gradient per listed argument.
 */
export function grad(f: TensorFn, opts?: GradOptions & { argnums?: number }): (...args: Tensor[]) => Tensor;
export function grad(
  f: TensorFn,
  opts: GradOptions & { argnums: readonly number[] },
): (...args: Tensor[]) => Tensor[];
export function grad(f: TensorFn, opts: GradOptions = {}): (...args: Tensor[]) => Tensor | Tensor[] {
  const vg = valueAndGrad(f, opts as GradOptions & { argnums: readonly number[] });
  return (...args) => {
    const { value, grad: g } = vg(...args);
    value.dispose();
    return g;
  };
}

/** Like `grad`, returning `{ value, grad }` (the value detached from the graph). */
export function valueAndGrad(
  f: TensorFn,
  opts?: GradOptions & { argnums?: number },
): (...args: Tensor[]) => { value: Tensor; grad: Tensor };
export function valueAndGrad(
  f: TensorFn,
  opts: GradOptions & { argnums: readonly number[] },
): (...args: Tensor[]) => { value: Tensor; grad: Tensor[] };
export function valueAndGrad(
  f: TensorFn,
  opts: GradOptions = {},
): (...args: Tensor[]) => { value: Tensor; grad: Tensor | Tensor[] } {
  return (...args) => {
    const argnums = normArgnums("valueAndGrad", opts.argnums, args.length);
    const leaves = leavesFor("valueAndGrad", args, argnums);
    try {
      const out = enableGrad(() => tidy(() => f(...leaves)));
      try {
        const g = gradsOf("valueAndGrad", out, leaves, argnums);
        return { value: out.detach(), grad: typeof opts.argnums === "object" ? g : g[0]! };
      } finally {
        out.dispose();
      }
    } finally {
      release(leaves, args);
    }
  };
}

export interface VjpResult {
  /** f's output, detached from the graph. */
  output: Tensor;
  /** The vector-Jacobian product: gradients w.r.t. every tensor argument for a cotangent of the output's shape. */
  vjp(cotangent: Tensor): Tensor[];
  /** Frees the recorded graph (also freed when the enclosing tidy/scope ends). */
  dispose(): void;
}

/** Runs f once and returns its output with a function mapping output cotangents to input gradients. */
export function vjp(f: TensorFn, ...primals: Tensor[]): VjpResult {
  const argnums = primals.map((_, i) => i);
  const leaves = leavesFor("vjp", primals, argnums);
  let out: Tensor;
  try {
    out = enableGrad(() => tidy(() => f(...leaves)));
  } catch (e) {
    release(leaves, primals);
    throw e;
  }
  const result: VjpResult = {
    output: out.detach(),
    vjp(cotangent: Tensor) {
      if (!out.requiresGrad) return leaves.map((l) => l.mul(0));
      const capture = leaves.map((l) => edgeOf(l)!);
      const g = runBackward([out], [cotangent], { retainGraph: true, accumulate: false, capture });
      return g.map((t, i) => t ?? leaves[i]!.mul(0));
    },
    dispose() {
      out.dispose();
      release(leaves, primals);
    },
  };
  return result;
}
