/**
 * The backward pass: walk the graph from the roots in dependency order, call each node's rule once
 * all its output gradients have arrived, sum gradients that meet at a tensor, and hand them to leaf
 * accumulators (or to the caller, for the functional API). Runs with recording off; temporaries
 * are freed node by node, and saved tensors are freed as soon as their node ran (unless retainGraph).
 */
import {
  autocast,
  fmtShape,
  isFloating,
  onesLike,
  shapesEqual,
  sum,
  type Tensor,
  tidy,
  zeros,
} from "@tessera/core";
import { type Edge, edgeOf, type GraphNode, LeafNode, metaOf, type Node, ownedRef } from "./graph.js";
import { noGrad } from "./mode.js";

export interface RunOptions {
  /** Keep saved tensors so backward can run through this graph again. */
  retainGraph: boolean;
  /** Return the total gradient arriving at each of these edges. */
  capture?: readonly Edge[];
  /** Accumulate into the `.grad` of leaves that are not captured. */
  accumulate: boolean;
}

/** `g` summed over the dims it was broadcast along, to `shape`. */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (shapesEqual(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const dims: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) dims.push(i);
  }
  const s = dims.length > 0 ? sum(g, dims, true) : g;
  const r = s.reshape(shape);
  if (s !== g) s.dispose();
  return r;
}

function addInto(slots: (Tensor | null)[], slot: number, g: Tensor): void {
  const prev = slots[slot];
  if (!prev) {
    slots[slot] = g;
    return;
  }
  slots[slot] = prev.add(g);
  prev.dispose();
  g.dispose();
}

/** Adds `g` to a tensor's `.grad` (taking ownership of g's memory when nothing else shares it). */
function accumulateGrad(t: Tensor, g: Tensor): void {
  const m = metaOf(t);
  if (!m || t.isDisposed) return;
  if (!shapesEqual(g.shape, t.shape)) {
    throw new Error(
      `backward: gradient of shape ${fmtShape(g.shape)} does not match tensor ${fmtShape(t.shape)}`,
    );
  }
  if (m.grad) {
    const next = m.grad.add(g.dtype === m.grad.dtype ? g : g.cast(m.grad.dtype)).keep();
    m.grad.dispose();
    m.grad = next;
    return;
  }
  const cast = g.dtype === t.dtype ? g : g.cast(t.dtype);
  const steal = cast.isContiguous && cast.storage.refs === 1 && cast.offset === 0;
  m.grad = steal ? ownedRef(cast) : cast.clone().keep();
}

/** Nodes reachable from `starts`, with how many edges from reachable nodes point at each. */
function dependencies(starts: readonly GraphNode[]): Map<GraphNode, number> {
  const deps = new Map<GraphNode, number>();
  const stack: GraphNode[] = [];
  for (const n of starts) {
    if (!deps.has(n)) {
      deps.set(n, 0);
      stack.push(n);
    }
  }
  while (stack.length > 0) {
    const n = stack.pop()!;
    for (const e of n.next) {
      if (!e) continue;
      const d = deps.get(e.node);
      if (d === undefined) {
        deps.set(e.node, 1);
        stack.push(e.node);
      } else deps.set(e.node, d + 1);
    }
  }
  return deps;
}

/** Nodes from which a captured edge can be reached (only those need to run when not accumulating). */
function leadingTo(deps: Map<GraphNode, number>, targets: ReadonlySet<GraphNode>): Set<GraphNode> {
  const useful = new Set<GraphNode>(targets);
  // Reverse topological order: a node is useful if any of its successors is.
  const order: GraphNode[] = [];
  const indeg = new Map(deps);
  const ready = [...deps.keys()].filter((n) => indeg.get(n) === 0);
  while (ready.length > 0) {
    const n = ready.pop()!;
    order.push(n);
    for (const e of n.next) {
      if (!e) continue;
      const d = indeg.get(e.node)! - 1;
      indeg.set(e.node, d);
      if (d === 0) ready.push(e.node);
    }
  }
  for (let i = order.length - 1; i >= 0; i--) {
    const n = order[i]!;
    if (n.next.some((e) => e && useful.has(e.node))) useful.add(n);
  }
  return useful;
}

function runHooks(node: GraphNode, slot: number, g: Tensor): Tensor {
  const hooks = node.hooks?.get(slot);
  if (!hooks) return g;
  let cur = g;
  for (const h of [...hooks]) {
    const r = h(cur);
    if (r && r !== cur) {
      if (!shapesEqual(r.shape, cur.shape)) {
        throw new Error(
          `backward: a gradient hook returned shape ${fmtShape(r.shape)} for a gradient of shape ${fmtShape(cur.shape)}`,
        );
      }
      cur = r;
    }
  }
  return cur;
}

const SECOND_PASS =
  "backward: this graph was already run backward and its saved tensors were freed; pass { retainGraph: true } to the first backward() to run it again";

/** Runs backward from `roots` seeded with `rootGrads`. Returns the captured gradients (null where none arrived). */
export function runBackward(
  roots: readonly Tensor[],
  rootGrads: readonly (Tensor | null | undefined)[],
  opts: RunOptions,
): (Tensor | null)[] {
  // Gradient rules run outside any autocast scope, as in PyTorch: a backward called inside one must
  // not cast the rules' own products to half precision.
  return autocast({ dtype: "bfloat16", enabled: false }, () => backwardPass(roots, rootGrads, opts));
}

