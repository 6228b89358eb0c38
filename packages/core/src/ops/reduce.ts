/**
 * Reductions: sum, mean, prod, amax/amin, max/min (with indices), argmax/argmin, var/std, logsumexp.
 * Each is one `reduce` kernel call or a short composite of them. `dim` is a number or a list (negative
 * allowed); omitted — or an empty list, as in PyTorch — reduces every dim.
 */
import { isFloating, isHalf } from "../dtype.js";
import { tidy } from "../engine.js";
import { fmtShape, normalizeDims } from "../shape.js";
import { Tensor } from "../tensor.js";
import { traced } from "../trace.js";
import { reduce, sameBackend, scalarTensor } from "./dispatch.js";
import { abs, div, eq, exp, log, maskedFill, mul, sqrt, sub } from "./elementwise.js";

export type Dims = number | readonly number[];

export interface VarOptions {
  /** Subtracted from the element count in the divisor (Bessel's correction); default 1. */
  correction?: number;
  /** PyTorch's older spelling: true is correction 1, false is correction 0. */
  unbiased?: boolean;
  keepdim?: boolean;
}

/** Validated, sorted axes; `[]` means "every dim" like torch, and a 0-d tensor reduces over nothing. */
function axesOf(x: Tensor, dim: Dims | undefined, op: string): number[] {
  if (dim === undefined || (typeof dim !== "number" && dim.length === 0)) dim = undefined;
  const axes = normalizeDims(dim, x.rank, op);
  return x.rank === 0 ? [] : axes;
}

function countOf(x: Tensor, axes: readonly number[]): number {
  let n = 1;
  for (const a of axes) n *= x.shape[a]!;
  return n;
}

function requireFloat(x: Tensor, op: string): void {
  if (!isFloating(x.dtype)) {
    throw new TypeError(
      `${op}: input dtype ${x.dtype} is not a floating point dtype (input ${fmtShape(x.shape)}); cast it first, e.g. x.cast('float32')`,
    );
  }
}

/**
 * Runs `fn` on `x` in float32 when `x` is half precision (so accumulation and intermediate squares do not
 * overflow 16 bits, as PyTorch accumulates halves in f32), and casts the result back.
 */
function inF32(x: Tensor, fn: (x: Tensor) => Tensor): Tensor {
  if (!isHalf(x.dtype)) return fn(x);
  const xf = x.cast("float32");
  try {
    const r = fn(xf);
    const out = r.cast(x.dtype);
    r.dispose();
    return out;
  } finally {
    xf.dispose();
  }
}

/** Sum over `dim`. bool and int32 inputs sum to int32 (torch sums them to int64). */
export const sum = traced("sum", function sum(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  sameBackend("sum", { x });
  const axes = axesOf(x, dim, "sum");
  if (x.dtype === "bool") {
    const xi = x.cast("int32");
    try {
      return reduce("sum", xi, axes, keepdim, "sum");
    } finally {
      xi.dispose();
    }
  }
  return reduce("sum", x, axes, keepdim, "sum");
});

/** Product over `dim`; bool input gives int32. An empty reduction gives 1. */
export const prod = traced("prod", function prod(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  sameBackend("prod", { x });
  const axes = axesOf(x, dim, "prod");
  if (x.dtype === "bool") {
    const xi = x.cast("int32");
    try {
      return reduce("prod", xi, axes, keepdim, "prod");
    } finally {
      xi.dispose();
    }
  }
  return reduce("prod", x, axes, keepdim, "prod");
});

/** Arithmetic mean over `dim`; floating inputs only (like torch). An empty reduction gives NaN. */
export const mean = traced("mean", function mean(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  sameBackend("mean", { x });
  requireFloat(x, "mean");
  const axes = axesOf(x, dim, "mean");
  const n = countOf(x, axes);
  return inF32(x, (xf) => {
    const s = reduce("sum", xf, axes, keepdim, "mean");
    const out = div(s, n);
    s.dispose();
    return out;
  });
});

/** Maximum over `dim` (values only). NaN propagates. */
export const amax = traced("amax", function amax(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  sameBackend("amax", { x });
  return reduce("max", x, axesOf(x, dim, "amax"), keepdim, "amax");
});

/** Minimum over `dim` (values only). NaN propagates. */
export const amin = traced("amin", function amin(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  sameBackend("amin", { x });
  return reduce("min", x, axesOf(x, dim, "amin"), keepdim, "amin");
});

export interface ValuesIndices {
  values: Tensor;
  /** int32 positions along the reduced dim (the first one on ties; a NaN wins). */
  indices: Tensor;
}

