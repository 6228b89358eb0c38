/**
 * The reference backend: every primitive over typed arrays, synchronous, in the calling thread.
 * Half-precision views are decoded to float32, computed, and encoded back (one place: `halfSafe`).
 */
import {
  type Backend,
  type BackendInfo,
  type BinaryOp,
  type DType,
  type DataId,
  type FusedKernels,
  type RandomDistribution,
  type RandomState,
  type ReduceOp,
  type StorageArray,
  type UnaryOp,
  type View,
  castScalar,
  contiguousStrides,
  encodeHalf,
  f16ToF32,
  bf16ToF32,
  f32ToBf16,
  f32ToF16,
  isHalf,
  numel,
  philoxFill,
} from "@tessera/core";
import { binaryKernel, copyKernel, unaryKernel, whereKernel } from "./kernels/elementwise.js";
import { gatherKernel, scatterAddKernel } from "./kernels/gather.js";
import { matmulKernel } from "./kernels/matmul.js";
import { reduceKernel } from "./kernels/reduce.js";
import { StorageTable, encodeInto, halfToF32, hasHalf } from "./storage.js";

export const JS_DTYPES: readonly DType[] = ["float32", "float64", "int32", "bool", "float16", "bfloat16"];

export interface JsBackendOptions {
  /** Backend name (default 'js'). */
  name?: string;
  /** Fused kernels to expose; default all. Pass [] for a primitives-only backend. */
  fused?: readonly (keyof FusedKernels)[];
}

export class JsBackend implements Backend {
  readonly name: string;
  readonly dtypes = JS_DTYPES;
  readonly fused: Partial<FusedKernels>;
  readonly storage = new StorageTable();

  constructor(opts: JsBackendOptions = {}) {
    this.name = opts.name ?? "js";
    this.fused = {};
  }

  // ---- storage ----
  allocate(dtype: DType, size: number): DataId {
    return this.storage.allocate(dtype, size);
  }
  free(id: DataId): void {
    this.storage.free(id);
  }
  write(id: DataId, values: StorageArray, offset: number): void {
    const dst = this.storage.get(id);
    if (offset + values.length > dst.length) {
      throw new RangeError(`backend-js write: ${values.length} values at offset ${offset} exceed storage of ${dst.length}`);
    }
    dst.set(values as never, offset);
  }
  readSync(id: DataId, offset: number, size: number): StorageArray {
    return this.storage.get(id).slice(offset, offset + size);
  }
  async read(id: DataId, offset: number, size: number): Promise<StorageArray> {
    return this.readSync(id, offset, size);
  }
  memory(): { handles: number; bytes: number } {
    return this.storage.memory();
  }
  info(): BackendInfo {
    return { description: "pure TypeScript reference backend (single thread, typed arrays)" };
  }
  async synchronize(): Promise<void> {}

  // ---- helpers ----
  protected arr(v: View): StorageArray {
    return this.storage.get(v.id);
  }

  /**
   * Runs `fn` with half-precision views replaced by float32 temporaries; the output (last view) is
   * computed in float32 and encoded back. Returns false when no half view is involved.
   */
  protected halfSafe(views: (View | null)[], outs: View[], fn: (views: (View | null)[], outs: View[]) => void): boolean {
    if (!hasHalf(...views, ...outs)) return false;
    const tmpTable = this.storage;
    const temps: DataId[] = [];
    // Outputs are decoded too: scatterAdd accumulates into its output.
    const conv = (v: View | null): View | null => {
      if (!v || !isHalf(v.dtype)) return v;
      const id = tmpTable.allocate("float32", numel(v.shape));
      temps.push(id);
      (tmpTable.get(id) as Float32Array).set(halfToF32(tmpTable, v).data);
      return { id, dtype: "float32", shape: v.shape, strides: contiguousStrides(v.shape), offset: 0 };
    };
    const cv = views.map((v) => conv(v));
    const co = outs.map((v) => conv(v)!);
    try {
      fn(cv, co);
      outs.forEach((o, i) => {
        if (isHalf(o.dtype)) encodeInto(tmpTable, o, tmpTable.get(co[i]!.id) as Float32Array);
      });
    } finally {
      for (const t of temps) tmpTable.free(t);
    }
    return true;
  }

  private op(v: View) {
    return { data: this.arr(v), strides: v.strides, offset: v.offset };
  }

  // ---- primitives ----
  copy(src: View, dst: View): void {
    const sa = this.arr(src);
    const da = this.arr(dst);
    copyKernel({ data: sa, strides: src.strides, offset: src.offset }, { data: da, strides: dst.strides, offset: dst.offset }, src.shape, converter(src.dtype, dst.dtype));
  }

