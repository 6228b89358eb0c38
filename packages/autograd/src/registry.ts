/**
 * Gradient rules, registered per traced op name. A rule is written with core ops, so it runs on
 * every backend (a fused op's rule may also call the backend's backward kernel where it has one,
 * through core). Every traced op of core has exactly one status:
 * a rule, a composite (differentiated through the traced ops it calls), or non-differentiable.
 */
import type { DType, FusedKernelName, Tensor } from "@tessera/core";

/** What a rule's backward knows about each differentiable input or output. */
export interface TensorInfo {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly backend: string;
  /** Layout in storage (views' gradients need it). */
  readonly strides: readonly number[];
  readonly offset: number;
}

export interface BackwardContext<A extends readonly unknown[] = readonly unknown[]> {
  /**
   * The op's arguments (a method's receiver first). Numbers, options and tensor metadata (shape,
   * strides, offset) are safe to read; a tensor's data may be gone, so read data only from `saved`.
   */
  readonly args: A;
  /** The tensors `save` declared (new references owned by the graph), null where it gave none. */
  readonly saved: readonly (Tensor | null)[];
  /** needs[i]: input i wants a gradient. A rule may return null for the others. */
  readonly needs: readonly boolean[];
  /** Shape and dtype of every differentiable input (null where the slot held no tensor). */
  readonly inputs: readonly (TensorInfo | null)[];
  /** Shape, dtype and layout of every output (null where the slot held no tensor). */
  readonly outputs: readonly (TensorInfo | null)[];
}

// biome-ignore lint/suspicious/noExplicitAny: rules are typed per op by their author.
export interface GradRule<A extends readonly unknown[] = readonly any[]> {
  /** The tensors that can receive a gradient, in order. Default: every Tensor argument, arrays flattened. */
  inputs?(args: A): readonly (Tensor | null | undefined)[];
  /** The op's output tensors, in order. Default: the Tensor, the array, or the object's Tensor values. */
  outputs?(out: unknown): readonly (Tensor | null)[];
  /**
   * False: differentiate the op's composite instead of using this rule. Fused-kernel rules return
   * whether the backend has the fused kernel, so a primitives-only backend differentiates the composite.
   */
  applies?(args: A): boolean;
  /** The tensors backward needs, and only those (they stay alive until backward or graph release). */
  save?(args: A, out: unknown, needs: readonly boolean[]): readonly (Tensor | null | undefined)[];
  /**
   * Gradients of the loss w.r.t. each input, from the gradients w.r.t. each output (zeros for
   * floating outputs that got none). A gradient may have the broadcast shape or another floating
   * dtype: the engine sums it down to the input's shape and casts it.
   */
  backward(grads: readonly Tensor[], ctx: BackwardContext<A>): readonly (Tensor | null | undefined)[];
}

export type GradStatus = "rule" | "composite" | "non-differentiable";

const rules = new Map<string, GradRule>();
const composites = new Set<string>();
const nonDifferentiable = new Set<string>();

/** Registers the gradient rule of op `name` (replacing any earlier one). */
export function registerGradRule<A extends readonly unknown[]>(name: string, rule: GradRule<A>): void {
  rules.set(name, rule as unknown as GradRule);
}

/** Ops differentiated through the traced ops they are built from. */
export function declareComposite(...names: string[]): void {
  for (const n of names) composites.add(n);
}

/** Ops whose results never carry gradients (comparisons, indices, masks, integer results). */
export function declareNonDifferentiable(...names: string[]): void {
  for (const n of names) nonDifferentiable.add(n);
}

export function getGradRule(name: string): GradRule | undefined {
  return rules.get(name);
}

/** How op `name` is differentiated, or undefined when nothing is registered for it. */
export function gradStatus(name: string): GradStatus | undefined {
  if (rules.has(name)) return "rule";
  if (composites.has(name)) return "composite";
  if (nonDifferentiable.has(name)) return "non-differentiable";
  return undefined;
}

/**
 * For a fused op's rule: true when the backend of `t` has fused kernel `kernel`. Without it the op
 * ran its composite, which is then differentiated instead (so both backward paths stay testable).
 */
export function hasFused(t: Tensor, kernel: FusedKernelName): boolean {
  return typeof t.backend.fused[kernel] === "function";
}

/** `g` in the dtype of `t` (g itself when it already is), for a backward kernel: its views share one dtype. */
export function inDtypeOf(g: Tensor, t: Tensor): Tensor {
  return g.dtype === t.dtype ? g : g.cast(t.dtype);
}
