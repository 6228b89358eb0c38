/**
 * Joining, splitting, indexing and padding. Everything is built from three primitives: strided `copy`
 * into views of a preallocated output (cat, stack, pad, repeat), `gather` and `scatterAdd` (index ops,
 * flip, oneHot). Views handed to kernels never have negative strides.
 */
import { castScalar, type DType, promoteTypes } from "../dtype.js";
import { fmtShape, normalizeDim, normalizeDims, numel, shapesEqual } from "../shape.js";
import { Tensor } from "../tensor.js";
import { traced } from "../trace.js";
import { arange, full } from "./creation.js";
import { sameBackend, scalarTensor } from "./dispatch.js";
import { ge, le, sub, where } from "./elementwise.js";
import { amax } from "./reduce.js";

function checkList(op: string, tensors: readonly Tensor[]): void {
  if (!Array.isArray(tensors) || tensors.length === 0) {
    throw new RangeError(`${op}: expected a non-empty list of tensors`);
  }
  const named: Record<string, Tensor> = {};
  tensors.forEach((t, i) => {
    named[`tensors[${i}]`] = t;
  });
  sameBackend(op, named);
}

function resultDtype(tensors: readonly Tensor[]): DType {
  let dt = tensors[0]!.dtype;
  for (let i = 1; i < tensors.length; i++) dt = promoteTypes(dt, tensors[i]!.dtype);
  return dt;
}

/** Copies `src` into `out.slice(dim, start, start + src.shape[dim])` (or `out.select(dim, start)` if `select`). */
function copyInto(out: Tensor, src: Tensor, dim: number, start: number, select: boolean): void {
  if (src.size === 0) return;
  const dst = select ? out.select(dim, start) : out.slice(dim, start, start + src.shape[dim]!);
  out.backend.copy(src.kernelView, dst.kernelView);
  dst.dispose();
}

/**
 * Concatenates along `dim` (torch.cat). All tensors have the same rank and agree on every other dim; a 1-D
 * tensor of size 0 is skipped, as in PyTorch. The result dtype is the promotion of all inputs.
 */
export const cat = traced("cat", function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  checkList("cat", tensors);
  const parts = tensors.filter((t) => !(t.rank === 1 && t.shape[0] === 0));
  const ref = parts[0] ?? tensors[0]!;
  const refIdx = tensors.indexOf(ref);
  if (ref.rank === 0)
    throw new RangeError(`cat: tensors[${refIdx}] is 0-d and cannot be concatenated; use stack`);
  const d = normalizeDim(dim, ref.rank, "cat");
  const shape = [...ref.shape];
  shape[d] = 0;
  for (const t of parts) {
    if (t.rank !== ref.rank || t.shape.some((s, i) => i !== d && s !== ref.shape[i])) {
      throw new RangeError(
        `cat: tensors[${tensors.indexOf(t)}] has shape ${fmtShape(t.shape)} but tensors[${refIdx}] has ${fmtShape(ref.shape)}; all dims except dim ${d} must match`,
      );
    }
    shape[d]! += t.shape[d]!;
  }
  const out = Tensor.empty(shape, resultDtype(tensors), ref.backend);
  let offset = 0;
  for (const t of parts) {
    copyInto(out, t, d, offset, false);
    offset += t.shape[d]!;
  }
  return out;
});

/** Joins equally shaped tensors along a new dim `dim` (torch.stack). */
export const stack = traced("stack", function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  checkList("stack", tensors);
  const ref = tensors[0]!;
  const d = normalizeDim(dim, ref.rank + 1, "stack");
  tensors.forEach((t, i) => {
    if (!shapesEqual(t.shape, ref.shape)) {
      throw new RangeError(
        `stack: tensors[${i}] has shape ${fmtShape(t.shape)} but tensors[0] has ${fmtShape(ref.shape)}; all shapes must be equal`,
      );
    }
  });
  const shape = [...ref.shape];
  shape.splice(d, 0, tensors.length);
  const out = Tensor.empty(shape, resultDtype(tensors), ref.backend);
  for (let i = 0; i < tensors.length; i++) copyInto(out, tensors[i]!, d, i, true);
  return out;
});

/**
 * Views of consecutive pieces along `dim` (torch.split): a number is the size of each piece (the last may
 * be smaller); a list gives every size and must sum to the dim's size.
 */
