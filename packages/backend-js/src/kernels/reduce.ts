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
