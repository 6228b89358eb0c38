/** Array types the kernels index. Fused kernels run on float32 or float64 storage only. */
export type FloatArray = Float32Array | Float64Array;
export type NumArray = { [i: number]: number; length: number };

/** Splits `shape` around `dim` into outer × len × inner (row-major). */
export function splitAround(
  shape: readonly number[],
  dim: number,
): { outer: number; len: number; inner: number } {
  let outer = 1;
  for (let i = 0; i < dim; i++) outer *= shape[i]!;
  let inner = 1;
  for (let i = dim + 1; i < shape.length; i++) inner *= shape[i]!;
  return { outer, len: shape[dim] ?? 1, inner };
}
