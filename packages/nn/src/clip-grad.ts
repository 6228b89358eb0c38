/**
 * Gradient clipping (torch's `clip_grad_norm_` / `clip_grad_value_`), in place on `.grad`. The norm
 * and the scale factor are computed on the backend; only the returned total norm is read back, so
 * `clipGradNorm` needs a backend with synchronous reads (`clipGradNormAsync` works everywhere).
 */
import "@tessera/autograd";
import { noGrad } from "@tessera/autograd";
import {
  abs,
  add,
  amax,
  assign,
  clamp,
  div,
  isFloating,
  mul,
  pow,
  sqrt,
  stack,
  sum,
  Tensor,
  tidy,
} from "@tessera/core";

export interface ClipGradNormOptions {
  /** The p of the p-norm: any number > 0, or `Infinity` for the max-norm (default 2). */
  normType?: number;
  /** Throw when the total norm is NaN or infinite (and leave the gradients alone); default false. */
  errorIfNonfinite?: boolean;
}

/** Parameters whose gradients to clip: one tensor or any iterable (e.g. `model.parameters()`). */
export type GradParameters = Tensor | Iterable<Tensor>;

function gradsOf(op: string, parameters: GradParameters): Tensor[] {
  const list = parameters instanceof Tensor ? [parameters] : [...parameters];
  const grads: Tensor[] = [];
  for (const p of list) {
    if (!(p instanceof Tensor)) throw new TypeError(`${op}: parameters must be tensors`);
    const g = p.grad;
    if (g) grads.push(g);
  }
  const backend = grads[0]?.backendName;
  for (const g of grads) {
    if (g.backendName !== backend) {
      throw new Error(`${op}: gradients live on different backends ('${backend}' and '${g.backendName}')`);
    }
    if (!isFloating(g.dtype)) throw new TypeError(`${op}: a gradient has dtype ${g.dtype}`);
  }
  return grads;
}

function checkNormArgs(maxNorm: number, normType: number): void {
  if (typeof maxNorm !== "number" || Number.isNaN(maxNorm)) {
    throw new RangeError(`clipGradNorm: maxNorm must be a number, got ${maxNorm}`);
  }
  if (!(normType > 0)) {
    throw new RangeError(`clipGradNorm: normType must be > 0 or Infinity, got ${normType}`);
  }
}

/** The p-norm of all gradients together, as a 0-d float32 tensor (the norm of the per-tensor norms). */
function totalNorm(grads: Tensor[], normType: number): Tensor {
  return tidy(() => {
    const f = (g: Tensor) => (g.dtype === "float32" ? g : g.cast("float32"));
    if (normType === Number.POSITIVE_INFINITY) {
      const norms = grads.map((g) => amax(abs(f(g))));
      return norms.length === 1 ? norms[0]! : amax(stack(norms));
    }
    const pnorm = (x: Tensor) =>
      normType === 2
        ? sqrt(sum(mul(x, x)))
        : normType === 1
          ? sum(abs(x))
          : pow(sum(pow(abs(x), normType)), 1 / normType);
    return pnorm(stack(grads.map((g) => pnorm(f(g)))));
  });
}

/** Scales every gradient by min(1, maxNorm / (total + 1e-6)), computed on the backend like torch. */
function scaleGrads(grads: Tensor[], total: Tensor, maxNorm: number): void {
  tidy(() => {
    const coef = clamp(div(maxNorm, add(total, 1e-6)), null, 1);
    for (const g of grads) assign(g, mul(g, coef.dtype === g.dtype ? coef : coef.cast(g.dtype)));
  });
}

function nonfiniteError(total: number, normType: number): Error {
  return new Error(
    `clipGradNorm: the total norm of order ${normType} of the gradients is ${total}, so they cannot be clipped; ` +
      "pass errorIfNonfinite: false to scale them anyway, as torch does",
  );
}

/**
 * Clips the gradients of `parameters` in place so that their total p-norm (all gradients taken as one
 * vector) is at most `maxNorm`, and returns that norm before clipping (torch's `clip_grad_norm_`):
 * every gradient is multiplied by `min(1, maxNorm / (total + 1e-6))`. Parameters without a gradient
 * are ignored; with none at all the result is 0. Reads the norm with `dataSync`, so the backend must
 * offer synchronous reads; use `clipGradNormAsync` otherwise.
 *
 * @example
 * import { clipGradNorm, Linear } from "@tessera/nn";
 * import { randn } from "@tessera/core";
 *
 * const net = new Linear(4, 2);
 * const y = net.forward(randn([8, 4]));
 * y.mul(y).sum().backward();
 * const norm = clipGradNorm(net.parameters(), 1.0); // the norm before clipping; now at most 1
 */
export function clipGradNorm(
  parameters: GradParameters,
  maxNorm: number,
  opts: ClipGradNormOptions = {},
): number {
  const normType = opts.normType ?? 2;
  checkNormArgs(maxNorm, normType);
  return noGrad(() => {
    const grads = gradsOf("clipGradNorm", parameters);
    if (grads.length === 0) return 0;
    const total = totalNorm(grads, normType);
    try {
      if (opts.errorIfNonfinite) {
        const value = total.itemSync() as number;
        if (!Number.isFinite(value)) throw nonfiniteError(value, normType);
      }
      scaleGrads(grads, total, maxNorm);
      return total.itemSync() as number;
    } finally {
      total.dispose();
    }
  });
}

/**
 * `clipGradNorm` for any backend: the same in-place clipping, with the total norm read
 * asynchronously.
 *
 * @example
 * import { clipGradNormAsync, Linear } from "@tessera/nn";
 * import { randn } from "@tessera/core";
 *
 * const net = new Linear(4, 2);
 * const y = net.forward(randn([8, 4]));
 * y.mul(y).sum().backward();
 * const norm = await clipGradNormAsync(net.parameters(), 1.0, { normType: Infinity });
 */
export async function clipGradNormAsync(
  parameters: GradParameters,
  maxNorm: number,
  opts: ClipGradNormOptions = {},
): Promise<number> {
  const normType = opts.normType ?? 2;
  checkNormArgs(maxNorm, normType);
  const grads = gradsOf("clipGradNormAsync", parameters);
  if (grads.length === 0) return 0;
  const total = noGrad(() => totalNorm(grads, normType));
  try {
    if (opts.errorIfNonfinite) {
      const value = (await total.item()) as number;
      if (!Number.isFinite(value)) throw nonfiniteError(value, normType);
    }
    noGrad(() => scaleGrads(grads, total, maxNorm));
    return (await total.item()) as number;
  } finally {
    total.dispose();
  }
}

/**
 * Clamps every gradient of `parameters` to `[−clipValue, clipValue]` in place (torch's
 * `clip_grad_value_`).
 *
 * @example
 * import { clipGradValue, Linear } from "@tessera/nn";
 * import { randn } from "@tessera/core";
 *
 * const net = new Linear(4, 2);
 * net.forward(randn([8, 4])).sum().backward();
 * clipGradValue(net.parameters(), 0.5);
 */
export function clipGradValue(parameters: GradParameters, clipValue: number): void {
  if (!(clipValue >= 0)) throw new RangeError(`clipGradValue: clipValue must be >= 0, got ${clipValue}`);
  noGrad(() => {
    for (const g of gradsOf("clipGradValue", parameters))
      tidy(() => assign(g, clamp(g, -clipValue, clipValue)));
  });
}