function extremum(
  op: "max" | "min",
  x: Tensor,
  dim: number | undefined,
  keepdim: boolean,
): Tensor | ValuesIndices {
  sameBackend(op, { x });
  if (dim === undefined) return reduce(op, x, axesOf(x, undefined, op), false, op);
  if (typeof dim !== "number") {
    throw new TypeError(
      `${op}: dim must be a single number when indices are wanted, got ${fmtShape(dim)}; use a${op}`,
    );
  }
  const axes = axesOf(x, dim, op);
  const values = reduce(op, x, axes, keepdim, op);
  try {
    const indices = argReduce(op === "max" ? "argmax" : "argmin", x, axes, keepdim, op);
    return { values, indices };
  } catch (e) {
    values.dispose();
    throw e;
  }
}

function maxOf(x: Tensor): Tensor;
function maxOf(x: Tensor, dim: number, keepdim?: boolean): ValuesIndices;
function maxOf(x: Tensor, dim?: number, keepdim = false): Tensor | ValuesIndices {
  return extremum("max", x, dim, keepdim);
}
/**
 * The maximum of all elements as a 0-d tensor; with `dim`, the max along it with its int32
 * indices (torch.max(x, dim)).
 */
export const max = traced("max", maxOf);

function minOf(x: Tensor): Tensor;
function minOf(x: Tensor, dim: number, keepdim?: boolean): ValuesIndices;
function minOf(x: Tensor, dim?: number, keepdim = false): Tensor | ValuesIndices {
  return extremum("min", x, dim, keepdim);
}
/**
 * The minimum of all elements as a 0-d tensor; with `dim`, the min along it with its int32
 * indices (torch.min(x, dim)).
 */
export const min = traced("min", minOf);

/** argmax/argmin over exactly one normalised axis (or none for a 0-d input). */
function argReduce(
  op: "argmax" | "argmin",
  x: Tensor,
  axes: readonly number[],
  keepdim: boolean,
  name: string,
): Tensor {
  if (axes.length === 0) return scalarTensor(0, "int32", x);
  return reduce(op, x, axes, keepdim, name);
}

function argExtremum(op: "argmax" | "argmin", x: Tensor, dim: number | undefined, keepdim: boolean): Tensor {
  sameBackend(op, { x });
  if (dim !== undefined) {
    if (typeof dim !== "number")
      throw new TypeError(`${op}: dim must be a single number, got ${fmtShape(dim)}`);
    return argReduce(op, x, axesOf(x, dim, op), keepdim, op);
  }
  // No dim: an index into the flattened tensor.
  const flat = x.reshape([-1]);
  try {
    const r = argReduce(op, flat, [0], false, op);
    if (!keepdim) return r;
    const kept = r.reshape(x.shape.map(() => 1));
    r.dispose();
    return kept;
  } finally {
    flat.dispose();
  }
}

/** Index of the maximum along `dim` (int32); without `dim`, into the flattened tensor. */
export const argmax = traced("argmax", function argmax(x: Tensor, dim?: number, keepdim = false): Tensor {
  return argExtremum("argmax", x, dim, keepdim);
});

/** Index of the minimum along `dim` (int32); without `dim`, into the flattened tensor. */
export const argmin = traced("argmin", function argmin(x: Tensor, dim?: number, keepdim = false): Tensor {
  return argExtremum("argmin", x, dim, keepdim);
});

function correctionOf(op: string, opts: VarOptions): number {
  if (opts.correction !== undefined && opts.unbiased !== undefined) {
    throw new TypeError(`${op}: pass either 'correction' or 'unbiased', not both`);
  }
  const c = opts.correction ?? (opts.unbiased === false ? 0 : 1);
  if (!Number.isFinite(c)) throw new RangeError(`${op}: correction must be a finite number, got ${c}`);
  return c;
}

/**
 * Variance over `dim`: sum((x - mean)²) / max(0, N - correction). Unbiased (correction 1) by default like
 * torch.var; `{ correction: 0 }` or `{ unbiased: false }` gives the population variance. N - correction ≤ 0
 * divides by zero (NaN or Inf), as in PyTorch. `var(x, opts)` reduces every dim.
 */
const variance = traced(
  "var",
  function variance(x: Tensor, dim?: Dims | VarOptions, opts: VarOptions = {}): Tensor {
    return moment("var", x, dim, opts);
  },
);

/** Standard deviation: the square root of `var` with the same options. */
export const std = traced(
  "std",
  function std(x: Tensor, dim?: Dims | VarOptions, opts: VarOptions = {}): Tensor {
    return moment("std", x, dim, opts);
  },
);

