/**
 * The reference backend: every primitive over typed arrays, synchronous, in the calling thread.
 * Half-precision views are decoded to float32, computed, and encoded back (one place: `halfSafe`).
 */
import {
  type AdamAttrs,
  ALL_FUSED_KERNELS,
  type AttentionAttrs,
  type Backend,
  type BackendInfo,
  type BinaryOp,
  type ConvAttrs,
  type ConvTransposeAttrs,
  type CrossEntropyAttrs,
  castScalar,
  contiguousStrides,
  type DataId,
  type DType,
  encodeHalf,
  type FusedKernels,
  f32ToBf16,
  f32ToF16,
  type InterpolateAttrs,
  isContiguous,
  isHalf,
  numel,
  type PoolAttrs,
  philoxFill,
  type RandomDistribution,
  type RandomState,
  type ReduceOp,
  type StorageArray,
  type UnaryOp,
  type View,
} from "@tessera/core";
import { adamKernel } from "./kernels/adam.js";
import { attentionKernel } from "./kernels/attention.js";
import { attentionBackwardKernel } from "./kernels/attention-backward.js";
import { conv2dKernel, convTranspose2dKernel } from "./kernels/conv.js";
import { crossEntropyKernel } from "./kernels/cross-entropy.js";
import { binaryKernel, copyKernel, copyMode, unaryKernel, whereKernel } from "./kernels/elementwise.js";
import { gatherKernel, scatterAddKernel } from "./kernels/gather.js";
import { geluBackwardKernel, geluKernel } from "./kernels/gelu.js";
import { interpolateKernel } from "./kernels/interpolate.js";
import { layerNormBackwardKernel, layerNormKernel } from "./kernels/layer-norm.js";
import { matmulKernel } from "./kernels/matmul.js";
import { adaptiveAvgPool2dKernel, avgPool2dKernel, maxPool2dKernel } from "./kernels/pool.js";
import { reduceKernel } from "./kernels/reduce.js";
import { softmaxBackwardKernel, softmaxKernel } from "./kernels/softmax.js";
import type { FloatArray } from "./kernels/types.js";
import { encodeInto, halfToF32, hasHalf, StorageTable } from "./storage.js";

export const JS_DTYPES: readonly DType[] = ["float32", "float64", "int32", "bool", "float16", "bfloat16"];

export interface JsBackendOptions {
  /** Backend name (default 'js'). */
  name?: string;
  /**
   * Fused kernels to expose, forward and backward; default all. Pass [] for a primitives-only backend,
   * FUSED_KERNELS for fused forwards whose gradients autograd computes with core ops.
   */
  fused?: readonly (keyof FusedKernels)[];
}

export class JsBackend implements Backend {
  readonly name: string;
  readonly dtypes = JS_DTYPES;
  readonly fused: Partial<FusedKernels>;
  readonly storage = new StorageTable();

  constructor(opts: JsBackendOptions = {}) {
    this.name = opts.name ?? "js";
    const all = this.allFused();
    const fused: Partial<FusedKernels> = {};
    for (const k of opts.fused ?? ALL_FUSED_KERNELS) {
      if (!(k in all)) {
        throw new RangeError(
          `JsBackend: unknown fused kernel '${k as string}' (known: ${ALL_FUSED_KERNELS.join(", ")})`,
        );
      }
      (fused as Record<string, unknown>)[k] = all[k];
    }
    this.fused = Object.freeze(fused);
  }