  fill(dst: View, value: number): void {
    const a = this.arr(dst);
    const stored = isHalf(dst.dtype) ? (dst.dtype === "float16" ? f32ToF16(value) : f32ToBf16(value)) : castScalar(dst.dtype, value);
    const n = numel(dst.shape);
    if (n === 0) return;
    copyKernel({ data: [stored], strides: dst.shape.map(() => 0), offset: 0 }, { data: a, strides: dst.strides, offset: dst.offset }, dst.shape, null);
  }

  random(dst: View, dist: RandomDistribution, state: RandomState): void {
    const n = numel(dst.shape);
    const tmp = new Float64Array(n);
    philoxFill(tmp, dist, state);
    const a = this.arr(dst);
    if (isHalf(dst.dtype)) encodeHalf(dst.dtype as "float16" | "bfloat16", tmp, (a as Uint16Array).subarray(dst.offset, dst.offset + n));
    else if (dst.dtype === "int32" || dst.dtype === "bool") for (let i = 0; i < n; i++) a[dst.offset + i] = castScalar(dst.dtype, tmp[i]!);
    else (a as Float32Array | Float64Array).set(tmp, dst.offset);
  }

  unary(op: UnaryOp, x: View, out: View): void {
    if (this.halfSafe([x], [out], ([cx], [co]) => this.unary(op, cx!, co!))) return;
    unaryKernel(op, this.op(x), this.op(out), out.shape);
  }

  binary(op: BinaryOp, a: View, b: View, out: View): void {
    if (this.halfSafe([a, b], [out], ([ca, cb], [co]) => this.binary(op, ca!, cb!, co!))) return;
    binaryKernel(op, this.op(a), this.op(b), this.op(out), out.shape, a.dtype === "int32");
  }

  where(cond: View, a: View, b: View, out: View): void {
    if (this.halfSafe([cond, a, b], [out], ([cc, ca, cb], [co]) => this.where(cc!, ca!, cb!, co!))) return;
    whereKernel(this.op(cond), this.op(a), this.op(b), this.op(out), out.shape);
  }

  reduce(op: ReduceOp, x: View, axes: readonly number[], out: View): void {
    if (this.halfSafe([x], [out], ([cx], [co]) => this.reduce(op, cx!, axes, co!))) return;
    reduceKernel(op, this.arr(x), x.offset, x.shape, axes, this.arr(out), out.offset);
  }

  matmul(a: View, b: View, transA: boolean, transB: boolean, out: View): void {
    if (this.halfSafe([a, b], [out], ([ca, cb], [co]) => this.matmul(ca!, cb!, transA, transB, co!))) return;
    matmulKernel({
      a: this.arr(a),
      aOffset: a.offset,
      aShape: a.shape,
      b: this.arr(b),
      bOffset: b.offset,
      bShape: b.shape,
      transA,
      transB,
      out: this.arr(out),
      outShape: out.shape,
    });
  }

  gather(x: View, index: View, dim: number, out: View): void {
    if (this.halfSafe([x], [out], ([cx], [co]) => this.gather(cx!, index, dim, co!))) return;
    gatherKernel({
      data: this.arr(x),
      dataOffset: x.offset,
      dataShape: x.shape,
      index: this.arr(index),
      indexOffset: index.offset,
      indexShape: index.shape,
      other: this.arr(out),
      otherOffset: out.offset,
      dim,
    });
  }

  scatterAdd(dst: View, index: View, src: View, dim: number): void {
    if (this.halfSafe([src], [dst], ([cs], [co]) => this.scatterAdd(co!, index, cs!, dim))) return;
    scatterAddKernel({
      data: this.arr(dst),
      dataOffset: dst.offset,
      dataShape: dst.shape,
      index: this.arr(index),
      indexOffset: index.offset,
      indexShape: index.shape,
      other: this.arr(src),
      otherOffset: src.offset,
      dim,
    });
  }
}

/** Value conversion for a cross-dtype copy, or null when storage values can be copied as they are. */
function converter(from: DType, to: DType): ((v: number) => number) | null {
  if (from === to) return null;
  const decode = from === "float16" ? f16ToF32 : from === "bfloat16" ? bf16ToF32 : null;
  const encode = to === "float16" ? f32ToF16 : to === "bfloat16" ? f32ToBf16 : null;
  const fromFloat = from !== "int32" && from !== "bool";
  const cast = (v: number) =>
    to === "bool" ? (v !== 0 ? 1 : 0) : to === "int32" && fromFloat ? (Number.isFinite(v) ? Math.trunc(v) : 0) : v;
  if (decode && encode) return (v) => encode(decode(v));
  if (decode) return (v) => cast(decode(v));
  if (encode) return (v) => encode(v);
  if (to === "bool" || (to === "int32" && fromFloat)) return cast;
  return null;
}
