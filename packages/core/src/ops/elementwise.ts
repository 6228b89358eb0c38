/** Elementwise math, comparisons and selection. Each op is one row over the backend's unary/binary tables. */
import type { BinaryOp, UnaryOp } from "../backend.js";
import { castScalar, type DType, isFloating } from "../dtype.js";
import { broadcastShapes } from "../shape.js";
import { Tensor } from "../tensor.js";
import { traced } from "../trace.js";
import {
  binary,
  binaryDtype,
  broadcastView,
  type Scalar,
  sameBackend,
  scalarTensor,
  type TensorLike,
  unary,
} from "./dispatch.js";

const u = (op: UnaryOp) => traced(op, (x: Tensor) => unary(op, x));
const bin = (op: BinaryOp) => traced(op, (a: TensorLike, b: TensorLike) => binary(op, a, b));

export const neg = u("neg");
export const abs = u("abs");
export const exp = u("exp");
export const log = u("log");
export const log1p = u("log1p");
export const expm1 = u("expm1");
export const sqrt = u("sqrt");
export const rsqrt = u("rsqrt");
export const reciprocal = u("reciprocal");
export const sin = u("sin");
export const cos = u("cos");
export const tanh = u("tanh");
export const sigmoid = u("sigmoid");
export const relu = u("relu");
export const erf = u("erf");
export const sign = u("sign");
export const floor = u("floor");
export const ceil = u("ceil");
/** Rounds half to even, like torch.round. */
export const round = u("round");
export const isnan = u("isnan");

export const add = bin("add");
export const sub = bin("sub");
export const mul = bin("mul");
export const maximum = bin("maximum");
export const minimum = bin("minimum");
export const eq = bin("eq");
export const ne = bin("ne");
export const lt = bin("lt");
export const le = bin("le");
export const gt = bin("gt");
export const ge = bin("ge");

/** True division: integer operands are promoted to float32 (torch.div default). */
export const div = traced("div", function div(a: TensorLike, b: TensorLike): Tensor {
  const dt = binaryDtype(a, b);
  return binary("div", a, b, "div", isFloating(dt) ? dt : "float32");
});

/**
 * a ** b. A floating tensor to the Python-number power 0.5 or -0.5 is sqrt / rsqrt, as torch's
 * pow(Tensor, Scalar) computes it: (-inf) ** 0.5 is NaN and (-0) ** 0.5 is -0 there, where C pow gives inf
 * and +0 (a tensor exponent keeps C pow).
 */
export const pow = traced("pow", function pow(a: TensorLike, b: TensorLike): Tensor {
  if (a instanceof Tensor && typeof b === "number" && isFloating(a.dtype)) {
    if (b === 0.5) return sqrt(a);
    if (b === -0.5) return rsqrt(a);
  }
  return binary("pow", a, b, "pow");
});

export const logicalAnd = traced("logicalAnd", function logicalAnd(a: TensorLike, b: TensorLike): Tensor {
  return binary("logicalAnd", a, b, "logicalAnd", "bool");
});
export const logicalOr = traced("logicalOr", function logicalOr(a: TensorLike, b: TensorLike): Tensor {
  return binary("logicalOr", a, b, "logicalOr", "bool");
});
export const logicalNot = traced("logicalNot", function logicalNot(x: Tensor): Tensor {
  return unary("logicalNot", x);
});

/** x · sigmoid(x). */
export const silu = traced("silu", function silu(x: Tensor): Tensor {
  const s = sigmoid(x);
  const out = mul(x, s);
  s.dispose();
  return out;
});

/** Clamps into [min, max]; either bound may be omitted. NaN stays NaN. */
export const clamp = traced(
  "clamp",
  function clamp(x: Tensor, min?: TensorLike | null, max?: TensorLike | null): Tensor {
    if ((min === undefined || min === null) && (max === undefined || max === null)) {
      throw new TypeError("clamp: at least one of 'min' and 'max' must be given");
    }
    let out = x.clone();
    if (min !== undefined && min !== null) {
      const next = maximum(out, min);
      out.dispose();
      out = next;
    }
    if (max !== undefined && max !== null) {
      const next = minimum(out, max);
      out.dispose();
      out = next;
    }
    return out;
  },
);

