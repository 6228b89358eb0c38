/**
 * Elementwise ops: one row per op. Binary gradients come back at the broadcast shape; the engine
 * sums them down to each operand's shape. Python-number operands take no gradient: a binary rule's
 * inputs are its operands by position, null where one is a number.
 */
import {
  COMPARE_OPS,
  div,
  eq,
  ge,
  gt,
  le,
  log,
  logicalAnd,
  logicalOr,
  lt,
  mul,
  pow,
  type Scalar,
  sub,
  Tensor,
  type TensorLike,
  where,
  zerosLike,
} from "@tessera/core";
import { type BackwardContext, declareNonDifferentiable, registerGradRule } from "../registry.js";

// ---- unary: the gradient reads the input x, the output y, or neither ----------------------------

type Reads = "x" | "y" | null;
const siluGrad = (g: Tensor, x: Tensor, s: Tensor) => g.mul(s.mul(x.mul(sub(1, s)).add(1)));
const zero = (g: Tensor) => zerosLike(g);
const UNARY: readonly [name: string, reads: Reads, grad: (g: Tensor, t: Tensor) => Tensor][] = [
  ["neg", null, (g) => g.neg()],
  ["abs", "x", (g, x) => g.mul(x.sign())],
  ["exp", "y", (g, y) => g.mul(y)],
  ["log", "x", (g, x) => g.div(x)],
  ["log1p", "x", (g, x) => g.div(x.add(1))],
  ["expm1", "y", (g, y) => g.mul(y.add(1))],
  ["sqrt", "y", (g, y) => g.div(y.mul(2))],
  ["rsqrt", "y", (g, y) => g.mul(y.mul(y).mul(y)).mul(-0.5)],
  ["reciprocal", "y", (g, y) => g.mul(y.mul(y)).neg()],
  ["sin", "x", (g, x) => g.mul(x.cos())],
  ["cos", "x", (g, x) => g.mul(x.sin()).neg()],
  ["tanh", "y", (g, y) => g.mul(sub(1, y.mul(y)))],
  ["sigmoid", "y", (g, y) => g.mul(y.mul(sub(1, y)))],
  ["relu", "y", (g, y) => where(y.gt(0), g, 0)],
  ["erf", "x", (g, x) => g.mul(x.mul(x).neg().exp()).mul(2 / Math.sqrt(Math.PI))],
  // silu'(x) = s·(1 + x·(1 − s)) with s = sigmoid(x): one saved tensor instead of the composite's two.
  ["silu", "x", (g, x) => siluGrad(g, x, x.sigmoid())],
  // Piecewise constant: zero gradients, as PyTorch gives.
  ["sign", null, zero],
  ["floor", null, zero],
  ["ceil", null, zero],
  ["round", null, zero],
];
for (const [name, reads, grad] of UNARY) {
  registerGradRule<[Tensor]>(name, {
    save: ([x], out) => (reads === "x" ? [x] : reads === "y" ? [out as Tensor] : []),
    backward: (g, ctx) => [grad(g[0]!, ctx.saved[0]!)],
  });
}

// ---- binary --------------------------------------------------------------------------------------

type Bin = [TensorLike, TensorLike];
const operands = (args: readonly TensorLike[]) => args.map((a) => (a instanceof Tensor ? a : null));
const ifTensor = (a: TensorLike, keep: boolean) => (keep && a instanceof Tensor ? a : null);
/** A saved operand, or the number it was. */
const arg = (saved: Tensor | null | undefined, a: TensorLike): TensorLike => saved ?? a;

registerGradRule<Bin>("add", { inputs: operands, backward: (g) => [g[0]!, g[0]!] });
registerGradRule<Bin>("sub", {
  inputs: operands,
  backward: (g, ctx) => [g[0]!, ctx.needs[1] ? g[0]!.neg() : null],
});
registerGradRule<Bin>("mul", {
  inputs: operands,
  save: ([a, b], _out, needs) => [ifTensor(a, needs[1]!), ifTensor(b, needs[0]!)],
  backward: (g, ctx) => {
    const [a, b] = ctx.args;
    const [sa, sb] = ctx.saved;
    return [ctx.needs[0] ? mul(g[0]!, arg(sb, b)) : null, ctx.needs[1] ? mul(g[0]!, arg(sa, a)) : null];
  },
});
// d(a/b)/da = 1/b, d(a/b)/db = −a/b².
registerGradRule<Bin>("div", {
  inputs: operands,
  save: ([a, b], _out, needs) => [ifTensor(a, needs[1]!), ifTensor(b, true)],
  backward: (g, ctx) => {
    const [a, b] = ctx.args;
    const [sa, sb] = ctx.saved;
    const tb = arg(sb, b);
    return [
      ctx.needs[0] ? div(g[0]!, tb) : null,
      ctx.needs[1] ? div(mul(g[0]!, arg(sa, a)), mul(tb, tb)).neg() : null,
    ];
  },
});

/**
 * a ** b, with PyTorch's conventions: the base gradient is zero where the exponent is 0; the exponent
 * gradient g·out·log(a) is zero where a = 0 and b ≥ 0 (instead of 0·−inf). Saves the base for the base
 * gradient, and the output (plus the exponent, for the a = 0 mask) only for the exponent gradient.
 */
