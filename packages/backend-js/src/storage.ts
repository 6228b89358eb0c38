/** Storage for the JS backend: typed arrays keyed by handle, plus helpers to read views as float32. */
import {
  bytesPerElement,
  type DataId,
  type DType,
  decodeHalf,
  encodeHalf,
  isContiguous,
  isHalf,
  numel,
  type StorageArray,
  storageArray,
  type View,
} from "@tessera/core";

export class StorageTable {
  private readonly arrays = new Map<number, StorageArray>();
  private nextId = 1;
  private bytes = 0;

  allocate(dtype: DType, size: number): DataId {
    const id = this.nextId++;
    this.arrays.set(id, storageArray(dtype, size));
    this.bytes += size * bytesPerElement(dtype);
    return { id } as unknown as DataId;
  }

  free(handle: DataId): void {
    const id = (handle as unknown as { id: number }).id;
    const a = this.arrays.get(id);
    if (!a) return;
    this.bytes -= a.byteLength;
    this.arrays.delete(id);
  }

  get(handle: DataId): StorageArray {
    const a = this.arrays.get((handle as unknown as { id: number }).id);
    if (!a) throw new Error("backend-js: storage handle is not allocated (already freed?)");
    return a;
  }

  memory(): { handles: number; bytes: number } {
    return { handles: this.arrays.size, bytes: this.bytes };
  }
}

/** The values of a half-precision view, decoded to a contiguous Float32Array. */
export function halfToF32(table: StorageTable, v: View): Float32Array {
  const src = table.get(v.id) as Uint16Array;
  const n = numel(v.shape);
  const out = new Float32Array(n);
  if (isContiguous(v.shape, v.strides)) {
    decodeHalf(v.dtype as "float16" | "bfloat16", src.subarray(v.offset, v.offset + n), out);
  } else {
    const tmp = new Uint16Array(n);
    stridedGather(src, v.shape, v.strides, v.offset, tmp);
    decodeHalf(v.dtype as "float16" | "bfloat16", tmp, out);
  }
  return out;
}

export function encodeInto(table: StorageTable, out: View, values: Float32Array): void {
  const dst = table.get(out.id) as Uint16Array;
  encodeHalf(
    out.dtype as "float16" | "bfloat16",
    values,
    dst.subarray(out.offset, out.offset + values.length),
  );
}

export function hasHalf(...views: (View | null)[]): boolean {
  for (const v of views) if (v && isHalf(v.dtype)) return true;
  return false;
}

/** Copies a strided view into a contiguous array, row by row. */
export function stridedGather(
  src: ArrayLike<number>,
  shape: readonly number[],
  strides: readonly number[],
  offset: number,
  dst: { [i: number]: number },
): void {
  const rank = shape.length;
  const n = numel(shape);
  if (n === 0) return;
  if (rank === 0) {
    dst[0] = src[offset]!;
    return;
  }
  const inner = shape[rank - 1]!;
  const innerStride = strides[rank - 1]!;
  const idx = new Array<number>(rank).fill(0);
  let base = offset;
  for (let o = 0; o < n; o += inner) {
    for (let i = 0, p = base; i < inner; i++, p += innerStride) dst[o + i] = src[p]!;
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      base += strides[d]!;
      if (idx[d]! < shape[d]!) break;
      base -= strides[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}
