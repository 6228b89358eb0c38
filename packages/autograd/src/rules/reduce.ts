/**
 * Reductions. Each gradient is the output gradient with the reduced dims restored as size 1 (`kept`),
 * broadcast back over the input: spread evenly (sum, mean), weighted (prod, var, std, logsumexp), or
 * routed to the selected elements (amax/amin and max/min split ties evenly; max/min with a dim
 * scatter to the returned index, as PyTorch does).
 */
import {
  type Dims,
  isHalf,
  isnan,
  logicalAnd,
  logicalOr,
  mean,
  normalizeDim,
  normalizeDims,
  prod,
  scatterAdd,
  sum,
  type Tensor,
  type ValuesIndices,
  type VarOptions,
  where,
  zeros,
} from "@tessera/core";
import { type BackwardContext, declareNonDifferentiable, registerGradRule } from "../registry.js";

/** The reduced axes, sorted, as core computes them: none for a 0-d input, every dim for undefined or []. */
function axesOf(shape: readonly number[], dim: Dims | undefined, op: string): number[] {
  if (shape.length === 0) return [];
  if (dim === undefined || (typeof dim !== "number" && dim.length === 0)) return shape.map((_, i) => i);
  return normalizeDims(dim, shape.length, op);
}

const keptShape = (shape: readonly number[], axes: readonly number[]) =>
  shape.map((s, i) => (axes.includes(i) ? 1 : s));

/** A reduction's result (or its gradient) with the reduced dims back as size 1, broadcastable to the input. */
const kept = (t: Tensor, shape: readonly number[], axes: readonly number[]) =>
  t.reshape(keptShape(shape, axes));

type DimKeep = [Tensor, Dims?, boolean?];
const inputShape = (ctx: BackwardContext) => ctx.inputs[0]!.shape;
const dimAxes = (ctx: BackwardContext<DimKeep>, op: string) => axesOf(inputShape(ctx), ctx.args[1], op);
const count = (shape: readonly number[], axes: readonly number[]) => axes.reduce((n, a) => n * shape[a]!, 1);

registerGradRule<DimKeep>("sum", {
  backward: (g, ctx) => {
    const shape = inputShape(ctx);
    return [kept(g[0]!, shape, dimAxes(ctx, "sum")).expand(shape)];
  },
});

registerGradRule<DimKeep>("mean", {
  backward: (g, ctx) => {
    const shape = inputShape(ctx);
    const axes = dimAxes(ctx, "mean");
    return [kept(g[0]!, shape, axes).div(count(shape, axes)).expand(shape)];
  },
});

/**
 * d prod / d x_i is the product of the other elements. With no zero in the slice that is prod/x_i; with
 * exactly one zero, only the zero's position gets a gradient (the product of the non-zeros); with two or
 * more, every gradient is zero. Computed without dividing by zero.
 */
registerGradRule<DimKeep>("prod", {
  save: ([x]) => [x],
  backward: (g, ctx) => {
    const x = ctx.saved[0]!;
    const axes = dimAxes(ctx, "prod");
    const isZero = x.eq(0);
    const zeroCount = sum(isZero, axes, true);
    const nonZero = where(isZero, 1, x);
    const p = prod(nonZero, axes, true);
    const onlyZero = logicalAnd(isZero, zeroCount.eq(1));
    const others = where(zeroCount.eq(0), p.div(nonZero), where(onlyZero, p, 0));
    return [kept(g[0]!, x.shape, axes).mul(others)];
  },
});

/** Gradient of a max/min-like reduction: split evenly among the elements equal to the result (NaN matches NaN). */
function evenly(g: Tensor, x: Tensor, out: Tensor, axes: readonly number[]): Tensor {
  const y = kept(out, x.shape, axes);
  const hit = logicalOr(x.eq(y), logicalAnd(isnan(x), isnan(y)));
  const ties = sum(hit, axes, true);
  return where(hit, kept(g, x.shape, axes).div(ties), 0);
}

