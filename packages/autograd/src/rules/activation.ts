/**
 * Activations and normalisations. softmax, logSoftmax, layerNorm and gelu have fused kernels: their
 * rules apply only where the backend has the kernel (elsewhere the core composite is differentiated).
 * Each rule runs the backend's backward kernel (softmaxBackward…) where it has one too, and computes
 * the gradient with core ops otherwise.
 * dropout is a composite (its keep mask is a tensor of the graph, so backward reuses it); embedding
 * scatter-adds the output gradient into the rows it picked.
 */
import {
  add,
  type DType,
  erf,
  exp,
  type GeluOptions,
  geluBackward,
  isHalf,
  layerNormBackward,
  logSoftmaxBackward,
  mean,
  ne,
  normalizeDim,
  rsqrt,
  scatterAdd,
  softmaxBackward,
  sum,
  type Tensor,
  tanh,
  tidy,
  where,
  zeros,
} from "@tessera/core";
import { declareComposite, hasFused, inDtypeOf, registerGradRule } from "../registry.js";

/** Half tensors are differentiated in float32 (the engine casts the gradient back). */
const f32 = (t: Tensor): Tensor => (isHalf(t.dtype) ? t.cast("float32") : t);

// ---- softmax ---------------------------------------------------------------------------------

registerGradRule<[Tensor, number]>("softmax", {
  applies: ([x]) => hasFused(x, "softmax"),
  save: (_args, out) => [out as Tensor],
  // dx = y·(g − Σ g·y)
  backward: ([g], ctx) => {
    const saved = ctx.saved[0]!;
    if (hasFused(saved, "softmaxBackward"))
      return [softmaxBackward(saved, inDtypeOf(g!, saved), ctx.args[1])];
    const y = f32(saved);
    const d = normalizeDim(ctx.args[1], y.rank, "softmax backward");
    const gy = f32(g!).mul(y);
    return [gy.sub(y.mul(sum(gy, d, true)))];
  },
});

registerGradRule<[Tensor, number]>("logSoftmax", {
  applies: ([x]) => hasFused(x, "logSoftmax"),
  save: (_args, out) => [out as Tensor],
  // dx = g − softmax·Σ g
  backward: ([g], ctx) => {
    const saved = ctx.saved[0]!;
    if (hasFused(saved, "logSoftmaxBackward"))
      return [logSoftmaxBackward(saved, inDtypeOf(g!, saved), ctx.args[1])];
    const y = f32(saved);
    const d = normalizeDim(ctx.args[1], y.rank, "softmax backward");
    const gf = f32(g!);
    return [gf.sub(exp(y).mul(sum(gf, d, true)))];
  },
});

// ---- layer norm ------------------------------------------------------------------------------

type LayerNormArgs = [Tensor, number | readonly number[], (Tensor | null)?, (Tensor | null)?, number?];

/**
 * Saves x (and weight when dx is needed) rather than the normalised x: mean and rstd are cheap to
 * recompute from x, and x is usually alive anyway as the previous op's output.
 */
registerGradRule<LayerNormArgs>("layerNorm", {
  inputs: ([x, , w, b]) => [x, w ?? null, b ?? null],
  applies: ([x]) => hasFused(x, "layerNorm"),
  save: ([x, , w], _out, needs) => [needs[0] || needs[1] ? x : null, needs[0] ? (w ?? null) : null],
  backward: ([g], ctx) => {
    const [, ns, , , eps = 1e-5] = ctx.args;
    if (!ctx.needs[0] && !ctx.needs[1]) return [null, null, f32(g!)];
    const saved = ctx.saved[0]!;
    if (hasFused(saved, "layerNormBackward")) {
      // Without needs[0] the weight was not saved; the kernel's dx is then dropped (dweight and dbias
      // do not depend on the weight).
      const w = ctx.saved[1] ?? null;
      const grads = layerNormBackward(
        saved,
        w && w.dtype !== saved.dtype ? w.cast(saved.dtype) : w,
        inDtypeOf(g!, saved),
        ns,
        eps,
        { dweight: ctx.needs[1], dbias: ctx.needs[2] },
      );
      return [ctx.needs[0] ? grads.dx : null, grads.dweight, grads.dbias];
    }
    const gf = f32(g!);
    const x = f32(saved);
    const k = typeof ns === "number" ? 1 : ns.length;
    const dims = Array.from({ length: k }, (_, i) => x.rank - k + i);
    // Temporaries in nested tidies, so few activation-sized tensors are alive at once.
    const [xhat, rstd] = tidy(() => {
      const centered = x.sub(mean(x, dims, true));
      const r = rsqrt(add(mean(centered.mul(centered), dims, true), eps));
      return [centered.mul(r), r] as const;
    });
    let dx: Tensor | null = null;
    if (ctx.needs[0]) {
      const w = ctx.saved[1];
      dx = tidy(() => {
        const dxhat = w ? gf.mul(f32(w)) : gf;
        // dx = rstd·(dxhat − mean(dxhat) − xhat·mean(dxhat·xhat))
        const proj = tidy(() => xhat.mul(mean(dxhat.mul(xhat), dims, true)));
        return tidy(() => dxhat.sub(mean(dxhat, dims, true)).sub(proj)).mul(rstd);
      });
    }
    // Weight and bias gradients come back at x's shape; the engine sums them over the leading dims.
    return [dx, ctx.needs[1] ? gf.mul(xhat) : null, ctx.needs[2] ? gf : null];
  },
});

