/**
 * Gradient checkpointing: run a block without recording it, keep only its inputs, and recompute the
 * block (with the default generator rewound, so dropout draws the same masks) when backward reaches
 * it. Peak memory then holds one block's activations instead of all of them.
 */
import { defaultGenerator, isFloating, type RandomState, Tensor, tidy } from "@tessera/core";
import { runBackward } from "./backward.js";
import { edgeOf, record, requiresGradOf } from "./graph.js";
import { enableGrad, isGradEnabled, noGrad } from "./mode.js";
import type { GradRule } from "./registry.js";

type Block = (...inputs: Tensor[]) => Tensor | Tensor[];

const checkpointRule: GradRule<[Block, RandomState, ...Tensor[]]> = {
  inputs: (args) => args.slice(2) as Tensor[],
  save: (args) => args.slice(2) as Tensor[],
  backward(grads, ctx) {
    const [fn, rng] = ctx.args;
    const leaves = ctx.saved.map((s, i) => {
      const l = s!.detach();
      if (ctx.needs[i] && isFloating(l.dtype)) l.requiresGrad = true;
      return l;
    });
    const resume = defaultGenerator.getState();
    defaultGenerator.setState(rng);
    try {
      const out = enableGrad(() => fn(...leaves));
      const outs = Array.isArray(out) ? out : [out];
      const roots: Tensor[] = [];
      const seeds: Tensor[] = [];
      outs.forEach((o, j) => {
        if (o.requiresGrad && grads[j]) {
          roots.push(o);
          seeds.push(grads[j]!);
        }
      });
      if (roots.length === 0) return leaves.map(() => null);
      const wanted = leaves.map((l, i) => (ctx.needs[i] && l.requiresGrad ? i : -1)).filter((i) => i >= 0);
      const got = runBackward(roots, seeds, {
        retainGraph: false,
        accumulate: true,
        capture: wanted.map((i) => edgeOf(leaves[i]!)!),
      });
      const result: (Tensor | null)[] = leaves.map(() => null);
      wanted.forEach((i, k) => {
        result[i] = got[k] ?? null;
      });
      return result;
    } finally {
      defaultGenerator.setState(resume);
    }
  },
};

/**
 * Runs `fn(...inputs)` without keeping its activations; backward recomputes them. Parameters the
 * block closes over get their gradients during that recomputation. Dropout inside the block must
 * draw from the default generator (its state is replayed); a block reading other generators would
 * see different numbers in the recomputation.
 */
export function checkpoint<T extends Tensor | Tensor[]>(
  fn: (...inputs: Tensor[]) => T,
  ...inputs: Tensor[]
): T {
  for (const [i, t] of inputs.entries()) {
    if (!(t instanceof Tensor))
      throw new TypeError(`checkpoint: input ${i} must be a Tensor, got ${typeof t}`);
  }
  if (!isGradEnabled()) return fn(...inputs);
  const rng = defaultGenerator.getState();
  // The block's own tidy frees its intermediates now, not at the end of the caller's scope.
  const out = noGrad(() => tidy(() => fn(...inputs)));
  const args: [Block, RandomState, ...Tensor[]] = [fn, rng, ...inputs];
  record("checkpoint", checkpointRule, args, inputs, inputs.map(requiresGradOf), out);
  return out;
}