for (const op of ["amax", "amin"]) {
  registerGradRule<DimKeep>(op, {
    save: ([x], out) => [x, out as Tensor],
    backward: (g, ctx) => [evenly(g[0]!, ctx.saved[0]!, ctx.saved[1]!, dimAxes(ctx, op))],
  });
}

/** max/min: the all-reduce form splits ties evenly; the dim form sends the gradient to the returned index. */
for (const op of ["max", "min"]) {
  registerGradRule<[Tensor, number?, boolean?]>(op, {
    save: ([x, dim], out) => (dim === undefined ? [x, out as Tensor] : [(out as ValuesIndices).indices]),
    backward: (g, ctx) => {
      const [, dim, keepdim = false] = ctx.args;
      const shape = inputShape(ctx);
      if (dim === undefined)
        return [evenly(g[0]!, ctx.saved[0]!, ctx.saved[1]!, axesOf(shape, undefined, op))];
      if (shape.length === 0) return [g[0]!];
      const d = normalizeDim(dim, shape.length, op);
      const index = ctx.saved[0]!;
      const into = zeros(shape, { dtype: g[0]!.dtype, backend: g[0]!.backendName });
      return [
        scatterAdd(into, d, keepdim ? index : index.unsqueeze(d), keepdim ? g[0]! : g[0]!.unsqueeze(d)),
      ];
    },
  });
}

declareNonDifferentiable("argmax", "argmin");

type Moment = [Tensor, (Dims | VarOptions)?, VarOptions?];

/** var/std's axes and divisor N − correction, read from the call as core reads it. */
function momentOf(ctx: BackwardContext<Moment>, op: string): { axes: number[]; denom: number } {
  let [, dim, opts = {}] = ctx.args;
  if (dim !== undefined && typeof dim === "object" && !Array.isArray(dim)) {
    opts = dim as VarOptions;
    dim = undefined;
  }
  const shape = inputShape(ctx);
  const axes = axesOf(shape, dim as Dims | undefined, op);
  const correction = opts.correction ?? (opts.unbiased === false ? 0 : 1);
  return { axes, denom: Math.max(0, count(shape, axes) - correction) };
}

/** Half inputs are differentiated in float32, as core computes their moments. */
const wide = (x: Tensor) => (isHalf(x.dtype) ? x.cast("float32") : x);

// d var / d x = 2 (x − mean) / (N − correction).
registerGradRule<Moment>("var", {
  save: ([x]) => [x],
  backward: (g, ctx) => {
    const x = wide(ctx.saved[0]!);
    const { axes, denom } = momentOf(ctx, "var");
    const centered = x.sub(mean(x, axes, true));
    return [centered.mul(kept(g[0]!, x.shape, axes).mul(2 / denom))];
  },
});

// d std / d x = (x − mean) / ((N − correction) · std), and zero where std is zero (as PyTorch).
registerGradRule<Moment>("std", {
  save: ([x], out) => [x, out as Tensor],
  backward: (g, ctx) => {
    const x = wide(ctx.saved[0]!);
    const { axes, denom } = momentOf(ctx, "std");
    const s = kept(ctx.saved[1]!, x.shape, axes);
    const scale = where(s.eq(0), 0, kept(g[0]!, x.shape, axes).div(s.mul(denom)));
    return [x.sub(mean(x, axes, true)).mul(scale)];
  },
});

// d logsumexp / d x = exp(x − logsumexp), i.e. softmax over the reduced dims.
registerGradRule<[Tensor, Dims, boolean?]>("logsumexp", {
  save: ([x], out) => [x, out as Tensor],
  backward: (g, ctx) => {
    const x = ctx.saved[0]!;
    const axes = axesOf(x.shape, ctx.args[1], "logsumexp");
    const y = kept(ctx.saved[1]!, x.shape, axes);
    return [
      x
        .sub(y)
        .exp()
        .mul(kept(g[0]!, x.shape, axes)),
    ];
  },
});
