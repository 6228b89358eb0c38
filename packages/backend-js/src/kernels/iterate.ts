/**
 * Row iteration over views that share a shape but not strides. Dims that are laid out back-to-back in
 * every view are merged first, so a contiguous or simply broadcast operand is walked in long rows; the
 * kernel's inner loop runs per row, never a closure per element.
 */

export interface RowPlan {
  /** Outer dims (all but the last merged dim). */
  shape: number[];
  /** Per view: strides of the outer dims. */
  strides: number[][];
  /** Length of each row and per-view stride inside it. */
  inner: number;
  innerStrides: number[];
}

export function planRows(shape: readonly number[], strides: readonly (readonly number[])[]): RowPlan {
  const dims: number[] = [];
  const st: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && strides.every((s, k) => st[k]![last] === s[d]! * shape[d]!)) {
      dims[last]! *= shape[d]!;
      for (let k = 0; k < strides.length; k++) st[k]![last] = strides[k]![d]!;
    } else {
      dims.push(shape[d]!);
      for (let k = 0; k < strides.length; k++) st[k]!.push(strides[k]![d]!);
    }
  }
  // A single element: stride 1 (any non-zero stride) so `for (; p !== end; p += stride)` loops run once.
  if (dims.length === 0)
    return { shape: [], strides: strides.map(() => []), inner: 1, innerStrides: strides.map(() => 1) };
  const inner = dims.pop()!;
  return {
    shape: dims,
    strides: st.map((s) => s.slice(0, -1)),
    inner,
    innerStrides: st.map((s) => s[s.length - 1]!),
  };
}

/** Calls `row(offsets)` once per row; `offsets` (reused) holds each view's start offset for that row. */
export function forEachRow(
  plan: RowPlan,
  offsets: readonly number[],
  row: (offs: Int32Array | Float64Array) => void,
): void {
  const k = offsets.length;
  const offs = new Float64Array(offsets);
  const rank = plan.shape.length;
  let rows = 1;
  for (const d of plan.shape) rows *= d;
  if (rows === 0) return;
  const idx = new Int32Array(rank);
  for (let r = 0; r < rows; r++) {
    row(offs);
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      for (let j = 0; j < k; j++) offs[j]! += plan.strides[j]![d]!;
      if (idx[d]! < plan.shape[d]!) break;
      for (let j = 0; j < k; j++) offs[j]! -= plan.strides[j]![d]! * plan.shape[d]!;
      idx[d] = 0;
    }
  }
}