registerGradRule<Bin>("pow", {
  inputs: operands,
  save: ([a, b], out, needs) => [
    ifTensor(a, true),
    ifTensor(b, needs[0]! || (needs[1]! && (a instanceof Tensor || Number(a) === 0))),
    needs[1] ? (out as Tensor) : null,
  ],
  backward: (g, ctx) => {
    const [a, b] = ctx.args;
    const [sa, sb, out] = ctx.saved;
    const ta = arg(sa, a);
    const tb = arg(sb, b);
    let da: Tensor | null = null;
    if (ctx.needs[0]) {
      if (typeof tb === "number" || typeof tb === "boolean") {
        da = Number(tb) === 0 ? zerosLike(g[0]!) : g[0]!.mul(pow(ta, Number(tb) - 1).mul(tb));
      } else da = where(tb.eq(0), 0, g[0]!.mul(pow(ta, tb.sub(1)).mul(tb)));
    }
    let db: Tensor | null = null;
    if (ctx.needs[1]) {
      const logA = ta instanceof Tensor ? log(ta) : Math.log(Number(ta));
      const full = g[0]!.mul(mul(out!, logA));
      const baseZero = ta instanceof Tensor ? ta.eq(0) : Number(ta) === 0;
      if (baseZero === false) db = full;
      else {
        const mask = baseZero === true ? ge(tb, 0) : logicalAnd(baseZero, ge(tb, 0));
        db = where(mask, 0, full);
      }
    }
    return [da, db];
  },
});

/**
 * maximum/minimum, as torch ≥ 1.10: the larger (smaller) operand takes the gradient, ties split it
 * in half. `loses(a, b)` is true where a is not selected.
 */
function extremumRule(loses: (a: TensorLike, b: TensorLike) => Tensor) {
  return {
    inputs: operands,
    save: ([a, b]: Bin) => [ifTensor(a, true), ifTensor(b, true)],
    backward: (g: readonly Tensor[], ctx: BackwardContext<Bin>) => {
      const a = arg(ctx.saved[0], ctx.args[0]);
      const b = arg(ctx.saved[1], ctx.args[1]);
      const shared = where(eq(a, b), g[0]!.mul(0.5), g[0]!);
      return [
        ctx.needs[0] ? where(loses(a, b), 0, shared) : null,
        ctx.needs[1] ? where(loses(b, a), 0, shared) : null,
      ];
    },
  };
}
registerGradRule<Bin>("maximum", extremumRule(lt));
registerGradRule<Bin>("minimum", extremumRule(gt));

// ---- selection -----------------------------------------------------------------------------------

registerGradRule<[Tensor, TensorLike, TensorLike]>("where", {
  inputs: ([, a, b]) => [null, ...operands([a, b])],
  save: ([cond]) => [cond],
  backward: (g, ctx) => {
    const c = ctx.saved[0]!;
    return [null, ctx.needs[1] ? where(c, g[0]!, 0) : null, ctx.needs[2] ? where(c, 0, g[0]!) : null];
  },
});

registerGradRule<[Tensor, Tensor, Scalar]>("maskedFill", {
  inputs: ([x]) => [x, null],
  save: ([, mask]) => [mask],
  backward: (g, ctx) => [where(ctx.saved[0]!, 0, g[0]!), null],
});

type Bound = TensorLike | null | undefined;
const given = (v: Bound): v is TensorLike => v !== undefined && v !== null;

/**
 * clamp as PyTorch differentiates it: x takes the gradient where min ≤ x ≤ max (boundaries included);
 * a tensor bound takes it where it was the one selected (max wins when min > max).
 */
registerGradRule<[Tensor, Bound?, Bound?]>("clamp", {
  inputs: ([x, lo, hi]) => [x, lo instanceof Tensor ? lo : null, hi instanceof Tensor ? hi : null],
  save: ([x, lo, hi]) => [x, lo instanceof Tensor ? lo : null, hi instanceof Tensor ? hi : null],
  backward: (g, ctx) => {
    const [, loArg, hiArg] = ctx.args;
    const x = ctx.saved[0]!;
    const lo = given(loArg) ? arg(ctx.saved[1], loArg) : null;
    const hi = given(hiArg) ? arg(ctx.saved[2], hiArg) : null;
    const pass = (m: Tensor) => where(m, g[0]!, 0);
    let dx: Tensor | null = null;
    if (ctx.needs[0]) {
      if (lo !== null && hi !== null) dx = pass(logicalAnd(ge(x, lo), le(x, hi)));
      else dx = pass(lo !== null ? ge(x, lo) : le(x, hi!));
    }
    let dlo: Tensor | null = null;
    if (ctx.needs[1]) dlo = pass(hi !== null ? logicalAnd(lt(x, lo!), lt(lo!, hi)) : lt(x, lo!));
    let dhi: Tensor | null = null;
    if (ctx.needs[2]) dhi = pass(lo !== null ? logicalOr(gt(x, hi!), lt(hi!, lo)) : gt(x, hi!));
    return [dx, dlo, dhi];
  },
});

// Bool results: comparisons and logic (COMPARE_OPS), logicalNot, isnan.
declareNonDifferentiable(...COMPARE_OPS, "logicalNot", "isnan");