export const split = traced(
  "split",
  function split(x: Tensor, splitSizeOrSections: number | readonly number[], dim = 0): Tensor[] {
    sameBackend("split", { x });
    const d = normalizeDim(dim, x.rank, "split");
    if (x.rank === 0) throw new RangeError("split: cannot split a 0-d tensor");
    const n = x.shape[d]!;
    let sizes: number[];
    if (typeof splitSizeOrSections === "number") {
      const s = splitSizeOrSections;
      if (!Number.isInteger(s) || s < 0 || (s === 0 && n > 0)) {
        throw new RangeError(
          `split: split size must be a positive integer, got ${s} (dim ${d} of ${fmtShape(x.shape)})`,
        );
      }
      const count = s === 0 ? 1 : Math.max(1, Math.ceil(n / s));
      sizes = Array.from({ length: count }, (_, i) => Math.min(s, n - i * s));
    } else {
      sizes = [...splitSizeOrSections];
      const total = sizes.reduce((a, b) => a + b, 0);
      if (sizes.some((s) => !Number.isInteger(s) || s < 0) || total !== n) {
        throw new RangeError(
          `split: sizes ${fmtShape(sizes)} must be non-negative integers summing to ${n}, the size of dim ${d} of ${fmtShape(x.shape)}`,
        );
      }
    }
    const out: Tensor[] = [];
    let start = 0;
    for (const s of sizes) {
      out.push(x.narrow(d, start, s));
      start += s;
    }
    return out;
  },
);

/**
 * Splits into `chunks` views of ceil(n / chunks) along `dim` (torch.chunk); fewer pieces come back when the
 * size does not allow `chunks` non-empty ones.
 */
export const chunk = traced("chunk", function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  sameBackend("chunk", { x });
  if (!Number.isInteger(chunks) || chunks <= 0)
    throw new RangeError(`chunk: chunks must be a positive integer, got ${chunks}`);
  if (x.rank === 0) throw new RangeError("chunk: cannot chunk a 0-d tensor");
  const d = normalizeDim(dim, x.rank, "chunk");
  const n = x.shape[d]!;
  if (n === 0) return split(x, new Array<number>(chunks).fill(0), d);
  return split(x, Math.ceil(n / chunks), d);
});

function checkIndex(op: string, index: Tensor, arg = "index"): void {
  if (index.dtype !== "int32") {
    throw new TypeError(
      `${op}: '${arg}' must be an int32 tensor, got ${index.dtype} (shape ${fmtShape(index.shape)}); cast it with .cast('int32')`,
    );
  }
}

/**
 * out[i..] = x[.. index[i..] ..] along `dim` (torch.gather). `index` is int32 with x's rank and no larger
 * than x in the other dims; the result has index's shape.
 */
export const gather = traced("gather", function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  sameBackend("gather", { x, index });
  checkIndex("gather", index);
  const d = normalizeDim(dim, x.rank, "gather");
  if (index.rank !== x.rank) {
    throw new RangeError(
      `gather: index ${fmtShape(index.shape)} must have the rank of input ${fmtShape(x.shape)}`,
    );
  }
  for (let i = 0; i < x.rank; i++) {
    if (i !== d && index.shape[i]! > x.shape[i]!) {
      throw new RangeError(
        `gather: index ${fmtShape(index.shape)} is larger than input ${fmtShape(x.shape)} at dim ${i}, which is not the gather dim ${d}`,
      );
    }
  }
  if (numel(index.shape) > 0 && x.rank > 0 && x.shape[d] === 0) {
    throw new RangeError(`gather: cannot gather from dim ${d} of size 0 (input ${fmtShape(x.shape)})`);
  }
  const out = Tensor.empty(index.shape, x.dtype, x.backend);
  if (out.size === 0) return out;
  const xc = x.contiguous();
  const ic = index.contiguous();
  try {
    x.backend.gather(xc.kernelView, ic.kernelView, d, out.kernelView);
    return out;
  } catch (e) {
    out.dispose();
    throw e;
  } finally {
    xc.dispose();
    ic.dispose();
  }
});

/**
 * Rows (or slices) of `x` at the positions in `index` along `dim` (torch.index_select). `index` is a 1-D
 * (or 0-d) int32 tensor; the result has x's shape with dim `dim` replaced by index's length.
 */
