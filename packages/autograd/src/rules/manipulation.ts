/**
 * Joining, splitting, indexing and padding. Each gradient undoes the op's data movement: cat splits
 * the gradient, split cats it, gather scatter-adds it back, pad crops (or zero-pads where it cropped),
 * repeat sums the tiles. Index tensors are never differentiated.
 */
import {
  cat,
  flip,
  gather,
  normalizeDim,
  pad,
  scatterAdd,
  type Tensor,
  tril,
  triu,
  zeros,
} from "@tessera/core";
import { declareComposite, declareNonDifferentiable, registerGradRule } from "../registry.js";

/** cat skips 1-D tensors of size 0 (PyTorch's legacy rule); they get no gradient. */
const skipped = (shape: readonly number[]) => shape.length === 1 && shape[0] === 0;

registerGradRule<[readonly Tensor[], number?]>("cat", {
  backward: (g, ctx) => {
    const infos = ctx.inputs;
    const ref = infos.find((t) => t && !skipped(t.shape)) ?? infos[0]!;
    const d = normalizeDim(ctx.args[1] ?? 0, ref.shape.length, "cat");
    let start = 0;
    return infos.map((t, i) => {
      if (!t || skipped(t.shape)) return null;
      const len = t.shape[d]!;
      start += len;
      return ctx.needs[i] ? g[0]!.slice(d, start - len, start) : null;
    });
  },
});

registerGradRule<[readonly Tensor[], number?]>("stack", {
  backward: (g, ctx) => {
    const d = normalizeDim(ctx.args[1] ?? 0, ctx.inputs[0]!.shape.length + 1, "stack");
    return ctx.inputs.map((_, i) => (ctx.needs[i] ? g[0]!.select(d, i) : null));
  },
});

// The pieces tile the input along dim, in order; pieces that got no gradient arrive as zeros.
const joinPieces = {
  backward: (
    g: readonly Tensor[],
    ctx: { args: readonly unknown[]; inputs: readonly ({ shape: readonly number[] } | null)[] },
  ) => {
    const d = normalizeDim((ctx.args[2] as number | undefined) ?? 0, ctx.inputs[0]!.shape.length, "split");
    return [cat(g, d)];
  },
};
registerGradRule("split", joinPieces);
registerGradRule("chunk", joinPieces);

registerGradRule<[Tensor, number, Tensor]>("gather", {
  inputs: (args) => [args[0]],
  save: (args, _out, needs) => [needs[0] ? args[2] : null],
  backward: (g, ctx) => {
    const x = ctx.inputs[0]!;
    const zero = zeros(x.shape, { dtype: g[0]!.dtype, backend: x.backend });
    return [scatterAdd(zero, ctx.args[1], ctx.saved[0]!, g[0]!)];
  },
});

registerGradRule<[Tensor, number, Tensor]>("indexSelect", {
  inputs: (args) => [args[0]],
  save: (args, _out, needs) => [needs[0] ? args[2] : null],
  backward: (g, ctx) => {
    const x = ctx.inputs[0]!;
    // A 0-d input was read once (its only index is 0): the gradient passes through.
    if (x.shape.length === 0) return [g[0]!];
    const d = normalizeDim(ctx.args[1], x.shape.length, "indexSelect");
    const index = ctx.saved[0]!;
    // scatterAdd takes an index of the gradient's shape: broadcast the 1-D index over the other dims.
    const at = x.shape.map((_, i) => (i === d ? index.size : 1));
    const wide = index.reshape(at).expand(g[0]!.shape);
    const zero = zeros(x.shape, { dtype: g[0]!.dtype, backend: x.backend });
    return [scatterAdd(zero, d, wide, g[0]!)];
  },
});

registerGradRule<[Tensor, number, Tensor, Tensor]>("scatterAdd", {
  inputs: (args) => [args[0], args[3]],
  save: (args, _out, needs) => [needs[1] ? args[2] : null],
  backward: (g, ctx) => {
    if (!ctx.needs[1]) return [g[0]!, null];
    const index = ctx.saved[0]!;
    const src = ctx.inputs[1]!;
    const picked = gather(g[0]!, ctx.args[1], index);
    // Only src's leading index-shaped corner was read; the rest gets zeros.
    const pads: number[] = [];
    for (let i = src.shape.length - 1; i >= 0; i--) pads.push(0, src.shape[i]! - index.shape[i]!);
    return [g[0]!, pads.some((p) => p !== 0) ? pad(picked, pads) : picked];
  },
});

// Negated pads crop what was padded and zero-fill what was cropped.
registerGradRule<[Tensor, readonly number[], number?]>("pad", {
  backward: (g, ctx) => [
    pad(
      g[0]!,
      ctx.args[1].map((p) => -p),
    ),
  ],
});

registerGradRule<[Tensor, number | readonly number[]]>("flip", {
  backward: (g, ctx) => [flip(g[0]!, ctx.args[1])],
});

registerGradRule<[Tensor, readonly number[]]>("repeat", {
  backward: (g, ctx) => {
    const x = ctx.inputs[0]!;
    const reps = ctx.args[1];
    const lead = reps.length - x.shape.length;
    // The output read as [r0, s0, r1, s1, …]: sum over the repeat dims.
    const pairShape = reps.flatMap((r, i) => [r, i < lead ? 1 : x.shape[i - lead]!]);
    if (pairShape.length === 0) return [g[0]!];
    const summed = g[0]!.reshape(pairShape).sum(
      reps.map((_, i) => 2 * i),
      false,
    );
    return [summed.reshape(x.shape)];
  },
});
declareComposite("tile");

registerGradRule<[Tensor, number?]>("triu", { backward: (g, ctx) => [triu(g[0]!, ctx.args[1] ?? 0)] });
registerGradRule<[Tensor, number?]>("tril", { backward: (g, ctx) => [tril(g[0]!, ctx.args[1] ?? 0)] });

declareNonDifferentiable("oneHot");
