/** Matrix products: matmul with torch.matmul semantics, and linear (x·Wᵀ + b). */
import { broadcastShapes, fmtShape, isContiguous, shapesEqual } from "../shape.js";
import { Tensor } from "../tensor.js";
import { traced } from "../trace.js";
import { sameBackend } from "./dispatch.js";
import { add } from "./elementwise.js";

/** An operand as the kernel takes it: contiguous, possibly stored transposed. */
interface Operand {
  t: Tensor;
  trans: boolean;
}

/**
 * `x` (rank ≥ 2, logical [..., R, C]) as a kernel operand without copying when its storage is row-major
 * either as is or with the last two dims swapped (`w.mT` of a contiguous `w`). Batch dims that are
 * broadcast (stride 0) become size 1, since the kernel broadcasts batch dims itself.
 */
function operand(x: Tensor): Operand {
  const r = x.rank;
  const shape = [...x.shape];
  const strides = [...x.strides];
  for (let d = 0; d < r - 2; d++) {
    if (strides[d] === 0 && shape[d]! > 1) shape[d] = 1;
  }
  if (isContiguous(shape, strides)) return { t: x.asStrided(shape, strides), trans: false };
  const tShape = [...shape];
  const tStrides = [...strides];
  [tShape[r - 2], tShape[r - 1]] = [shape[r - 1]!, shape[r - 2]!];
  [tStrides[r - 2], tStrides[r - 1]] = [strides[r - 1]!, strides[r - 2]!];
  if (isContiguous(tShape, tStrides)) return { t: x.asStrided(tShape, tStrides), trans: true };
  const view = x.asStrided(shape, strides);
  const c = view.contiguous();
  view.dispose();
  return { t: c, trans: false };
}

/**
 * Matrix product with torch.matmul semantics: 1-D·1-D is a dot product (0-d); a 1-D first operand is a row
 * vector and a 1-D second operand a column vector, the added dim removed from the result; higher ranks are
 * batches of matrices whose batch dims broadcast. Transposed-contiguous operands (`w.mT`) reach the kernel as
 * transA/transB instead of being copied.
 */
export const matmul = traced("matmul", function matmul(a: Tensor, b: Tensor): Tensor {
  sameBackend("matmul", { a, b });
  if (a.rank === 0 || b.rank === 0) {
    throw new RangeError(
      `matmul: both arguments need at least 1 dim, got a ${fmtShape(a.shape)} and b ${fmtShape(b.shape)}`,
    );
  }
  if (a.dtype !== b.dtype) {
    throw new TypeError(
      `matmul: a is ${a.dtype} but b is ${b.dtype} (shapes ${fmtShape(a.shape)}, ${fmtShape(b.shape)}); cast one first`,
    );
  }
  if (a.dtype === "bool")
    throw new TypeError(
      `matmul: bool tensors are not supported (a ${fmtShape(a.shape)}); cast to float32 or int32`,
    );
  const ka = a.shape[a.rank - 1]!;
  const kb = b.rank === 1 ? b.shape[0]! : b.shape[b.rank - 2]!;
  if (ka !== kb) {
    throw new RangeError(
      `matmul: inner dimensions differ: a is ${fmtShape(a.shape)}, b is ${fmtShape(b.shape)}`,
    );
  }
  // Promote 1-D operands to matrices; remember which dims to drop from the result.
  const a2 = a.rank === 1 ? a.unsqueeze(0) : a.asStrided(a.shape, a.strides);
  const b2 = b.rank === 1 ? b.unsqueeze(1) : b.asStrided(b.shape, b.strides);
  try {
    const M = a2.shape[a2.rank - 2]!;
    const N = b2.shape[b2.rank - 1]!;
    const batch = broadcastShapes(a2.shape.slice(0, -2), b2.shape.slice(0, -2), "matmul");
    const result = batchedMatmul(a2, b2, batch, M, ka, N);
    if (a.rank > 1 && b.rank > 1) return result;
    const finalShape = [...batch];
    if (a.rank > 1) finalShape.push(M);
    if (b.rank > 1) finalShape.push(N);
    const r = result.reshape(finalShape);
    result.dispose();
    return r;
  } finally {
    a2.dispose();
    b2.dispose();
  }
});

/** out [...batch, M, N] = a [..., M, K] · b [..., K, N], both rank ≥ 2. */
function batchedMatmul(a: Tensor, b: Tensor, batch: number[], M: number, K: number, N: number): Tensor {
  const backend = a.backend;
  const out = Tensor.empty([...batch, M, N], a.dtype, backend);
  if (out.size === 0) return out;
  if (K === 0) {
    backend.fill(out.kernelView, 0);
    return out;
  }
  // A contiguous batch against one matrix is a single [batch·M, K] × [K, N] product.
  let lhs = a;
  if (b.rank === 2 && a.rank > 2 && a.isContiguous) lhs = a.reshape([-1, K]);
  const oa = operand(lhs);
  const ob = operand(b);
  let dst: Tensor | undefined;
  try {
    const kernelBatch = broadcastShapes(batchDims(oa), batchDims(ob), "matmul");
    // The kernel writes [...kernelBatch, M, N]; when both operands were broadcast along a batch dim that is
    // smaller than `batch`, compute the distinct products once and expand them into `out`.
    if (lhs !== a) dst = out.reshape([-1, N]);
    else if (shapesEqual(kernelBatch, batch)) dst = out.asStrided(out.shape, out.strides);
    else dst = Tensor.empty([...kernelBatch, M, N], a.dtype, backend);
    backend.matmul(oa.t.kernelView, ob.t.kernelView, oa.trans, ob.trans, dst.kernelView);
    if (dst.storage !== out.storage) {
      const wide = dst.expand(out.shape);
      backend.copy(wide.kernelView, out.kernelView);
      wide.dispose();
    }
    return out;
  } catch (e) {
    out.dispose();
    throw e;
  } finally {
    dst?.dispose();
    if (lhs !== a) lhs.dispose();
    oa.t.dispose();
    ob.t.dispose();
  }
}

function batchDims(o: Operand): readonly number[] {
  return o.t.shape.slice(0, -2);
}

/**
 * y = x·Wᵀ + b with weight [out, in] (torch.nn.functional.linear). x is [..., in] or [in]; the weight is
 * read transposed by the kernel, never copied.
 */
export const linear = traced(
  "linear",
  function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
    sameBackend("linear", { x, weight, bias });
    if (weight.rank !== 2)
      throw new RangeError(`linear: weight must be [out, in], got ${fmtShape(weight.shape)}`);
    const [outF, inF] = weight.shape as [number, number];
    if (x.rank === 0 || x.shape[x.rank - 1] !== inF) {
      throw new RangeError(
        `linear: input ${fmtShape(x.shape)} has ${x.shape[x.rank - 1] ?? 0} features but weight ${fmtShape(weight.shape)} expects ${inF}`,
      );
    }
    if (bias && (bias.rank !== 1 || bias.shape[0] !== outF)) {
      throw new RangeError(
        `linear: bias ${fmtShape(bias.shape)} must be [${outF}] for weight ${fmtShape(weight.shape)}`,
      );
    }
    const wt = weight.mT;
    try {
      const y = matmul(x, wt);
      if (!bias) return y;
      const out = add(y, bias);
      y.dispose();
      return out;
    } finally {
      wt.dispose();
    }
  },
);

declare module "../tensor.js" {
  interface Tensor {
    matmul(other: Tensor): Tensor;
  }
}

Tensor.prototype.matmul = function (this: Tensor, other: Tensor) {
  return matmul(this, other);
};