export const indexSelect = traced(
  "indexSelect",
  function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
    sameBackend("indexSelect", { x, index });
    checkIndex("indexSelect", index);
    if (index.rank > 1) throw new RangeError(`indexSelect: index must be 1-D, got ${fmtShape(index.shape)}`);
    const d = normalizeDim(dim, x.rank, "indexSelect");
    if (x.rank === 0) {
      if (index.size !== 1)
        throw new RangeError(`indexSelect: a 0-d input takes a single index, got ${fmtShape(index.shape)}`);
      const i0 = index.reshape([]);
      try {
        return gather(x, 0, i0);
      } finally {
        i0.dispose();
      }
    }
    const k = index.size;
    const outShape = [...x.shape];
    outShape[d] = k;
    // gather wants an index of the output's shape: broadcast the 1-D index over the other dims.
    const idxStrides = outShape.map((_, i) => (i === d ? (index.strides[0] ?? 1) : 0));
    const wide = index.asStrided(outShape, idxStrides);
    try {
      return gather(x, d, wide);
    } finally {
      wide.dispose();
    }
  },
);

/**
 * x + src scattered at `index` along `dim` (out-of-place torch.scatter_add): out[.. index[i..] ..] += src[i..].
 * index is int32 with x's rank, no larger than src anywhere and than x outside `dim`; src has x's dtype.
 */
export const scatterAdd = traced(
  "scatterAdd",
  function scatterAdd(x: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
    sameBackend("scatterAdd", { x, index, src });
    checkIndex("scatterAdd", index);
    const d = normalizeDim(dim, x.rank, "scatterAdd");
    if (src.dtype !== x.dtype)
      throw new TypeError(`scatterAdd: src is ${src.dtype} but input is ${x.dtype}; they must match`);
    if (index.rank !== x.rank || src.rank !== x.rank) {
      throw new RangeError(
        `scatterAdd: index ${fmtShape(index.shape)} and src ${fmtShape(src.shape)} must have the rank of input ${fmtShape(x.shape)}`,
      );
    }
    for (let i = 0; i < x.rank; i++) {
      if (index.shape[i]! > src.shape[i]! || (i !== d && index.shape[i]! > x.shape[i]!)) {
        throw new RangeError(
          `scatterAdd: index ${fmtShape(index.shape)} is larger than src ${fmtShape(src.shape)} or than input ${fmtShape(x.shape)} outside dim ${d} (at dim ${i})`,
        );
      }
    }
    const out = x.clone();
    if (index.size === 0) return out;
    // Only the part of src that index covers takes part (torch reads src at index's positions).
    const srcPart = shapesEqual(src.shape, index.shape) ? src.contiguous() : sliceTo(src, index.shape);
    const ic = index.contiguous();
    try {
      x.backend.scatterAdd(out.kernelView, ic.kernelView, srcPart.kernelView, d);
      return out;
    } catch (e) {
      out.dispose();
      throw e;
    } finally {
      srcPart.dispose();
      ic.dispose();
    }
  },
);

/** A contiguous copy of the leading `shape` corner of `t`. */
function sliceTo(t: Tensor, shape: readonly number[]): Tensor {
  const view = t.asStrided(shape, t.strides);
  const c = view.contiguous();
  view.dispose();
  return c;
}

/**
 * Constant padding (torch.nn.functional.pad, mode 'constant'). `pads` holds (before, after) pairs starting
 * from the last dim: [left, right, top, bottom, …]. Negative pads crop.
 */
export const pad = traced("pad", function pad(x: Tensor, pads: readonly number[], value = 0): Tensor {
  sameBackend("pad", { x });
  if (pads.length % 2 !== 0 || pads.length > 2 * x.rank) {
    throw new RangeError(
      `pad: pads ${fmtShape(pads)} must hold (before, after) pairs for at most ${x.rank} dims of input ${fmtShape(x.shape)}`,
    );
  }
  if (pads.some((p) => !Number.isInteger(p)))
    throw new RangeError(`pad: pads ${fmtShape(pads)} must be integers`);
  const outShape = [...x.shape];
  let src = x.asStrided(x.shape, x.strides);
  const dstRanges: [number, number, number][] = [];
  try {
    for (let i = 0; i < pads.length / 2; i++) {
      const d = x.rank - 1 - i;
      const before = pads[2 * i]!;
      const after = pads[2 * i + 1]!;
      const n = x.shape[d]!;
      const size = n + before + after;
      if (size < 0) {
        throw new RangeError(
          `pad: pads (${before}, ${after}) on dim ${d} of size ${n} give a negative size (input ${fmtShape(x.shape)})`,
        );
      }
      outShape[d] = size;
      const lo = Math.max(0, -before);
      const hi = Math.max(lo, n - Math.max(0, -after));
      const cropped = src.slice(d, lo, hi);
      src.dispose();
      src = cropped;
      dstRanges.push([d, Math.max(0, before), hi - lo]);
    }
    const out = Tensor.empty(outShape, x.dtype, x.backend);
    if (out.size === 0) return out;
    out.backend.fill(out.kernelView, castScalar(x.dtype, value));
    if (src.size === 0) return out;
    let dst = out.asStrided(out.shape, out.strides);
    for (const [d, start, len] of dstRanges) {
      const next = dst.slice(d, start, start + len);
      dst.dispose();
      dst = next;
    }
    out.backend.copy(src.kernelView, dst.kernelView);
    dst.dispose();
    return out;
  } finally {
    src.dispose();
  }
});

