/** Reductions over a set of axes of a contiguous input. Sums accumulate in float64. */
import type { ReduceOp } from "@tessera/core";
import { contiguousStrides } from "@tessera/core";
import { forEachRow, planRows } from "./iterate.js";

type Arr = { [i: number]: number; length: number };

export function reduceKernel(
  op: ReduceOp,
  x: Arr,
  xOffset: number,
  shape: readonly number[],
  axes: readonly number[],
  out: Arr,
  outOffset: number,
): void {
  const outShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const outSize = outShape.reduce((a, b) => a * b, 1);
  if (op === "argmax" || op === "argmin") {
    argReduce(op === "argmax", x, xOffset, shape, axes[0]!, out, outOffset);
    return;
  }
  if (outSize === 0) return;
  if (op === "prod" && x instanceof Int32Array) {
    intProd(x, xOffset, shape, outShape, out, outOffset);
    return;
  }
  // Reduced axes forming one consecutive block (a single axis, all trailing or all leading axes) are
  // outer × len × inner: no row planning, and the inner loop reads memory in order.
  let consecutive = true;
  for (let i = 1; i < axes.length; i++) if (axes[i] !== axes[i - 1]! + 1) consecutive = false;
  if (consecutive && axes.length > 0) {
    let outer = 1;
    for (let i = 0; i < axes[0]!; i++) outer *= shape[i]!;
    let len = 1;
    for (const a of axes) len *= shape[a]!;
    let inner = 1;
    for (let i = axes[axes.length - 1]! + 1; i < shape.length; i++) inner *= shape[i]!;
    reduceBlock(op, x, xOffset, outer, len, inner, out, outOffset);
    return;
  }
  const acc = new Float64Array(outSize);
  const init =
    op === "sum" ? 0 : op === "prod" ? 1 : op === "max" ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  acc.fill(init);
  const accStrides = contiguousStrides(outShape).map((s, i) => (axes.includes(i) ? 0 : s));
  const plan = planRows(shape, [contiguousStrides(shape), accStrides]);
  const n = plan.inner;
  const [xs, as] = plan.innerStrides as [number, number];
  forEachRow(plan, [xOffset, 0], (offs) => {
    let px = offs[0]!;
    let pa = offs[1]!;
    switch (op) {
      case "sum":
        if (as === 0) {
          let s = 0;
          for (let i = 0; i < n; i++, px += xs) s += x[px]!;
          acc[pa]! += s;
        } else for (let i = 0; i < n; i++, px += xs, pa += as) acc[pa]! += x[px]!;
        break;
      case "prod":
        for (let i = 0; i < n; i++, px += xs, pa += as) acc[pa]! *= x[px]!;
        break;
      case "max":
        for (let i = 0; i < n; i++, px += xs, pa += as) {
          const v = x[px]!;
          if (v > acc[pa]! || Number.isNaN(v)) acc[pa] = v;
        }
        break;
      case "min":
        for (let i = 0; i < n; i++, px += xs, pa += as) {
          const v = x[px]!;
          if (v < acc[pa]! || Number.isNaN(v)) acc[pa] = v;
        }
        break;
    }
  });
  for (let i = 0; i < outSize; i++) out[outOffset + i] = acc[i]!;
}

/** Index of the first max (min) along one axis; a NaN counts as the max (min), like PyTorch. */
function argReduce(
  isMax: boolean,
  x: Arr,
  xOffset: number,
  shape: readonly number[],
  axis: number,
  out: Arr,
  outOffset: number,
) {
  let outer = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i]!;
  let inner = 1;
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i]!;
  const len = shape[axis] ?? 1;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      let base = xOffset + o * len * inner + j;
      let best = x[base]!;
      let bestIdx = 0;
      for (let k = 1; k < len; k++) {
        base += inner;
        const v = x[base]!;
        if (Number.isNaN(best)) break;
        if (isMax ? v > best || Number.isNaN(v) : v < best || Number.isNaN(v)) {
          best = v;
          bestIdx = k;
        }
      }
      out[outOffset + o * inner + j] = bestIdx;
    }
  }
}

/**
 * int32 products wrap modulo 2³² like int32 multiplication (Math.imul): a float64 accumulator loses the
 * low bits once the product passes 2⁵³, and then the stored int32 is wrong.
 */
function intProd(
  x: Int32Array,
  xOffset: number,
  shape: readonly number[],
  outShape: readonly number[],
  out: Arr,
  outOffset: number,
): void {
  const outStrides = contiguousStrides(outShape).map((s, i) => (outShape[i] === shape[i] ? s : 0));
  const acc = new Int32Array(outShape.reduce((a, b) => a * b, 1)).fill(1);
  const n = shape.reduce((a, b) => a * b, 1);
  const idx = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    let p = 0;
    for (let k = 0; k < shape.length; k++) p += idx[k]! * outStrides[k]!;
    acc[p] = Math.imul(acc[p]!, x[xOffset + i]!);
    for (let k = shape.length - 1; k >= 0; k--) {
      if (++idx[k]! < shape[k]!) break;
      idx[k] = 0;
    }
  }
  for (let i = 0; i < acc.length; i++) out[outOffset + i] = acc[i]!;
}

function initial(op: ReduceOp): number {
  return op === "sum"
    ? 0
    : op === "prod"
      ? 1
      : op === "max"
        ? Number.NEGATIVE_INFINITY
        : Number.POSITIVE_INFINITY;
}

/** Reduces the middle dim of [outer, len, inner]; sums and products accumulate in float64. */
function reduceBlock(
  op: ReduceOp,
  x: Arr,
  xOff: number,
  outer: number,
  len: number,
  inner: number,
  out: Arr,
  outOff: number,
): void {
  if (inner === 1) {
    for (let o = 0; o < outer; o++) {
      let p = xOff + o * len;
      const end = p + len;
      let r = initial(op);
      switch (op) {
        case "sum":
          for (; p < end; p++) r += x[p]!;
          break;
        case "prod":
          for (; p < end; p++) r *= x[p]!;
          break;
        case "max":
          for (; p < end; p++) {
            const v = x[p]!;
            if (v > r || Number.isNaN(v)) r = v;
          }
          break;
        case "min":
          for (; p < end; p++) {
            const v = x[p]!;
            if (v < r || Number.isNaN(v)) r = v;
          }
          break;
      }
      out[outOff + o] = r;
    }
    return;
  }
  const acc = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    acc.fill(initial(op));
    for (let k = 0; k < len; k++) {
      const p = xOff + (o * len + k) * inner;
      switch (op) {
        case "sum":
          for (let j = 0; j < inner; j++) acc[j]! += x[p + j]!;
          break;
        case "prod":
          for (let j = 0; j < inner; j++) acc[j]! *= x[p + j]!;
          break;
        case "max":
          for (let j = 0; j < inner; j++) {
            const v = x[p + j]!;
            if (v > acc[j]! || Number.isNaN(v)) acc[j] = v;
          }
          break;
        case "min":
          for (let j = 0; j < inner; j++) {
            const v = x[p + j]!;
            if (v < acc[j]! || Number.isNaN(v)) acc[j] = v;
          }
          break;
      }
    }
    const ob = outOff + o * inner;
    for (let j = 0; j < inner; j++) out[ob + j] = acc[j]!;
  }
}