function moment(op: "var" | "std", x: Tensor, dim: Dims | VarOptions | undefined, opts: VarOptions): Tensor {
  sameBackend(op, { x });
  if (dim !== undefined && typeof dim === "object" && !Array.isArray(dim)) {
    opts = dim as VarOptions;
    dim = undefined;
  }
  requireFloat(x, op);
  const axes = axesOf(x, dim as Dims | undefined, op);
  const keepdim = opts.keepdim ?? false;
  const denom = Math.max(0, countOf(x, axes) - correctionOf(op, opts));
  return inF32(x, (xf) =>
    tidy(op, () => {
      const m = div(reduce("sum", xf, axes, true, op), countOf(x, axes));
      const d = sub(xf, m);
      const v = div(reduce("sum", mul(d, d), axes, keepdim, op), denom);
      return op === "std" ? sqrt(v) : v;
    }),
  );
}

export { variance as var, variance };

/**
 * log(sum(exp(x))) over `dim`, computed as m + log(sum(exp(x - m))) with m the max, so large inputs do not
 * overflow. Rows that are all -Inf give -Inf (m is replaced by 0 where infinite, as PyTorch does); an empty
 * reduction gives -Inf. Integer inputs compute in float32.
 */
export const logsumexp = traced(
  "logsumexp",
  function logsumexp(x: Tensor, dim: Dims, keepdim = false): Tensor {
    sameBackend("logsumexp", { x });
    if (dim === undefined) throw new TypeError("logsumexp: 'dim' is required (a number or a list of dims)");
    const axes = axesOf(x, dim, "logsumexp");
    const src = isFloating(x.dtype) ? x : x.cast("float32");
    try {
      return inF32(src, (xf) =>
        tidy("logsumexp", () => {
          if (countOf(xf, axes) === 0 || xf.size === 0)
            return log(reduce("sum", exp(xf), axes, keepdim, "logsumexp"));
          const m = reduce("max", xf, axes, true, "logsumexp");
          const mSafe = maskedFill(m, eq(abs(m), Number.POSITIVE_INFINITY), 0);
          const s = log(reduce("sum", exp(sub(xf, mSafe)), axes, true, "logsumexp"));
          const r = s.add(mSafe);
          return keepdim ? r : r.squeeze(axes);
        }),
      );
    } finally {
      if (src !== x) src.dispose();
    }
  },
);

declare module "../tensor.js" {
  interface Tensor {
    sum(dim?: Dims, keepdim?: boolean): Tensor;
    mean(dim?: Dims, keepdim?: boolean): Tensor;
    prod(dim?: Dims, keepdim?: boolean): Tensor;
    amax(dim?: Dims, keepdim?: boolean): Tensor;
    amin(dim?: Dims, keepdim?: boolean): Tensor;
    max(): Tensor;
    max(dim: number, keepdim?: boolean): ValuesIndices;
    min(): Tensor;
    min(dim: number, keepdim?: boolean): ValuesIndices;
    argmax(dim?: number, keepdim?: boolean): Tensor;
    argmin(dim?: number, keepdim?: boolean): Tensor;
    var(dim?: Dims | VarOptions, opts?: VarOptions): Tensor;
    std(dim?: Dims | VarOptions, opts?: VarOptions): Tensor;
    logsumexp(dim: Dims, keepdim?: boolean): Tensor;
  }
}

const dimKeepdim = { sum, mean, prod, amax, amin, argmax, argmin, logsumexp };
for (const [name, fn] of Object.entries(dimKeepdim)) {
  Object.defineProperty(Tensor.prototype, name, {
    value: function (this: Tensor, dim?: number, keepdim?: boolean) {
      return (fn as (x: Tensor, dim?: number, keepdim?: boolean) => Tensor)(this, dim, keepdim);
    },
    writable: true,
    configurable: true,
  });
}
Tensor.prototype.max = function (this: Tensor, dim?: number, keepdim?: boolean) {
  return dim === undefined ? max(this) : max(this, dim, keepdim);
} as Tensor["max"];
Tensor.prototype.min = function (this: Tensor, dim?: number, keepdim?: boolean) {
  return dim === undefined ? min(this) : min(this, dim, keepdim);
} as Tensor["min"];
Tensor.prototype.var = function (this: Tensor, dim?: Dims | VarOptions, opts?: VarOptions) {
  return variance(this, dim, opts);
};
Tensor.prototype.std = function (this: Tensor, dim?: Dims | VarOptions, opts?: VarOptions) {
  return std(this, dim, opts);
};