/** Elementwise select: cond ? a : b, all three broadcast together. */
export const where = traced("where", function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  sameBackend("where", { cond, a: a instanceof Tensor ? a : null, b: b instanceof Tensor ? b : null });
  if (cond.dtype !== "bool") throw new TypeError(`where: 'cond' must be a bool tensor, got ${cond.dtype}`);
  const dtype: DType = binaryDtype(a, b);
  const ta = a instanceof Tensor ? a.cast(dtype) : scalarTensor(a, dtype, cond);
  const tb = b instanceof Tensor ? b.cast(dtype) : scalarTensor(b, dtype, cond);
  try {
    const shape = broadcastShapes(broadcastShapes(cond.shape, ta.shape, "where"), tb.shape, "where");
    const out = Tensor.empty(shape, dtype, cond.backend);
    if (out.size > 0) {
      const vc = broadcastView(cond, shape);
      const va = broadcastView(ta, shape);
      const vb = broadcastView(tb, shape);
      cond.backend.where(vc.kernelView, va.kernelView, vb.kernelView, out.kernelView);
      vc.dispose();
      va.dispose();
      vb.dispose();
    }
    return out;
  } finally {
    ta.dispose();
    tb.dispose();
  }
});

/** x with `value` wherever `mask` is true (mask broadcasts to x). */
export const maskedFill = traced(
  "maskedFill",
  function maskedFill(x: Tensor, mask: Tensor, value: Scalar): Tensor {
    if (mask.dtype !== "bool")
      throw new TypeError(`maskedFill: 'mask' must be a bool tensor, got ${mask.dtype}`);
    broadcastShapes(x.shape, mask.shape, "maskedFill");
    const v = scalarTensor(castScalar(x.dtype, Number(value)), x.dtype, x);
    const out = where(mask, v, x);
    v.dispose();
    if (out.rank !== x.rank || out.shape.some((d, i) => d !== x.shape[i])) {
      out.dispose();
      throw new RangeError(
        `maskedFill: mask shape [${mask.shape}] must broadcast to input shape [${x.shape}]`,
      );
    }
    return out;
  },
);

declare module "../tensor.js" {
  interface Tensor {
    neg(): Tensor;
    abs(): Tensor;
    exp(): Tensor;
    log(): Tensor;
    log1p(): Tensor;
    expm1(): Tensor;
    sqrt(): Tensor;
    rsqrt(): Tensor;
    reciprocal(): Tensor;
    sin(): Tensor;
    cos(): Tensor;
    tanh(): Tensor;
    sigmoid(): Tensor;
    relu(): Tensor;
    erf(): Tensor;
    sign(): Tensor;
    floor(): Tensor;
    ceil(): Tensor;
    round(): Tensor;
    isnan(): Tensor;
    silu(): Tensor;
    logicalNot(): Tensor;
    add(other: TensorLike): Tensor;
    sub(other: TensorLike): Tensor;
    mul(other: TensorLike): Tensor;
    div(other: TensorLike): Tensor;
    pow(exponent: TensorLike): Tensor;
    maximum(other: TensorLike): Tensor;
    minimum(other: TensorLike): Tensor;
    eq(other: TensorLike): Tensor;
    ne(other: TensorLike): Tensor;
    lt(other: TensorLike): Tensor;
    le(other: TensorLike): Tensor;
    gt(other: TensorLike): Tensor;
    ge(other: TensorLike): Tensor;
    logicalAnd(other: TensorLike): Tensor;
    logicalOr(other: TensorLike): Tensor;
    clamp(min?: TensorLike | null, max?: TensorLike | null): Tensor;
    where(cond: Tensor, other: TensorLike): Tensor;
    maskedFill(mask: Tensor, value: Scalar): Tensor;
  }
}

const unaryMethods = {
  neg,
  abs,
  exp,
  log,
  log1p,
  expm1,
  sqrt,
  rsqrt,
  reciprocal,
  sin,
  cos,
  tanh,
  sigmoid,
  relu,
  erf,
  sign,
  floor,
  ceil,
  round,
  isnan,
  silu,
  logicalNot,
};
for (const [name, fn] of Object.entries(unaryMethods)) {
  Object.defineProperty(Tensor.prototype, name, {
    value: function (this: Tensor) {
      return fn(this);
    },
    writable: true,
    configurable: true,
  });
}
const binaryMethods = {
  add,
  sub,
  mul,
  div,
  pow,
  maximum,
  minimum,
  eq,
  ne,
  lt,
  le,
  gt,
  ge,
  logicalAnd,
  logicalOr,
};
for (const [name, fn] of Object.entries(binaryMethods)) {
  Object.defineProperty(Tensor.prototype, name, {
    value: function (this: Tensor, other: TensorLike) {
      return fn(this, other);
    },
    writable: true,
    configurable: true,
  });
}
Tensor.prototype.clamp = function (min, max) {
  return clamp(this, min, max);
};
/** torch-style x.where(cond, other) = where(cond, x, other). */
Tensor.prototype.where = function (cond, other) {
  return where(cond, this, other);
};
Tensor.prototype.maskedFill = function (mask, value) {
  return maskedFill(this, mask, value);
};