  /** Every fused kernel this backend implements, bound to this instance. */
  private allFused(): FusedKernels {
    return {
      softmax: (x, dim, out) => this.softmaxImpl(x, dim, out, false),
      logSoftmax: (x, dim, out) => this.softmaxImpl(x, dim, out, true),
      layerNorm: (x, w, b, size, eps, out) => this.layerNormImpl(x, w, b, size, eps, out),
      gelu: (x, approximate, out) => this.geluImpl(x, approximate, out),
      attention: (q, k, v, mask, attrs, out, weights) =>
        this.attentionImpl(q, k, v, mask, attrs, out, weights),
      conv2d: (x, w, bias, attrs, out) => this.conv2dImpl(x, w, bias, attrs, out),
      convTranspose2d: (x, w, bias, attrs, out) => this.convTranspose2dImpl(x, w, bias, attrs, out),
      maxPool2d: (x, attrs, out) => this.poolImpl("max", x, attrs, out),
      avgPool2d: (x, attrs, out) => this.poolImpl("avg", x, attrs, out),
      adaptiveAvgPool2d: (x, out) => this.adaptiveAvgPoolImpl(x, out),
      interpolate: (x, attrs, out) => this.interpolateImpl(x, attrs, out),
      crossEntropy: (logits, target, weight, attrs, out) =>
        this.crossEntropyImpl(logits, target, weight, attrs, out),
      adamUpdate: (param, grad, m, v, attrs) => this.adamImpl(param, grad, m, v, attrs),
      softmaxBackward: (y, dy, dim, dx) => this.softmaxBackwardImpl(y, dy, dim, dx, false),
      logSoftmaxBackward: (y, dy, dim, dx) => this.softmaxBackwardImpl(y, dy, dim, dx, true),
      layerNormBackward: (x, w, dy, size, eps, dx, dw, db) =>
        this.layerNormBackwardImpl(x, w, dy, size, eps, dx, dw, db),
      geluBackward: (x, dy, approximate, dx) => this.geluBackwardImpl(x, dy, approximate, dx),
      attentionBackward: (q, k, v, mask, dout, attrs, dq, dk, dv, dmask) =>
        this.attentionBackwardImpl(q, k, v, mask, dout, attrs, dq, dk, dv, dmask),
    };
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
      throw new RangeError(
        `backend-js write: ${values.length} values at offset ${offset} exceed storage of ${dst.length}`,
      );
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
  protected halfSafe(
    views: (View | null)[],
    outs: View[],
    fn: (views: (View | null)[], outs: View[]) => void,
  ): boolean {
    if (!hasHalf(...views, ...outs)) return false;
    const tmpTable = this.storage;
    const temps: DataId[] = [];
    // Outputs are decoded too: scatterAdd accumulates into its output.
    const conv = (v: View | null): View | null => {
      if (!v || !isHalf(v.dtype)) return v;
      const id = tmpTable.allocate("float32", numel(v.shape));
      temps.push(id);
      (tmpTable.get(id) as Float32Array).set(halfToF32(tmpTable, v));
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

  /** Storage of a float32/float64 view (fused kernels see no other dtype after `halfSafe`). */
  protected farr(v: View): FloatArray {
    return this.storage.get(v.id) as FloatArray;
  }
  protected farrOrNull(v: View | null): FloatArray | null {
    return v ? (this.storage.get(v.id) as FloatArray) : null;
  }

  private op(v: View) {
    return { data: this.arr(v), strides: v.strides, offset: v.offset };
  }

  // ---- primitives ----
  copy(src: View, dst: View): void {
    copyKernel(this.op(src), this.op(dst), src.shape, copyMode(src.dtype, dst.dtype), src.dtype, dst.dtype);
  }

  fill(dst: View, value: number): void {
    const a = this.arr(dst);
    const stored = isHalf(dst.dtype)
      ? dst.dtype === "float16"
        ? f32ToF16(value)
        : f32ToBf16(value)
      : castScalar(dst.dtype, value);
    const n = numel(dst.shape);
    if (n === 0) return;
    if (isContiguous(dst.shape, dst.strides)) {
      a.fill(stored, dst.offset, dst.offset + n);
      return;
    }
    const scalar = { data: [stored], strides: dst.shape.map(() => 0), offset: 0 };
    copyKernel(scalar, this.op(dst), dst.shape, "raw", dst.dtype, dst.dtype);
  }

  random(dst: View, dist: RandomDistribution, state: RandomState): void {
    const n = numel(dst.shape);
    const tmp = new Float64Array(n);
    philoxFill(tmp, dist, state);
    const a = this.arr(dst);
    if (isHalf(dst.dtype))
      encodeHalf(
        dst.dtype as "float16" | "bfloat16",
        tmp,
        (a as Uint16Array).subarray(dst.offset, dst.offset + n),
      );
    else if (dst.dtype === "int32" || dst.dtype === "bool")
      for (let i = 0; i < n; i++) a[dst.offset + i] = castScalar(dst.dtype, tmp[i]!);
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

  // ---- fused kernels (exposed through `fused`, filtered by the constructor option) ----

  private softmaxImpl(x: View, dim: number, out: View, log: boolean): void {
    if (this.halfSafe([x], [out], ([cx], [co]) => this.softmaxImpl(cx!, dim, co!, log))) return;
    softmaxKernel(this.farr(x), x.offset, x.shape, dim, this.farr(out), out.offset, log);
  }

  private layerNormImpl(x: View, w: View | null, b: View | null, size: number, eps: number, out: View): void {
    if (
      this.halfSafe([x, w, b], [out], ([cx, cw, cb], [co]) =>
        this.layerNormImpl(cx!, cw!, cb!, size, eps, co!),
      )
    )
      return;
    const n = numel(x.shape);
    const rows = size === 0 ? 0 : n / size;
    layerNormKernel(
      this.farr(x),
      x.offset,
      rows,
      size,
      this.farrOrNull(w),
      w?.offset ?? 0,
      this.farrOrNull(b),
      b?.offset ?? 0,
      eps,
      this.farr(out),
      out.offset,
    );
  }

  private geluImpl(x: View, approximate: "none" | "tanh", out: View): void {
    if (this.halfSafe([x], [out], ([cx], [co]) => this.geluImpl(cx!, approximate, co!))) return;
    geluKernel(this.farr(x), x.offset, numel(x.shape), approximate, this.farr(out), out.offset);
  }

  private attentionImpl(
    q: View,
    k: View,
    v: View,
    mask: View | null,
    attrs: AttentionAttrs,
    out: View,
    weights: View | null,
  ): void {
    const outs = weights ? [out, weights] : [out];
    if (
      this.halfSafe([q, k, v, mask], outs, ([cq, ck, cv, cm], [co, cw]) =>
        this.attentionImpl(cq!, ck!, cv!, cm ?? null, attrs, co!, cw ?? null),
      )
    )
      return;
    const [B, Sq, D] = q.shape as [number, number, number];
    attentionKernel({
      q: this.farr(q),
      qOff: q.offset,
      k: this.farr(k),
      kOff: k.offset,
      v: this.farr(v),
      vOff: v.offset,
      mask: this.farrOrNull(mask),
      maskOff: mask?.offset ?? 0,
      B,
      Sq,
      Sk: k.shape[1]!,
      D,
      Dv: v.shape[2]!,
      scale: attrs.scale,
      causal: attrs.causal,
      out: this.farr(out),
      outOff: out.offset,
      weights: this.farrOrNull(weights),
      weightsOff: weights?.offset ?? 0,
    });
  }

  // ---- backward kernels of fused ops ----

  /**
   * `halfSafe` for kernels with optional outputs: the outputs that are present are converted, and
   * `fn` receives null where an output is absent.
   */
  private halfSafeOpt(
    views: (View | null)[],
    outs: (View | null)[],
    fn: (views: (View | null)[], outs: (View | null)[]) => void,
  ): boolean {
    const present = outs.filter((o): o is View => o !== null);
    return this.halfSafe(views, present, (cv, co) => {
      let i = 0;
      fn(
        cv,
        outs.map((o) => (o ? co[i++]! : null)),
      );
    });
  }

  private softmaxBackwardImpl(y: View, dy: View, dim: number, dx: View, log: boolean): void {
    if (this.halfSafe([y, dy], [dx], ([cy, cd], [co]) => this.softmaxBackwardImpl(cy!, cd!, dim, co!, log)))
      return;
    softmaxBackwardKernel(
      this.farr(y),
      y.offset,
      this.farr(dy),
      dy.offset,
      y.shape,
      dim,
      this.farr(dx),
      dx.offset,
      log,
    );
  }

  private layerNormBackwardImpl(
    x: View,
    w: View | null,
    dy: View,
    size: number,
    eps: number,
    dx: View,
    dw: View | null,
    db: View | null,
  ): void {
    if (
      this.halfSafeOpt([x, w, dy], [dx, dw, db], ([cx, cw, cd], [cdx, cdw, cdb]) =>
        this.layerNormBackwardImpl(cx!, cw ?? null, cd!, size, eps, cdx!, cdw ?? null, cdb ?? null),
      )
    )
      return;
    const n = numel(x.shape);
    layerNormBackwardKernel(
      this.farr(x),
      x.offset,
      size === 0 ? 0 : n / size,
      size,
      this.farrOrNull(w),
      w?.offset ?? 0,
      this.farr(dy),
      dy.offset,
      eps,
      this.farr(dx),
      dx.offset,
      this.farrOrNull(dw),
      dw?.offset ?? 0,
      this.farrOrNull(db),
      db?.offset ?? 0,
    );
  }

  private geluBackwardImpl(x: View, dy: View, approximate: "none" | "tanh", dx: View): void {
    if (this.halfSafe([x, dy], [dx], ([cx, cd], [co]) => this.geluBackwardImpl(cx!, cd!, approximate, co!)))
      return;
    geluBackwardKernel(
      this.farr(x),
      x.offset,
      this.farr(dy),
      dy.offset,
      numel(x.shape),
      approximate,
      this.farr(dx),
      dx.offset,
    );
  }

  private attentionBackwardImpl(
    q: View,
    k: View,
    v: View,
    mask: View | null,
    dout: View,
    attrs: AttentionAttrs,
    dq: View,
    dk: View,
    dv: View,
    dmask: View | null,
  ): void {
    if (
      this.halfSafeOpt([q, k, v, mask, dout], [dq, dk, dv, dmask], ([cq, ck, cv, cm, cd], [oq, ok, ov, om]) =>
        this.attentionBackwardImpl(cq!, ck!, cv!, cm ?? null, cd!, attrs, oq!, ok!, ov!, om ?? null),
      )
    )
      return;
    const [B, Sq, D] = q.shape as [number, number, number];
    attentionBackwardKernel({
      q: this.farr(q),
      qOff: q.offset,
      k: this.farr(k),
      kOff: k.offset,
      v: this.farr(v),
      vOff: v.offset,
      mask: this.farrOrNull(mask),
      maskOff: mask?.offset ?? 0,
      dout: this.farr(dout),
      doutOff: dout.offset,
      B,
      Sq,
      Sk: k.shape[1]!,
      D,
      Dv: v.shape[2]!,
      scale: attrs.scale,
      causal: attrs.causal,
      dq: this.farr(dq),
      dqOff: dq.offset,
      dk: this.farr(dk),
      dkOff: dk.offset,
      dv: this.farr(dv),
      dvOff: dv.offset,
      dmask: this.farrOrNull(dmask),
      dmaskOff: dmask?.offset ?? 0,
    });
  }

  private convArgs(x: View, w: View, bias: View | null, out: View) {
    // Outputs are fresh contiguous views at offset 0 (contract), so kernels index `out` from 0.
    return {
      x: this.farr(x),
      xOff: x.offset,
      xShape: x.shape,
      w: this.farr(w),
      wOff: w.offset,
      wShape: w.shape,
      bias: this.farrOrNull(bias),
      biasOff: bias?.offset ?? 0,
      out: this.farr(out),
      outShape: out.shape,
    };
  }

  private conv2dImpl(x: View, w: View, bias: View | null, attrs: ConvAttrs, out: View): void {
    if (
      this.halfSafe([x, w, bias], [out], ([cx, cw, cb], [co]) =>
        this.conv2dImpl(cx!, cw!, cb ?? null, attrs, co!),
      )
    )
      return;
    conv2dKernel(this.convArgs(x, w, bias, out), attrs);
  }

  private convTranspose2dImpl(
    x: View,
    w: View,
    bias: View | null,
    attrs: ConvTransposeAttrs,
    out: View,
  ): void {
    if (
      this.halfSafe([x, w, bias], [out], ([cx, cw, cb], [co]) =>
        this.convTranspose2dImpl(cx!, cw!, cb ?? null, attrs, co!),
      )
    )
      return;
    convTranspose2dKernel(this.convArgs(x, w, bias, out), attrs);
  }

  private poolImpl(kind: "max" | "avg", x: View, attrs: PoolAttrs, out: View): void {
    if (this.halfSafe([x], [out], ([cx], [co]) => this.poolImpl(kind, cx!, attrs, co!))) return;
    const args = {
      x: this.farr(x),
      xOff: x.offset,
      xShape: x.shape,
      out: this.farr(out),
      outShape: out.shape,
    };
    if (kind === "max") maxPool2dKernel(args, attrs);
    else avgPool2dKernel(args, attrs);
  }

  private adaptiveAvgPoolImpl(x: View, out: View): void {
    if (this.halfSafe([x], [out], ([cx], [co]) => this.adaptiveAvgPoolImpl(cx!, co!))) return;
    adaptiveAvgPool2dKernel({
      x: this.farr(x),
      xOff: x.offset,
      xShape: x.shape,
      out: this.farr(out),
      outShape: out.shape,
    });
  }

  private interpolateImpl(x: View, attrs: InterpolateAttrs, out: View): void {
    if (this.halfSafe([x], [out], ([cx], [co]) => this.interpolateImpl(cx!, attrs, co!))) return;
    interpolateKernel(
      { x: this.farr(x), xOff: x.offset, xShape: x.shape, out: this.farr(out), outShape: out.shape },
      attrs,
    );
  }

  private crossEntropyImpl(
    logits: View,
    target: View,
    weight: View | null,
    attrs: CrossEntropyAttrs,
    out: View,
  ): void {
    if (
      this.halfSafe([logits, weight], [out], ([cl, cw], [co]) =>
        this.crossEntropyImpl(cl!, target, cw ?? null, attrs, co!),
      )
    )
      return;
    const [N, C] = logits.shape as [number, number];
    crossEntropyKernel(
      {
        logits: this.farr(logits),
        logitsOff: logits.offset,
        N,
        C,
        target: this.arr(target),
        targetOff: target.offset,
        weight: this.farrOrNull(weight),
        weightOff: weight?.offset ?? 0,
        out: this.farr(out),
        outOff: out.offset,
      },
      attrs,
    );
  }

  private adamImpl(param: View, grad: View, m: View, v: View, attrs: AdamAttrs): void {
    if (
      this.halfSafe([grad], [param, m, v], ([cg], [cp, cm, cv]) => this.adamImpl(cp!, cg!, cm!, cv!, attrs))
    )
      return;
    adamKernel(
      this.farr(param),
      param.offset,
      this.farr(grad),
      grad.offset,
      this.farr(m),
      m.offset,
      this.farr(v),
      v.offset,
      numel(param.shape),
      attrs,
    );
  }
}

/** A JS backend; `createJsBackend({ name: "js-primitives", fused: [] })` gives a primitives-only one. */
export function createJsBackend(opts: JsBackendOptions = {}): JsBackend {
  return new JsBackend(opts);
}