/** Reverses the order of elements along each of `dims` (torch.flip); a copy, built with index gathers. */
export const flip = traced("flip", function flip(x: Tensor, dims: number | readonly number[]): Tensor {
  sameBackend("flip", { x });
  const axes = normalizeDims(dims, x.rank, "flip");
  let out = x.contiguous();
  for (const d of axes) {
    const n = x.shape[d]!;
    if (x.rank === 0 || n <= 1) continue;
    const rev = arange(n - 1, -1, -1, { dtype: "int32", backend: x.backendName });
    const next = indexSelect(out, d, rev);
    rev.dispose();
    out.dispose();
    out = next;
  }
  // A fresh tensor even when nothing moved, so the result never aliases the input.
  if (out.storage === x.storage) {
    const c = out.clone();
    out.dispose();
    return c;
  }
  return out;
});

function checkReps(op: string, reps: readonly number[]): void {
  if (reps.some((r) => !Number.isInteger(r) || r < 0))
    throw new RangeError(`${op}: repeats ${fmtShape(reps)} must be non-negative integers`);
}

/**
 * Tiles `x` `reps[i]` times along each dim (torch.Tensor.repeat). `reps` may be longer than the rank: x is
 * treated as having leading size-1 dims. One strided copy from a stride-0 view.
 */
export const repeat = traced("repeat", function repeat(x: Tensor, reps: readonly number[]): Tensor {
  sameBackend("repeat", { x });
  checkReps("repeat", reps);
  if (reps.length < x.rank) {
    throw new RangeError(
      `repeat: repeats ${fmtShape(reps)} must have at least as many entries as input ${fmtShape(x.shape)} has dims`,
    );
  }
  const lead = reps.length - x.rank;
  const inner = reps.map((_, i) => (i < lead ? 1 : x.shape[i - lead]!));
  const innerStrides = reps.map((_, i) => (i < lead ? 0 : x.strides[i - lead]!));
  const outShape = reps.map((r, i) => r * inner[i]!);
  const out = Tensor.empty(outShape, x.dtype, x.backend);
  if (out.size === 0) return out;
  // Read x as [r0, s0, r1, s1, …] with stride 0 on the repeat dims; out viewed the same way is contiguous.
  const pairShape = reps.flatMap((r, i) => [r, inner[i]!]);
  const src = x.asStrided(
    pairShape,
    reps.flatMap((_, i) => [0, innerStrides[i]!]),
  );
  const dst = out.reshape(pairShape);
  out.backend.copy(src.kernelView, dst.kernelView);
  src.dispose();
  dst.dispose();
  return out;
});

/** torch.tile: like `repeat`, but `reps` shorter than the rank is padded with leading 1s. */
export const tile = traced("tile", function tile(x: Tensor, reps: readonly number[]): Tensor {
  checkReps("tile", reps);
  const full = reps.length < x.rank ? [...new Array<number>(x.rank - reps.length).fill(1), ...reps] : reps;
  return repeat(x, full);
});

/**
 * One-hot encoding of int32 class indices: shape [...indices.shape, numClasses], int32. numClasses -1 means
 * max + 1, which needs a synchronous read (backends with `readSync` only). Out-of-range indices are a
 * RangeError from the backend.
 */
export const oneHot = traced("oneHot", function oneHot(indices: Tensor, numClasses = -1): Tensor {
  sameBackend("oneHot", { indices });
  checkIndex("oneHot", indices, "indices");
  let c = numClasses;
  if (c === -1) {
    if (!indices.backend.readSync) {
      throw new Error(
        `oneHot: numClasses -1 needs to read the maximum index, but backend '${indices.backendName}' has no synchronous reads; pass numClasses`,
      );
    }
    if (indices.size === 0)
      throw new RangeError("oneHot: cannot infer numClasses from an empty tensor; pass numClasses");
    const m = amax(indices);
    c = m.itemSync() + 1;
    m.dispose();
  }
  if (!Number.isInteger(c) || c < 0)
    throw new RangeError(`oneHot: numClasses must be a non-negative integer or -1, got ${numClasses}`);
  const out = full([...indices.shape, c], 0, { dtype: "int32", backend: indices.backendName });
  if (indices.size === 0) return out;
  if (c === 0) {
    out.dispose();
    throw new RangeError(`oneHot: numClasses is 0 but indices ${fmtShape(indices.shape)} is not empty`);
  }
  const idx = indices.reshape([...indices.shape, 1]);
  const ic = idx.contiguous();
  const ones = full(ic.shape, 1, { dtype: "int32", backend: indices.backendName });
  try {
    out.backend.scatterAdd(out.kernelView, ic.kernelView, ones.kernelView, indices.rank);
    return out;
  } catch (e) {
    out.dispose();
    throw e;
  } finally {
    idx.dispose();
    ic.dispose();
    ones.dispose();
  }
});

