/**
 * The glue between public ops and backend kernels: operand checks, dtype promotion, broadcasting
 * (as stride-0 views) and output allocation. Every public op reaches a kernel through here.
 */
import type { BinaryOp, ReduceOp, UnaryOp } from "../backend.js";
import { COMPARE_OPS } from "../backend.js";
import { castScalar, type DType, isFloating, promoteTypes, promoteWithScalar } from "../dtype.js";
import { broadcastShapes, broadcastStrides, fmtShape, normalizeDims, reducedShape } from "../shape.js";
import { Tensor } from "../tensor.js";

export type Scalar = number | boolean;
export type TensorLike = Tensor | Scalar;

/** Throws unless every tensor is alive and on one backend; names the op and the offending argument. */
export function sameBackend(op: string, tensors: Record<string, Tensor | null | undefined>): void {
  let first: [string, Tensor] | undefined;
  for (const [name, t] of Object.entries(tensors)) {
    if (!t) continue;
    if (!(t instanceof Tensor))
      throw new TypeError(`${op}: argument '${name}' must be a Tensor, got ${typeof t}`);
    t.assertAlive(op);
    if (!first) first = [name, t];
    else if (t.backend !== first[1].backend) {
      throw new Error(
        `${op}: '${first[0]}' is on backend '${first[1].backendName}' but '${name}' is on '${t.backendName}'; ` +
          `move one with tensor.to('${first[1].backendName}')`,
      );
    }
  }
}

/** A 0-d tensor holding `value` on `t`'s backend. */
export function scalarTensor(value: Scalar, dtype: DType, like: Tensor): Tensor {
  const out = Tensor.empty([], dtype, like.backend);
  out.backend.fill(out.kernelView, castScalar(dtype, Number(value)));
  return out;
}

/** `t` viewed at `shape` (stride 0 on broadcast dims); shares memory. */
export function broadcastView(t: Tensor, shape: readonly number[]): Tensor {
  return t.asStrided(shape, broadcastStrides(t.shape, t.strides, shape));
}

/** `t` in `dtype` (new reference or copy); the caller disposes it. */
function asDtype(t: Tensor, dtype: DType): Tensor {
  return t.cast(dtype);
}

export function unary(op: UnaryOp, x: Tensor, name: string = op): Tensor {
  sameBackend(name, { x });
  let outDtype = x.dtype;
  if (op === "logicalNot" || op === "isnan") outDtype = "bool";
  const needsFloat = ![
    "neg",
    "abs",
    "sign",
    "relu",
    "logicalNot",
    "isnan",
    "floor",
    "ceil",
    "round",
  ].includes(op);
  const src = needsFloat && !isFloating(x.dtype) ? asDtype(x, "float32") : x;
  if (needsFloat && !isFloating(x.dtype)) outDtype = "float32";
  if (op === "neg" && x.dtype === "bool")
    throw new TypeError(`${name}: negation is not defined for bool tensors; use logicalNot`);
  const out = Tensor.empty(x.shape, outDtype, x.backend);
  if (out.size > 0) x.backend.unary(op, src.kernelView, out.kernelView);
  if (src !== x) src.dispose();
  return out;
}

/** Result dtype of a binary op (PyTorch promotion; scalars never widen a float tensor). */
export function binaryDtype(a: TensorLike, b: TensorLike): DType {
  if (a instanceof Tensor && b instanceof Tensor) {
    // A 0-d tensor does not widen a higher-rank one within the same category (PyTorch rule).
    if (a.rank === 0 && b.rank > 0 && isFloating(a.dtype) === isFloating(b.dtype) && a.dtype !== "bool")
      return b.dtype;
    if (b.rank === 0 && a.rank > 0 && isFloating(a.dtype) === isFloating(b.dtype) && b.dtype !== "bool")
      return a.dtype;
    return promoteTypes(a.dtype, b.dtype);
  }
  if (a instanceof Tensor) return promoteWithScalar(a.dtype, b as Scalar);
  if (b instanceof Tensor) return promoteWithScalar(b.dtype, a as Scalar);
  throw new TypeError("binary op: at least one operand must be a Tensor");
}

/** Runs a binary kernel with promotion and broadcasting. `computeDtype` overrides the operand dtype. */
export function binary(
  op: BinaryOp,
  a: TensorLike,
  b: TensorLike,
  name: string = op,
  computeDtype?: DType,
): Tensor {
  const like = (a instanceof Tensor ? a : b) as Tensor;
  sameBackend(name, { a: a instanceof Tensor ? a : null, b: b instanceof Tensor ? b : null });
  const dtype = computeDtype ?? binaryDtype(a, b);
  const ta = a instanceof Tensor ? asDtype(a, dtype) : scalarTensor(a, dtype, like);
  const tb = b instanceof Tensor ? asDtype(b, dtype) : scalarTensor(b, dtype, like);
  try {
    const shape = broadcastShapes(ta.shape, tb.shape, name);
    const out = Tensor.empty(shape, COMPARE_OPS.has(op) ? "bool" : dtype, like.backend);
    if (out.size > 0) {
      const va = broadcastView(ta, shape);
      const vb = broadcastView(tb, shape);
      like.backend.binary(op, va.kernelView, vb.kernelView, out.kernelView);
      va.dispose();
      vb.dispose();
    }
    return out;
  } finally {
    ta.dispose();
    tb.dispose();
  }
}

/** Runs a reduction kernel. Returns the reduced tensor (keepdim shape squeezed unless `keepdim`). */
export function reduce(
  op: ReduceOp,
  x: Tensor,
  dims: number | readonly number[] | undefined,
  keepdim: boolean,
  name: string = op,
  outDtype: DType = op === "argmax" || op === "argmin" ? "int32" : x.dtype,
): Tensor {
  sameBackend(name, { x });
  const axes = normalizeDims(dims, x.rank, name);
  for (const a of axes) {
    if (x.shape[a] === 0 && (op === "max" || op === "min" || op === "argmax" || op === "argmin")) {
      throw new RangeError(
        `${name}: cannot reduce over dim ${a} of size 0 (input ${fmtShape(x.shape)}); the result has no identity`,
      );
    }
  }
  const keptShape = reducedShape(x.shape, axes, true);
  const src = x.contiguous();
  const out = Tensor.empty(keptShape, outDtype, x.backend);
  if (out.size > 0) x.backend.reduce(op, src.kernelView, axes, out.kernelView);
  src.dispose();
  if (keepdim) return out;
  const r = out.reshape(reducedShape(x.shape, axes, false));
  out.dispose();
  return r;
}
