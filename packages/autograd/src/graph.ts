/**
 * The recorded graph. Each op that needs a gradient becomes a `Node` holding its rule, its arguments,
 * the tensors its rule saved, and one edge per differentiable input: to the node that produced that
 * input, or to the input's leaf accumulator. Nodes are reference counted by the tensors they produced
 * and by the nodes downstream, so disposing the results of a forward pass (or leaving its `tidy`)
 * frees the graph and its saved tensors without a garbage-collector pass.
 */
import { type Disposable, isFloating, setOpHook, Tensor, untraced } from "@tessera/core";
import { isGradEnabled } from "./mode.js";
import { type GradRule, getGradRule, gradStatus, type TensorInfo } from "./registry.js";

// biome-ignore lint/suspicious/noConfusingVoidType: a hook may return nothing, as a statement body does.
export type GradHook = (grad: Tensor) => Tensor | void;

/** Where a gradient goes: output `slot` of `node`. */
export interface Edge {
  readonly node: GraphNode;
  readonly slot: number;
}

/** Per-tensor autograd state (only tensors that touched autograd have one). */
export interface TensorMeta {
  /** A leaf that the user asked gradients for. */
  requiresGrad: boolean;
  /** Accumulated gradient (leaves, and non-leaves after retainGrad); owned, kept out of scopes. */
  grad: Tensor | null;
  /** The node that produced this tensor, and which of its outputs it is. */
  gradFn: Node | null;
  slot: number;
  /** The accumulator node of a leaf, created on first use. */
  accumulator: LeafNode | null;
}

const metas = new WeakMap<Tensor, TensorMeta>();

export function metaOf(t: Tensor): TensorMeta | undefined {
  return metas.get(t);
}

export function ensureMeta(t: Tensor): TensorMeta {
  let m = metas.get(t);
  if (!m) {
    m = { requiresGrad: false, grad: null, gradFn: null, slot: 0, accumulator: null };
    metas.set(t, m);
  }
  return m;
}

export function requiresGradOf(t: Tensor): boolean {
  const m = metas.get(t);
  return m !== undefined && (m.requiresGrad || m.gradFn !== null);
}

/** A graph node: an op's backward, or a leaf's accumulator. */
export abstract class GraphNode {
  refs = 0;
  /** Gradient hooks per output slot (tensor.registerHook on non-leaves, and on leaves). */
  hooks: Map<number, GradHook[]> | null = null;
  /** Tensors that asked to keep their gradient (retainGrad), per output slot. */
  retained: Map<number, Tensor> | null = null;
  abstract readonly name: string;
  abstract readonly next: readonly (Edge | null)[];
  /** Drops what this node holds once nothing can reach it any more. */
  protected abstract releaseOwn(): void;

  addHook(slot: number, fn: GradHook): () => void {
    this.hooks ??= new Map();
    const list = this.hooks.get(slot) ?? [];
    list.push(fn);
    this.hooks.set(slot, list);
    return () => {
      const i = list.indexOf(fn);
      if (i >= 0) list.splice(i, 1);
    };
  }

  retain(slot: number, t: Tensor): void {
    this.retained ??= new Map();
    this.retained.set(slot, t);
  }

  /** Drops one reference; frees the node and, transitively, what only it kept alive. */
  static unref(start: GraphNode): void {
    const stack = [start];
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (--n.refs > 0) continue;
      n.releaseOwn();
      for (const e of n.next) if (e) stack.push(e.node);
    }
  }
}

/** The backward of one recorded op. */
export class Node extends GraphNode {
  saved: (Tensor | null)[] | null;
  /** True once backward ran without retainGraph and freed the saved tensors. */
  consumed = false;
  readonly hadSaved: boolean;
  /** Each saved tensor's storage version when it was saved (in-place writes bump it). */
  readonly savedVersions: readonly number[];
  constructor(
    readonly name: string,
    readonly rule: GradRule,
    readonly args: readonly unknown[],
    readonly next: readonly (Edge | null)[],
    readonly needs: readonly boolean[],
    readonly inputs: readonly (TensorInfo | null)[],
    readonly outputs: readonly (TensorInfo & { differentiable: boolean })[],
    saved: (Tensor | null)[],
  ) {
    super();
    this.saved = saved;
    this.hadSaved = saved.some((t) => t !== null);
    this.savedVersions = saved.map((t) => t?.storage.version ?? 0);
  }

  freeSaved(): void {
    if (!this.saved) return;
    for (const t of this.saved) t?.dispose();
    this.saved = null;
  }

  protected releaseOwn(): void {
    this.freeSaved();
  }
}

/** Accumulates gradients into a leaf tensor's `.grad`. */
export class LeafNode extends GraphNode {
  readonly name = "AccumulateGrad";
  readonly next: readonly (Edge | null)[] = [];
  constructor(public leaf: Tensor | null) {
    super();
  }
  protected releaseOwn(): void {
    // The leaf's meta holds this node for as long as the leaf lives; nothing to free.
  }
}