/** Keeps the elements with column - row >= diagonal (`upper`) or <= diagonal, zeroing the rest; last two dims. */
function triangle(op: "triu" | "tril", x: Tensor, diagonal: number): Tensor {
  sameBackend(op, { x });
  if (x.rank < 2) throw new RangeError(`${op}: input must have at least 2 dims, got ${fmtShape(x.shape)}`);
  if (!Number.isInteger(diagonal))
    throw new RangeError(`${op}: diagonal must be an integer, got ${diagonal}`);
  const rows = x.shape[x.rank - 2]!;
  const cols = x.shape[x.rank - 1]!;
  if (numel(x.shape) === 0) return x.clone();
  const opts = { dtype: "int32" as const, backend: x.backendName };
  const r = arange(rows, undefined, 1, opts);
  const c = arange(cols, undefined, 1, opts);
  const rc = r.reshape([rows, 1]);
  const diff = sub(c, rc); // [rows, cols]: column - row
  const keep = op === "triu" ? ge(diff, diagonal) : le(diff, diagonal);
  const zero = scalarTensor(0, x.dtype, x);
  try {
    return where(keep, x, zero);
  } finally {
    for (const t of [r, c, rc, diff, keep, zero]) t.dispose();
  }
}

/** The upper triangle of the last two dims (torch.triu): elements with col - row >= diagonal. */
export const triu = traced("triu", function triu(x: Tensor, diagonal = 0): Tensor {
  return triangle("triu", x, diagonal);
});

/** The lower triangle of the last two dims (torch.tril): elements with col - row <= diagonal. */
export const tril = traced("tril", function tril(x: Tensor, diagonal = 0): Tensor {
  return triangle("tril", x, diagonal);
});

declare module "../tensor.js" {
  interface Tensor {
    split(splitSizeOrSections: number | readonly number[], dim?: number): Tensor[];
    chunk(chunks: number, dim?: number): Tensor[];
    indexSelect(dim: number, index: Tensor): Tensor;
    gather(dim: number, index: Tensor): Tensor;
    scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor;
    flip(dims: number | readonly number[]): Tensor;
    /** torch.Tensor.repeat: `x.repeat(2, 3)` or `x.repeat([2, 3])`. */
    repeat(...reps: number[] | [readonly number[]]): Tensor;
    tile(reps: readonly number[]): Tensor;
    triu(diagonal?: number): Tensor;
    tril(diagonal?: number): Tensor;
  }
}

Tensor.prototype.split = function (this: Tensor, s: number | readonly number[], dim?: number) {
  return split(this, s, dim);
};
Tensor.prototype.chunk = function (this: Tensor, chunks: number, dim?: number) {
  return chunk(this, chunks, dim);
};
Tensor.prototype.indexSelect = function (this: Tensor, dim: number, index: Tensor) {
  return indexSelect(this, dim, index);
};
Tensor.prototype.gather = function (this: Tensor, dim: number, index: Tensor) {
  return gather(this, dim, index);
};
Tensor.prototype.scatterAdd = function (this: Tensor, dim: number, index: Tensor, src: Tensor) {
  return scatterAdd(this, dim, index, src);
};
Tensor.prototype.flip = function (this: Tensor, dims: number | readonly number[]) {
  return flip(this, dims);
};
Tensor.prototype.repeat = function (this: Tensor, ...reps: number[] | [readonly number[]]) {
  return repeat(
    this,
    reps.length === 1 && Array.isArray(reps[0]) ? (reps[0] as readonly number[]) : (reps as number[]),
  );
};
Tensor.prototype.tile = function (this: Tensor, reps: readonly number[]) {
  return tile(this, reps);
};
Tensor.prototype.triu = function (this: Tensor, diagonal?: number) {
  return triu(this, diagonal);
};
Tensor.prototype.tril = function (this: Tensor, diagonal?: number) {
  return tril(this, diagonal);
};
