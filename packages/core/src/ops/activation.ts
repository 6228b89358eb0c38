/**
 * Activations and per-row normalisations: softmax, logSoftmax, layerNorm, gelu, dropout, embedding.
 * Each op validates, then runs the backend's fused kernel when it declares one, else a composite of
 * core ops over primitives. Both paths follow PyTorch 1.13 and agree within float32 tolerance.
 */
import type { DType } from "../dtype.js";
import { tidy } from "../engine.js";
import type { Generator } from "../random.js";
import { fmtShape, normalizeDim, numel, shapesEqual } from "../shape.js";
import { Tensor } from "../tensor.js";
import { traced } from "../trace.js";
import { bernoulli, zerosLike } from "./creation.js";
import { sameBackend } from "./dispatch.js";
import { add, div, erf, exp, log, mul, sqrt, sub, tanh, where } from "./elementwise.js";
import { fusedKernel, inF32, requireFloat, withContiguous } from "./internal.js";
import { indexSelect } from "./manipulation.js";
import { amax, mean, sum } from "./reduce.js";

// ---- softmax ---------------------------------------------------------------------------------

function softmaxLike(op: "softmax" | "logSoftmax", x: Tensor, dim: number): Tensor {
  sameBackend(op, { x });
  requireFloat(op, x);
  const d = normalizeDim(dim, x.rank, op);
  if (x.size === 0) return x.clone();
  const kernel = fusedKernel(x.backend, op);
  if (kernel) {
    return withContiguous([x], ([xc]) => {
      const out = Tensor.empty(x.shape, x.dtype, x.backend);
      kernel(xc!.kernelView, d, out.kernelView);
      return out;
    });
  }
  // Subtracting the row max keeps exp in range; an all -inf row gives NaN, as in PyTorch.
  return inF32(x, (xf) =>
    tidy(() => {
      const shifted = sub(xf, amax(xf, d, true));
      const e = exp(shifted);
      const s = sum(e, d, true);
      return op === "softmax" ? div(e, s) : sub(shifted, log(s));
    }),
  );
}

/** exp(x) / sum(exp(x)) along `dim`. */
export const softmax = traced("softmax", function softmax(x: Tensor, dim: number): Tensor {
  return softmaxLike("softmax", x, dim);
});

/** log(softmax(x)) along `dim`, computed stably as x − max − log Σ exp(x − max). */
export const logSoftmax = traced("logSoftmax", function logSoftmax(x: Tensor, dim: number): Tensor {
  return softmaxLike("logSoftmax", x, dim);
});

// ---- layer norm ------------------------------------------------------------------------------

/**
 * Normalises the trailing dims `normalizedShape` of x to zero mean and unit (biased) variance, then
 * applies the elementwise affine `weight`/`bias` (each of shape `normalizedShape`) when given.
 * `y = (x − mean) / sqrt(var + eps) · weight + bias` (torch.nn.functional.layer_norm).
 */
export const layerNorm = traced(
  "layerNorm",
  function layerNorm(
    x: Tensor,
    normalizedShape: number | readonly number[],
    weight?: Tensor | null,
    bias?: Tensor | null,
    eps = 1e-5,
  ): Tensor {
    const op = "layerNorm";
    sameBackend(op, { x, weight, bias });
    requireFloat(op, x);
    const ns = typeof normalizedShape === "number" ? [normalizedShape] : [...normalizedShape];
    if (ns.length === 0) throw new RangeError(`${op}: normalizedShape must name at least one dim`);
    const tail = x.shape.slice(x.rank - ns.length);
    if (ns.length > x.rank || !shapesEqual(tail, ns)) {
      throw new RangeError(
        `${op}: normalizedShape ${fmtShape(ns)} must equal the trailing dims of input ${fmtShape(x.shape)}`,
      );
    }
    for (const [name, t] of [
      ["weight", weight],
      ["bias", bias],
    ] as const) {
      if (t && !shapesEqual(t.shape, ns)) {
        throw new RangeError(
          `${op}: ${name} has shape ${fmtShape(t.shape)} but normalizedShape is ${fmtShape(ns)}`,
        );
      }
    }
    if (!(eps >= 0)) throw new RangeError(`${op}: eps must be >= 0, got ${eps}`);
    const dims = ns.map((_, i) => x.rank - ns.length + i);
    const n = numel(ns);
    if (x.size === 0) return x.clone();
    const kernel = fusedKernel(x.backend, op);
    if (kernel) {
      return withContiguous([x, weight, bias], ([xc, wc, bc]) => {
        const out = Tensor.empty(x.shape, x.dtype, x.backend);
        kernel(xc!.kernelView, wc?.kernelView ?? null, bc?.kernelView ?? null, n, eps, out.kernelView);
        return out;
      });
    }
    return inF32(x, (xf) =>
      tidy(() => {
        const centered = sub(xf, mean(xf, dims, true));
        const variance = mean(mul(centered, centered), dims, true);
        let y = div(centered, sqrt(add(variance, eps)));
        if (weight) y = mul(y, weight);
        if (bias) y = add(y, bias);
        return y;
      }),
    );
  },
);