function backwardPass(
  roots: readonly Tensor[],
  rootGrads: readonly (Tensor | null | undefined)[],
  opts: RunOptions,
): (Tensor | null)[] {
  return noGrad(() =>
    tidy("backward", () => {
      const buffers = new Map<GraphNode, (Tensor | null)[]>();
      const starts: GraphNode[] = [];
      roots.forEach((root, i) => {
        const e = edgeOf(root);
        if (!e) {
          throw new Error(
            `backward: tensor ${fmtShape(root.shape)} does not require grad and has no gradFn; ` +
              "set requiresGrad on an input before computing it",
          );
        }
        let g = rootGrads[i];
        if (!g) {
          if (root.size !== 1) {
            throw new Error(
              `backward: a gradient can be created implicitly only for a one-element output; pass a gradient of shape ${fmtShape(root.shape)}`,
            );
          }
          g = onesLike(root);
        } else if (!shapesEqual(g.shape, root.shape)) {
          throw new Error(
            `backward: gradient has shape ${fmtShape(g.shape)} but the tensor has shape ${fmtShape(root.shape)}`,
          );
        } else g = ownedRef(g);
        const slots = buffers.get(e.node) ?? [];
        buffers.set(e.node, slots);
        addInto(slots, e.slot, g);
        starts.push(e.node);
      });

      const deps = dependencies(starts);
      const capture = opts.capture ?? [];
      const captured: (Tensor | null)[] = capture.map(() => null);
      const useful = opts.accumulate ? null : leadingTo(deps, new Set(capture.map((c) => c.node)));
      const ready = [...new Set(starts)].filter((n) => deps.get(n) === 0);

      try {
        while (ready.length > 0) {
          const node = ready.pop()!;
          const slots = buffers.get(node) ?? [];
          buffers.delete(node);
          try {
            if (useful === null || useful.has(node))
              processNode(node, slots, buffers, opts, capture, captured, useful);
          } finally {
            for (const t of slots) t?.dispose();
          }
          for (const e of node.next) {
            if (!e) continue;
            const d = deps.get(e.node)! - 1;
            deps.set(e.node, d);
            if (d === 0) ready.push(e.node);
          }
        }
      } finally {
        for (const slots of buffers.values()) for (const t of slots) t?.dispose();
      }
      return captured;
    }),
  );
}

function processNode(
  node: GraphNode,
  slots: (Tensor | null)[],
  buffers: Map<GraphNode, (Tensor | null)[]>,
  opts: RunOptions,
  capture: readonly Edge[],
  captured: (Tensor | null)[],
  useful: Set<GraphNode> | null,
): void {
  for (let s = 0; s < slots.length; s++) {
    let g = slots[s];
    if (!g) continue;
    const hooked = runHooks(node, s, g);
    if (hooked !== g) {
      slots[s] = hooked;
      g.dispose();
      g = hooked;
    }
    const keeper = node.retained?.get(s);
    if (keeper) accumulateGrad(keeper, g);
  }
  let capturedHere = false;
  capture.forEach((c, i) => {
    if (c.node !== node) return;
    const g = slots[c.slot];
    if (g) captured[i] = captured[i] ? captured[i]!.add(g) : g.clone();
    capturedHere = true;
  });

  if (node instanceof LeafNode) {
    if (opts.accumulate && !capturedHere && node.leaf && slots[0]) accumulateGrad(node.leaf, slots[0]);
    return;
  }
  const n = node as Node;
  if (n.consumed && n.hadSaved) throw new Error(SECOND_PASS);
  n.saved?.forEach((t, i) => {
    if (t && t.storage.version !== n.savedVersions[i]) {
      throw new Error(
        `backward: a tensor ${fmtShape(t.shape)} that '${n.name}' saved for backward was modified in place ` +
          "(by adamUpdate) after it was saved; update parameters after backward(), or detach what you update",
      );
    }
  });
  const grads = n.outputs.map((o, s) => {
    if (slots[s]) return slots[s]!;
    if (!o.differentiable) return null as unknown as Tensor;
    const z = zeros(o.shape, { dtype: o.dtype, backend: o.backend });
    slots[s] = z;
    return z;
  });
  const needs = n.next.map((e) => e !== null && (useful === null || useful.has(e.node)));
  const inputGrads = tidy(n.name, () =>
    n.rule.backward(grads, {
      args: n.args,
      saved: n.saved ?? [],
      needs,
      inputs: n.inputs,
      outputs: n.outputs,
    }),
  );
  try {
    n.next.forEach((e, i) => {
      const g = inputGrads[i];
      if (!e || !g || !needs[i]) return;
      const info = n.inputs[i]!;
      let r = sumToShape(g, info.shape);
      if (r === g) r = ownedRef(g);
      if (r.dtype !== info.dtype && isFloating(info.dtype)) {
        const c = r.cast(info.dtype);
        r.dispose();
        r = c;
      }
      const target = buffers.get(e.node) ?? [];
      buffers.set(e.node, target);
      addInto(target, e.slot, r);
    });
  } finally {
    // A rule may hand back an incoming gradient or a saved tensor as is: those are not its to free.
    for (const g of inputGrads) if (g && !grads.includes(g) && !n.saved?.includes(g)) g.dispose();
  }
  if (!opts.retainGraph) {
    n.freeSaved();
    n.consumed = true;
  }
}