/** The edge gradients of `t` flow into (creating a leaf's accumulator on first use). */
export function edgeOf(t: Tensor): Edge | null {
  const m = metas.get(t);
  if (!m) return null;
  if (m.gradFn) return { node: m.gradFn, slot: m.slot };
  if (!m.requiresGrad) return null;
  if (!m.accumulator) {
    m.accumulator = new LeafNode(t);
    m.accumulator.refs++; // held by the leaf itself
  }
  return { node: m.accumulator, slot: 0 };
}

/** A new reference to `t`'s memory that no scope frees (for saved tensors and gradients). */
export function ownedRef(t: Tensor): Tensor {
  return untraced(() => t.asStrided(t.shape, t.strides, t.offset)).keep();
}

// ---- recording ---------------------------------------------------------------------------------

function tensorArgs(args: readonly unknown[]): Tensor[] {
  const out: Tensor[] = [];
  for (const a of args) {
    if (a instanceof Tensor) out.push(a);
    else if (Array.isArray(a)) for (const x of a) if (x instanceof Tensor) out.push(x);
  }
  return out;
}

/** An op's output tensors: the Tensor, the array, or the object's Tensor values. */
export function tensorOutputs(out: unknown): (Tensor | null)[] {
  if (out instanceof Tensor) return [out];
  if (Array.isArray(out)) return out.map((t) => (t instanceof Tensor ? t : null));
  if (out && typeof out === "object") return Object.values(out).map((t) => (t instanceof Tensor ? t : null));
  return [];
}

/** Records `out` as produced by one node running `rule` (also used by checkpoint). */
export function record(
  name: string,
  rule: GradRule,
  args: readonly unknown[],
  inputs: readonly (Tensor | null | undefined)[],
  needs: boolean[],
  out: unknown,
): void {
  const outs = rule.outputs ? rule.outputs(out) : tensorOutputs(out);
  const outputs = outs.map((t) => ({
    ...(t ? infoOf(t) : { shape: [], dtype: "float32" as const, backend: "", strides: [], offset: 0 }),
    differentiable: t !== null && isFloating(t.dtype) && !metas.get(t)?.gradFn,
  }));
  if (!outputs.some((o) => o.differentiable)) return;
  const savedRaw = rule.save ? rule.save(args, out, needs) : [];
  const saved = savedRaw.map((t) => (t ? ownedRef(t) : null));
  const next = inputs.map((t, i) => {
    if (!needs[i] || !t) return null;
    const e = edgeOf(t)!;
    e.node.refs++;
    return e;
  });
  const infos = inputs.map((t) => (t ? infoOf(t) : null));
  const node = new Node(name, rule, args, next, needs, infos, outputs, saved);
  outputs.forEach((o, slot) => {
    if (!o.differentiable) return;
    const m = ensureMeta(outs[slot]!);
    m.gradFn = node;
    m.slot = slot;
    node.refs++;
  });
}

function infoOf(t: Tensor): TensorInfo {
  return { shape: t.shape, dtype: t.dtype, backend: t.backendName, strides: t.strides, offset: t.offset };
}

function anyRequiresGrad(ts: readonly (Tensor | null | undefined)[]): boolean {
  for (const t of ts) if (t instanceof Tensor && requiresGradOf(t)) return true;
  return false;
}

setOpHook({
  call(name, args, run) {
    if (!isGradEnabled()) return run(false);
    const rule = getGradRule(name);
    if (!rule) {
      const status = gradStatus(name);
      if (status === "composite") return anyRequiresGrad(tensorArgsDeep(args)) ? run(true) : run(false);
      if (status === undefined && anyRequiresGrad(tensorArgsDeep(args)))
        throw new Error(`autograd: op '${name}' has no gradient rule; it cannot be differentiated yet`);
      return run(false);
    }
    const inputs = rule.inputs ? rule.inputs(args) : tensorArgs(args);
    const needs = inputs.map((t) => t instanceof Tensor && requiresGradOf(t));
    if (!needs.some(Boolean)) return run(false);
    if (rule.applies && !rule.applies(args)) return run(true);
    const out = run(false);
    record(name, rule, args, inputs, needs, out);
    return out;
  },
  disposed(d: Disposable) {
    const t = d as unknown as Tensor;
    const m = metas.get(t);
    if (!m) return;
    metas.delete(t);
    if (m.grad) m.grad.dispose();
    if (m.accumulator) {
      m.accumulator.leaf = null;
      GraphNode.unref(m.accumulator);
    }
    if (m.gradFn) GraphNode.unref(m.gradFn);
  },
});

/** Tensors anywhere in the arguments, including inside option objects (masks, weights). */
function tensorArgsDeep(args: readonly unknown[]): Tensor[] {
  const out: Tensor[] = [];
  const visit = (v: unknown, depth: number) => {
    if (v instanceof Tensor) out.push(v);
    else if (depth < 2 && Array.isArray(v)) for (const x of v) visit(x, depth + 1);
    else if (depth < 2 && v && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype)
      for (const x of Object.values(v)) visit(x, depth + 1);
  };
  for (const a of args) visit(a, 0);
  return out;
}