// ---- gelu ------------------------------------------------------------------------------------

export interface GeluOptions {
  /** 'none' (default): exact x·Φ(x) with erf; 'tanh': the tanh approximation. */
  approximate?: "none" | "tanh";
}

/** Gaussian error linear unit, torch.nn.functional.gelu. */
export const gelu = traced("gelu", function gelu(x: Tensor, opts: GeluOptions = {}): Tensor {
  const op = "gelu";
  sameBackend(op, { x });
  requireFloat(op, x);
  const approximate = opts.approximate ?? "none";
  if (approximate !== "none" && approximate !== "tanh") {
    throw new RangeError(`${op}: approximate must be 'none' or 'tanh', got '${String(approximate)}'`);
  }
  if (x.size === 0) return x.clone();
  const kernel = fusedKernel(x.backend, op);
  if (kernel) {
    return withContiguous([x], ([xc]) => {
      const out = Tensor.empty(x.shape, x.dtype, x.backend);
      kernel(xc!.kernelView, approximate, out.kernelView);
      return out;
    });
  }
  // In float32 for half inputs: 1 + erf(x/√2) rounds to 0 in the negative tail otherwise.
  return inF32(x, (xf) =>
    tidy(() => {
      if (approximate === "none") return mul(mul(xf, 0.5), add(erf(mul(xf, Math.SQRT1_2)), 1));
      const inner = mul(add(xf, mul(mul(mul(xf, xf), xf), 0.044715)), Math.sqrt(2 / Math.PI));
      return mul(mul(xf, 0.5), add(tanh(inner), 1));
    }),
  );
});

// ---- dropout ---------------------------------------------------------------------------------

export interface DropoutOptions {
  /** Stream for the keep mask (default: the global generator), so runs replay on every backend. */
  generator?: Generator;
}

/**
 * Zeroes each element with probability `p` and scales the survivors by 1/(1−p) when `training`.
 * p = 0 or training = false returns a new reference to x (no copy); p = 1 returns zeros.
 */
export const dropout = traced(
  "dropout",
  function dropout(x: Tensor, p = 0.5, training = true, opts: DropoutOptions = {}): Tensor {
    const op = "dropout";
    sameBackend(op, { x });
    if (!(p >= 0 && p <= 1)) throw new RangeError(`${op}: p must be in [0, 1], got ${p}`);
    requireFloat(op, x);
    if (!training || p === 0) return x.asStrided(x.shape, x.strides);
    // where(false, x, 0) rather than zerosLike: the same zeros, but still an op of x, so x gets a
    // (zero) gradient as in PyTorch.
    if (p === 1) return tidy(() => where(zerosLike(x, { dtype: "bool" }), x, 0));
    return tidy(() => {
      const keep = bernoulli(1 - p, {
        shape: x.shape,
        dtype: x.dtype as DType,
        backend: x.backendName,
        generator: opts.generator,
      });
      return mul(x, mul(keep, 1 / (1 - p)));
    });
  },
);

// ---- embedding -------------------------------------------------------------------------------

export interface EmbeddingOptions {
  /** Row excluded from gradient updates (torch's padding_idx); negative counts from the end. */
  paddingIdx?: number | null;
}

/**
 * Rows of `weight` [numEmbeddings, dim] picked by int32 `indices` of any shape: out [...indices.shape, dim].
 * `paddingIdx` is validated here and only affects gradients (nn's Embedding zeroes that row at init).
 */
export const embedding = traced(
  "embedding",
  function embedding(weight: Tensor, indices: Tensor, opts: EmbeddingOptions = {}): Tensor {
    const op = "embedding";
    sameBackend(op, { weight, indices });
    if (weight.rank !== 2)
      throw new RangeError(`${op}: weight must be 2-D [numEmbeddings, dim], got ${fmtShape(weight.shape)}`);
    if (indices.dtype !== "int32") {
      throw new TypeError(
        `${op}: indices must be int32, got ${indices.dtype} (shape ${fmtShape(indices.shape)})`,
      );
    }
    const num = weight.shape[0]!;
    const pi = opts.paddingIdx;
    if (pi !== undefined && pi !== null && (!Number.isInteger(pi) || pi < -num || pi >= num)) {
      throw new RangeError(
        `${op}: paddingIdx ${pi} is out of range for ${num} embeddings (weight ${fmtShape(weight.shape)})`,
      );
    }
    return tidy(() =>
      indexSelect(weight, 0, indices.reshape([-1])).reshape([...indices.shape, weight.shape[1]!]),
    );
  },
);

// ---- methods ---------------------------------------------------------------------------------

declare module "../tensor.js" {
  interface Tensor {
    softmax(dim: number): Tensor;
    logSoftmax(dim: number): Tensor;
    gelu(opts?: GeluOptions): Tensor;
  }
}

Tensor.prototype.softmax = function (dim) {
  return softmax(this, dim);
};
Tensor.prototype.logSoftmax = function (dim) {
  return logSoftmax(this, dim);
};
Tensor.prototype.gelu = function (opts) {
  return gelu(this, opts);
};