// ---- gelu ------------------------------------------------------------------------------------

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const GELU_TANH_C = 0.044715;

registerGradRule<[Tensor, GeluOptions?]>("gelu", {
  applies: ([x]) => hasFused(x, "gelu"),
  save: ([x]) => [x],
  backward: ([g], ctx) => {
    const saved = ctx.saved[0]!;
    if (hasFused(saved, "geluBackward")) return [geluBackward(saved, inDtypeOf(g!, saved), ctx.args[1])];
    const x = f32(saved);
    const gf = f32(g!);
    // Each factor in its own tidy: the MLP's hidden activations are the widest tensors of a
    // transformer, and backward's peak is set by how many of their temporaries live at once.
    if ((ctx.args[1]?.approximate ?? "none") === "none") {
      // Φ(x) + x·φ(x)
      const cdf = tidy(() => erf(x.mul(Math.SQRT1_2)).add(1).mul(0.5));
      const xpdf = tidy(() => exp(x.mul(x).mul(-0.5)).mul(INV_SQRT_2PI).mul(x));
      return [gf.mul(tidy(() => cdf.add(xpdf)))];
    }
    // u = √(2/π)(x + c·x³), t = tanh(u): ½(1 + t) + ½·x·(1 − t²)·√(2/π)(1 + 3c·x²)
    const x2 = x.mul(x);
    const t = tidy(() => tanh(x.add(x2.mul(x).mul(GELU_TANH_C)).mul(SQRT_2_OVER_PI)));
    const du = tidy(() =>
      x2
        .mul(3 * GELU_TANH_C)
        .add(1)
        .mul(SQRT_2_OVER_PI),
    );
    const slope = tidy(() => x.mul(0.5).mul(t.mul(t).neg().add(1)).mul(du));
    return [gf.mul(tidy(() => t.add(1).mul(0.5).add(slope)))];
  },
});

// ---- dropout ---------------------------------------------------------------------------------

// x · (keep / (1 − p)): the mask is a constant of the graph, so backward uses the same one.
declareComposite("dropout");

// ---- embedding -------------------------------------------------------------------------------

registerGradRule<[Tensor, Tensor, { paddingIdx?: number | null }?]>("embedding", {
  inputs: ([w]) => [w],
  save: ([, indices]) => [indices],
  // Each picked row receives its output row's gradient (repeats add up); paddingIdx's row gets none.
  backward: ([g], ctx) => {
    const [num, dim] = ctx.inputs[0]!.shape as [number, number];
    const idx = ctx.saved[0]!.reshape([-1, 1]);
    const n = idx.shape[0]!;
    let rows = g!.reshape([n, dim]);
    const pi = ctx.args[2]?.paddingIdx;
    if (pi !== undefined && pi !== null) rows = where(ne(idx, pi < 0 ? pi + num : pi), rows, 0);
    const base = zeros([num, dim], { dtype: g!.dtype as DType, backend: g!.backendName });
    return [scatterAdd(base, 0, idx.expand([n, dim]), rows)];
  },
});
