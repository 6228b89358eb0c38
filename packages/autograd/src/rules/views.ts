/**
 * Views and copies: their gradients put the output gradient back in the input's layout.
 * Reshapes reshape back, permutes permute back, expand sums, slices pad with zeros; arbitrary
 * strided views (asStrided, unfold) scatter-add through the index map of the view.
 */
import { pad, scatterAdd, type Tensor, tensor, zeros } from "@tessera/core";
import { type BackwardContext, registerGradRule, type TensorInfo } from "../registry.js";

const reshapeBack = {
  backward: (g: readonly Tensor[], ctx: { inputs: readonly ({ shape: readonly number[] } | null)[] }) => [
    g[0]!.reshape(ctx.inputs[0]!.shape),
  ],
};
for (const name of ["view", "reshape", "squeeze", "unsqueeze"]) registerGradRule(name, reshapeBack);

// Same memory, same layout (contiguous of a contiguous tensor), or a copy: the gradient passes through.
// cast's gradient is cast back to the input dtype by the engine.
const identity = { backward: (g: readonly Tensor[]) => [g[0]!] };
for (const name of ["contiguous", "clone", "cast"]) registerGradRule(name, identity);

registerGradRule<[Tensor, string]>("to", {
  backward: (g, ctx) => [g[0]!.to(ctx.inputs[0]!.backend)],
});

registerGradRule<[Tensor, ...(number | readonly number[])[]]>("permute", {
  backward: (g, ctx) => {
    const rank = ctx.inputs[0]!.shape.length;
    const raw = ctx.args.slice(1);
    const dims = (raw.length === 1 && Array.isArray(raw[0]) ? raw[0] : raw) as number[];
    const inv = new Array<number>(rank);
    dims.forEach((d, i) => {
      inv[d < 0 ? d + rank : d] = i;
    });
    return [rank === 0 ? g[0]! : g[0]!.permute(inv)];
  },
});

// The engine sums a gradient down to the input's shape, which is exactly expand's backward.
registerGradRule("expand", identity);

registerGradRule<[Tensor, number, number?, number?, number?]>("slice", {
  backward: (g, ctx) => {
    const [, dim, start = 0, end, step = 1] = ctx.args;
    const shape = ctx.inputs[0]!.shape;
    const d = dim < 0 ? dim + shape.length : dim;
    const n = shape[d]!;
    const clamp = (i: number) => Math.min(Math.max(i < 0 ? i + n : i, 0), n);
    const s = clamp(start);
    const e = Math.max(clamp(end ?? n), s);
    if (step === 1) return [padAlong(g[0]!, d, s, n - e)];
    // Stepped slice: the view's layout over a contiguous copy of the input (the input itself may
    // be an expanded view whose elements share memory).
    const base = contiguousLayout(ctx.inputs[0]!);
    const strides = [...base.strides];
    strides[d] = base.strides[d]! * step;
    const out = { ...base, shape: g[0]!.shape, strides, offset: s * base.strides[d]! };
    return [viewBackward(g[0]!, base, out)];
  },
});

registerGradRule<[Tensor, number, number]>("select", {
  backward: (g, ctx) => {
    const [, dim, index] = ctx.args;
    const shape = ctx.inputs[0]!.shape;
    const d = dim < 0 ? dim + shape.length : dim;
    const n = shape[d]!;
    const i = index < 0 ? index + n : index;
    const u = g[0]!.unsqueeze(d);
    return [padAlong(u, d, i, n - i - 1)];
  },
});

const sameLayout = (a: TensorInfo, b: TensorInfo) =>
  a.offset === b.offset &&
  a.shape.length === b.shape.length &&
  a.shape.every((d, i) => d === b.shape[i] && a.strides[i] === b.strides[i]);
// as_strided addresses storage, so its gradient does too (as in PyTorch).
registerGradRule("asStrided", {
  backward: (g: readonly Tensor[], ctx: BackwardContext) =>
    sameLayout(ctx.inputs[0]!, ctx.outputs[0]!)
      ? [g[0]!]
      : [viewBackward(g[0]!, ctx.inputs[0]!, ctx.outputs[0]!)],
});

