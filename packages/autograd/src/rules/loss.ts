/**
 * Losses. crossEntropy with class-index targets has a fused rule (softmax minus the smoothed one-hot
 * target); with probability targets, or on a backend without the fused kernel, the core composite is
 * differentiated. The pairwise losses have closed-form rules, which also give PyTorch's values at
 * their kinks (l1 at 0, bce-with-logits at 0) where a differentiated composite would not.
 */
import {
  type BceWithLogitsOptions,
  type CrossEntropyOptions,
  exp,
  indexSelect,
  isFloating,
  isHalf,
  type LossOptions,
  log1p,
  logSoftmax,
  lt,
  ne,
  oneHot,
  relu,
  type SmoothL1Options,
  sigmoid,
  sign,
  sum,
  type Tensor,
  where,
} from "@tessera/core";
import { type BackwardContext, hasFused, registerGradRule } from "../registry.js";

const f32 = (t: Tensor): Tensor => (isHalf(t.dtype) ? t.cast("float32") : t);

/** The gradient of a loss w.r.t. its unreduced elements: g as is, broadcast, or spread over the mean. */
function perElement(g: Tensor, reduction: string | undefined, count: number): Tensor {
  return (reduction ?? "mean") === "mean" ? f32(g).div(count) : f32(g);
}

// ---- cross entropy ---------------------------------------------------------------------------

type CrossEntropyArgs = [Tensor, Tensor, CrossEntropyOptions?];

registerGradRule<CrossEntropyArgs>("crossEntropy", {
  // The class weight gets no gradient (as in PyTorch); probability targets do, through the composite.
  inputs: ([logits, target]) => [logits, target],
  applies: ([logits, target]) => !isFloating(target.dtype) && hasFused(logits, "crossEntropy"),
  save: ([logits, target, opts]) => [logits, target, opts?.weight ?? null],
  backward: ([g], ctx) => {
    const opts = ctx.args[2] ?? {};
    const x = f32(ctx.saved[0]!);
    const weight = ctx.saved[2] ? f32(ctx.saved[2]) : null;
    const eps = opts.labelSmoothing ?? 0;
    const reduction = opts.reduction ?? "mean";
    const r = x.rank;
    const C = x.shape[r === 1 ? 0 : 1]!;
    // Canonical [M, C] rows, classes last (the forward's layout).
    const x2 =
      r === 1
        ? x.reshape([1, C])
        : x.permute([0, ...x.shape.slice(2).map((_, i) => i + 2), 1]).reshape([-1, C]);
    const p = exp(logSoftmax(x2, 1));
    const t = ctx.saved[1]!.reshape([-1]);
    const valid = ne(t, opts.ignoreIndex ?? -100);
    const safe = where(valid, t, 0);
    const validF = valid.cast(x.dtype);
    const w = weight ? indexSelect(weight, 0, safe).mul(validF) : validF;

    // d loss_i / d x_i = (1−ε)·w_t·(p − onehot(t)) + ε/C·(p·Σ_c weight_c − weight)
    let dx2 = p.sub(oneHot(safe, C).cast(x.dtype)).mul(w.mul(1 - eps).reshape([-1, 1]));
    if (eps > 0) {
      const smooth = weight ? p.mul(sum(weight)).sub(weight) : p.mul(C).sub(1);
      dx2 = dx2.add(smooth.mul(validF.mul(eps / C).reshape([-1, 1])));
    }
    const gf = f32(g!);
    const perRow = reduction === "none" ? gf.reshape([-1, 1]) : reduction === "sum" ? gf : gf.div(sum(w));
    // Ignored rows get exactly zero (also when every target is ignored and the mean is NaN).
    dx2 = where(valid.reshape([-1, 1]), dx2.mul(perRow), 0);

    if (r === 1) return [dx2.reshape([C]), null];
    const rowsShape = [x.shape[0]!, ...x.shape.slice(2), C];
    const back = [0, r - 1, ...Array.from({ length: r - 2 }, (_, i) => i + 1)];
    return [dx2.reshape(rowsShape).permute(back), null];
  },
});

// ---- pairwise losses -------------------------------------------------------------------------

/** A loss Σ f(x − y): dx = f'(x − y)·g, dy = −dx. */
function pairwiseRule<O extends LossOptions>(derivative: (d: Tensor, opts: O) => Tensor) {
  return {
    save: ([x, y]: [Tensor, Tensor, O?]) => [x, y],
    backward: ([g]: readonly Tensor[], ctx: BackwardContext<[Tensor, Tensor, O?]>) => {
      const opts = (ctx.args[2] ?? {}) as O;
      const d = f32(ctx.saved[0]!).sub(f32(ctx.saved[1]!));
      const dx = derivative(d, opts).mul(perElement(g!, opts.reduction, d.size));
      return [dx, ctx.needs[1] ? dx.neg() : null];
    },
  };
}

registerGradRule(
  "mseLoss",
  pairwiseRule<LossOptions>((d) => d.mul(2)),
);
// sign(0) = 0: PyTorch's subgradient of |d| at 0.
registerGradRule(
  "l1Loss",
  pairwiseRule<LossOptions>((d) => sign(d)),
);
registerGradRule(
  "smoothL1Loss",
  pairwiseRule<SmoothL1Options>((d, opts) => {
    const beta = opts.beta ?? 1;
    if (beta === 0) return sign(d);
    return where(lt(d.abs(), beta), d.div(beta), sign(d));
  }),
);

// ---- binary cross entropy with logits --------------------------------------------------------

type BceArgs = [Tensor, Tensor, BceWithLogitsOptions?];

/**
 * loss = w·((1 − y)·x + L·softplus(−x)) with L = 1 + (posWeight − 1)·y:
 * dx = w·((1 − y) − L·σ(−x)), dy = w·((posWeight − 1)·softplus(−x) − x), dposWeight = w·y·softplus(−x),
 * dweight = the unweighted loss.
 */
registerGradRule<BceArgs>("binaryCrossEntropyWithLogits", {
  inputs: ([x, y, opts]) => [x, y, opts?.weight ?? null, opts?.posWeight ?? null],
  save: ([x, y, opts]) => [x, y, opts?.weight ?? null, opts?.posWeight ?? null],
  backward: ([g], ctx) => {
    const [x, y] = [f32(ctx.saved[0]!), f32(ctx.saved[1]!)];
    const weight = ctx.saved[2] ? f32(ctx.saved[2]) : null;
    const pw = ctx.saved[3] ? f32(ctx.saved[3]) : null;
    const ge = perElement(g!, ctx.args[2]?.reduction, x.size);
    const gw = weight ? ge.mul(weight) : ge;
    const softplusNeg = log1p(exp(x.abs().neg())).add(relu(x.neg()));
    const oneMinusY = y.neg().add(1);
    const logWeight = pw ? pw.sub(1).mul(y).add(1) : null;
    const sigNeg = sigmoid(x.neg());
    const [nx, ny, nw, npw] = ctx.needs;
    return [
      nx ? oneMinusY.sub(logWeight ? logWeight.mul(sigNeg) : sigNeg).mul(gw) : null,
      ny ? (pw ? pw.sub(1).mul(softplusNeg).sub(x) : x.neg()).mul(gw) : null,
      nw
        ? oneMinusY
            .mul(x)
            .add(logWeight ? logWeight.mul(softplusNeg) : softplusNeg)
            .mul(ge)
        : null,
      npw ? y.mul(softplusNeg).mul(gw) : null,
    ];
  },
});