// unfold's windows are laid over a contiguous copy of the input, so an input that is itself an
// expanded view still gets one gradient per element.
registerGradRule<[Tensor, number, number, number]>("unfold", {
  backward: (g, ctx) => {
    const [, dim, , step] = ctx.args;
    const base = contiguousLayout(ctx.inputs[0]!);
    const rank = base.shape.length;
    const d = rank === 0 ? 0 : dim < 0 ? dim + rank : dim;
    const inner = base.strides[d] ?? 1;
    const strides = [...base.strides, inner];
    if (rank > 0) strides[d] = inner * step;
    return [viewBackward(g[0]!, base, { ...base, shape: g[0]!.shape, strides, offset: 0 })];
  },
});

/** `t`'s shape with row-major strides and no offset. */
function contiguousLayout(t: TensorInfo): TensorInfo {
  const strides = new Array<number>(t.shape.length);
  let acc = 1;
  for (let i = t.shape.length - 1; i >= 0; i--) {
    strides[i] = acc;
    acc *= t.shape[i]!;
  }
  return { ...t, strides, offset: 0 };
}

/** Zero-pads `g` along dim `d` with `before` and `after` elements. */
function padAlong(g: Tensor, d: number, before: number, after: number): Tensor {
  const pads = new Array<number>(2 * (g.rank - d)).fill(0);
  pads[pads.length - 2] = before;
  pads[pads.length - 1] = after;
  return pad(g, pads);
}

/**
 * The gradient of the strided view `out` of `base`, from `g` (the gradient of the view): each view
 * element adds into the base element at the same storage position (overlapping windows add up).
 */
export function viewBackward(g: Tensor, base: TensorInfo, out: TensorInfo): Tensor {
  const n = base.shape.reduce((a, b) => a * b, 1);
  // Storage position → base element. A contiguous base (stepped slices and unfold use one) maps by
  // subtraction; any other layout (asStrided of a strided tensor) needs the table.
  const index = positions(out);
  if (isRowMajor(base)) {
    for (let e = 0; e < index.length; e++) {
      const i = index[e]! - base.offset;
      if (i < 0 || i >= n) throw new Error(OUTSIDE);
      index[e] = i;
    }
  } else {
    const basePos = positions(base);
    const baseIndex = new Map<number, number>();
    for (let e = 0; e < basePos.length; e++) baseIndex.set(basePos[e]!, e);
    for (let e = 0; e < index.length; e++) {
      const i = baseIndex.get(index[e]!);
      if (i === undefined) throw new Error(OUTSIDE);
      index[e] = i;
    }
  }
  const be = { dtype: g.dtype, backend: g.backendName } as const;
  const flat = scatterAdd(
    zeros([n], be),
    0,
    tensor(index, { dtype: "int32", backend: g.backendName }),
    g.reshape([-1]),
  );
  return flat.reshape(base.shape);
}

const OUTSIDE = "autograd: a strided view reaches memory outside its base tensor";

function isRowMajor(t: TensorInfo): boolean {
  let acc = 1;
  for (let k = t.shape.length - 1; k >= 0; k--) {
    if (t.shape[k] !== 1 && t.strides[k] !== acc) return false;
    acc *= t.shape[k]!;
  }
  return true;
}

/** The storage position of every element of a layout, in row-major order. */
function positions(t: TensorInfo): Int32Array {
  const rank = t.shape.length;
  const n = t.shape.reduce((a, b) => a * b, 1);
  const out = new Int32Array(n);
  const idx = new Array<number>(rank).fill(0);
  let p = t.offset;
  for (let e = 0; e < n; e++) {
    out[e] = p;
    for (let k = rank - 1; k >= 0; k--) {
      p += t.strides[k]!;
      if (++idx[k]! < t.shape[k]!) break;
      p -= t.strides[k]! * t.shape[k]!;
      idx[k] = 0;
    }
  }
  return out;
}
