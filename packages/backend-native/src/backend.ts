/**
 * The native backend: storage lives in the addon's memory, every kernel is one `execute` call.
 * Arguments were validated by core; this class only encodes them (abi.ts), and the addon checks its
 * own preconditions again, so a bad call is an exception rather than a crash.
 *
 * float16/bfloat16 are stored natively; copy, fill, where and gather move their 16-bit patterns,
 * and every other kernel computes in float32 temporaries (`withF32`), as the Backend contract allows.
 */
import {
  type AdamAttrs,
  ALL_FUSED_KERNELS,
  type AttentionAttrs,
  type Backend,
  type BackendInfo,
  BINARY_OPS,
  type BinaryOp,
  type ConvAttrs,
  type ConvTransposeAttrs,
  type CrossEntropyAttrs,
  contiguousStrides,
  type DataId,
  type DType,
  type FusedKernelName,
  type FusedKernels,
  type InterpolateAttrs,
  isHalf,
  numel,
  type PoolAttrs,
  type RandomDistribution,
  type RandomState,
  REDUCE_OPS,
  type ReduceOp,
  type StorageArray,
  storageArray,
  UNARY_OPS,
  type UnaryOp,
  type View,
} from "@tessera/core";
import {
  type Addon,
  type CudaAddon,
  type DeviceAddon,
  DTYPE_CODES,
  RANDOM_KINDS,
  REDUCTIONS,
} from "./abi.js";
import { cudaStatus, loadAddon } from "./loader.js";

export const NATIVE_DTYPES: readonly DType[] = ["float32", "int32", "bool", "float16", "bfloat16"];

export interface NativeBackendOptions {
  /** The addon's device: 'cpu' (default) or 'cuda'. */
  device?: "cpu" | "cuda";
  /** Backend name (default 'native' on cpu, 'cuda' on cuda). */
  name?: string;
  /** Fused kernels to expose (default: every one the binary has). Pass [] for primitives only. */
  fused?: readonly FusedKernelName[];
  /** Thread-pool size; default TESSERA_NUM_THREADS or the number of cores. */
  threads?: number;
}

/** The handle core keeps for a storage: the addon's numeric id. */
interface NativeHandle {
  readonly id: number;
  readonly dtype: DType;
}

const idOf = (h: DataId): number => (h as unknown as NativeHandle).id;

const UNARY_CODES = new Map<UnaryOp, number>(UNARY_OPS.map((op, i) => [op, i]));
const BINARY_CODES = new Map<BinaryOp, number>(BINARY_OPS.map((op, i) => [op, i]));
const REDUCE_CODES = new Map<ReduceOp, number>(REDUCE_OPS.map((op, i) => [op, i]));
const NO_ATTRS = new Float64Array(0);

/** Encodes views into the addon's view table (abi.ts). */
function viewTable(views: readonly (View | null)[]): Float64Array {
  let len = 1;
  for (const v of views) len += 4 + (v ? 2 * v.shape.length : 0);
  const t = new Float64Array(len);
  t[0] = views.length;
  let p = 1;
  for (const v of views) {
    if (!v) {
      p += 4; // id 0, dtype 0, rank 0, offset 0
      continue;
    }
    const r = v.shape.length;
    t[p] = idOf(v.id);
    t[p + 1] = DTYPE_CODES[v.dtype];
    t[p + 2] = r;
    t[p + 3] = v.offset;
    for (let i = 0; i < r; i++) {
      t[p + 4 + i] = v.shape[i]!;
      t[p + 4 + r + i] = v.strides[i]!;
    }
    p += 4 + 2 * r;
  }
  return t;
}

export class NativeBackend implements Backend {
  readonly name: string;
  readonly dtypes = NATIVE_DTYPES;
  readonly fused: Partial<FusedKernels>;
  readonly device: "cpu" | "cuda";
  private readonly addon: Addon;
  /** The device's functions: the addon itself on cpu, `addon.cuda()` on cuda. */
  private readonly dev: DeviceAddon;
  private readonly cudaDev: CudaAddon | undefined;
  private readonly codes = new Map<string, number>();
  /** Kernels that take float16/bfloat16 views themselves (cuda's halfOps). */
  private readonly halfOps: ReadonlySet<string>;
  /** Kernels the contract offers but this binary does not register (served by composites). */
  readonly missingKernels: readonly string[];

  constructor(opts: NativeBackendOptions = {}) {
    const { addon, status } = loadAddon();
    this.device = opts.device ?? "cpu";
    if (this.device !== "cpu" && this.device !== "cuda") {
      throw new RangeError(`NativeBackend: device must be 'cpu' or 'cuda', got '${String(opts.device)}'`);
    }
    const defaultName = this.device === "cuda" ? "cuda" : "native";
    if (!addon) throw new Error(`backend '${opts.name ?? defaultName}' is unavailable: ${status.reason}`);
    this.addon = addon;
    let ops: string[];
    if (this.device === "cuda") {
      const cs = cudaStatus();
      if (!cs.available) throw new Error(`backend '${opts.name ?? "cuda"}' is unavailable: ${cs.reason}`);
      this.cudaDev = addon.cuda();
      this.dev = this.cudaDev;
      const info = this.cudaDev.info();
      ops = info.ops;
      this.halfOps = new Set(info.halfOps);
    } else {
      this.cudaDev = undefined;
      this.dev = addon;
      ops = addon.info().ops;
      this.halfOps = new Set();
    }
    this.name = opts.name ?? defaultName;
    if (opts.threads !== undefined) this.setNumThreads(opts.threads);
    ops.forEach((op, i) => {
      this.codes.set(op, i);
    });
    const all = this.allFused();
    const missing: string[] = [];
    const fused: Partial<FusedKernels> = {};
    const wanted = opts.fused ?? (Object.keys(all) as FusedKernelName[]);
    for (const k of wanted) {
      if (!(k in all)) {
        throw new RangeError(
          `NativeBackend: unknown fused kernel '${k as string}' (known: ${ALL_FUSED_KERNELS.join(", ")})`,
        );
      }
      if (!this.codes.has(k)) {
        missing.push(k);
        continue;
      }
      (fused as Record<string, unknown>)[k] = all[k];
    }
    for (const k of Object.keys(all)) if (!this.codes.has(k) && !missing.includes(k)) missing.push(k);
    this.missingKernels = missing;
    this.fused = Object.freeze(fused);
  }

  /** Resizes the addon's thread pool (shared by every NativeBackend in this process). */
  setNumThreads(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 1024) {
      throw new RangeError(`setNumThreads: expected an integer in [1, 1024], got ${n}`);
    }
    return this.addon.setNumThreads(n);
  }

  get numThreads(): number {
    return this.addon.info().threads;
  }

  /**
   * Returns the freed blocks the addon keeps for reuse (64 KiB and larger, up to
   * TESSERA_NATIVE_CACHE_MB, default 512) to the system. Live tensors are untouched.
   */
  emptyCache(): void {
    this.dev.emptyCache();
  }

  /** Bytes of freed blocks kept for reuse. */
  get cachedBytes(): number {
    return this.dev.memory().cachedBytes;
  }

  /** cuda: bytes held from the driver (live tensors, scratch and the cache); 0 on cpu. */
  get reservedBytes(): number {
    return this.dev.memory().reservedBytes ?? 0;
  }

  /**
   * cuda: lets float32 matmuls use TF32 tensor cores (10-bit mantissa products, like
   * `torch.backends.cuda.matmul.allow_tf32`). Off by default; TESSERA_CUDA_TF32=1 turns it on.
   */
  setTf32(on: boolean): void {
    if (!this.cudaDev) throw new Error(`setTf32: backend '${this.name}' is not a cuda device`);
    this.cudaDev.setTf32(on);
  }

  /** GFLOP/s of a register-resident FMA loop: the machine's single-precision peak on `threads` threads. */
  fmaPeak(threads = this.numThreads, seconds = 0.25): number {
    return this.addon.fmaPeak(threads, seconds);
  }

  private allFused(): FusedKernels {
    return {
      softmax: (x, dim, out) => this.rowwise("softmax", x, dim, out),
      logSoftmax: (x, dim, out) => this.rowwise("logSoftmax", x, dim, out),
      layerNorm: (x, w, b, size, eps, out) =>
        this.withF32("layerNorm", [x, w, b], [out], ([cx, cw, cb], [co]) =>
          this.exec("layerNorm", [cx!, cw!, cb!, co!], [size, eps]),
        ),
      gelu: (x, approximate, out) =>
        this.withF32("gelu", [x], [out], ([cx], [co]) =>
          this.exec("gelu", [cx!, co!], [approximate === "tanh" ? 1 : 0]),
        ),
      attention: (q, k, v, mask, attrs: AttentionAttrs, out, weights) =>
        this.withF32("attention", [q, k, v, mask], [out, weights], ([cq, ck, cv, cm], [co, cw]) =>
          this.exec("attention", [cq!, ck!, cv!, cm!, co!, cw!], [attrs.scale, attrs.causal ? 1 : 0]),
        ),
      conv2d: (x, w, bias, attrs: ConvAttrs, out) =>
        this.withF32("conv2d", [x, w, bias], [out], ([cx, cw, cb], [co]) =>
          this.exec("conv2d", [cx!, cw!, cb!, co!], convAttrs(attrs)),
        ),
      convTranspose2d: (x, w, bias, attrs: ConvTransposeAttrs, out) =>
        this.withF32("convTranspose2d", [x, w, bias], [out], ([cx, cw, cb], [co]) =>
          this.exec("convTranspose2d", [cx!, cw!, cb!, co!], [...convAttrs(attrs), ...attrs.outputPadding]),
        ),
      maxPool2d: (x, attrs, out) => this.pool("maxPool2d", x, attrs, out),
      avgPool2d: (x, attrs, out) => this.pool("avgPool2d", x, attrs, out),
      adaptiveAvgPool2d: (x, out) =>
        this.withF32("adaptiveAvgPool2d", [x], [out], ([cx], [co]) =>
          this.exec("adaptiveAvgPool2d", [cx!, co!], []),
        ),
      interpolate: (x, attrs: InterpolateAttrs, out) =>
        this.withF32("interpolate", [x], [out], ([cx], [co]) =>
          this.exec(
            "interpolate",
            [cx!, co!],
            [attrs.mode === "bilinear" ? 1 : 0, attrs.alignCorners ? 1 : 0, attrs.scale[0], attrs.scale[1]],
          ),
        ),
      crossEntropy: (logits, target, weight, attrs: CrossEntropyAttrs, out) =>
        this.withF32("crossEntropy", [logits, target, weight], [out], ([cl, ct, cw], [co]) =>
          this.exec(
            "crossEntropy",
            [cl!, ct!, cw!, co!],
            [attrs.ignoreIndex, attrs.labelSmoothing, REDUCTIONS[attrs.reduction]],
          ),
        ),
      adamUpdate: (param, grad, m, v, attrs: AdamAttrs) =>
        this.withF32("adamUpdate", [grad], [param, m, v], ([cg], [cp, cm, cv]) =>
          this.exec(
            "adamUpdate",
            [cp!, cg!, cm!, cv!],
            [
              attrs.lr,
              attrs.beta1,
              attrs.beta2,
              attrs.eps,
              attrs.weightDecay,
              attrs.decoupled ? 1 : 0,
              attrs.step,
            ],
          ),
        ),
      softmaxBackward: (y, dy, dim, dx) => this.rowwiseBackward("softmaxBackward", y, dy, dim, dx),
      logSoftmaxBackward: (y, dy, dim, dx) => this.rowwiseBackward("logSoftmaxBackward", y, dy, dim, dx),
      layerNormBackward: (x, weight, dy, normalizedSize, eps, dx, dweight, dbias) =>
        this.withF32(
          "layerNormBackward",
          [x, weight, dy],
          [dx, dweight, dbias],
          ([cx, cw, cd], [co, cdw, cdb]) =>
            this.exec("layerNormBackward", [cx!, cw!, cd!, co!, cdw!, cdb!], [normalizedSize, eps]),
        ),
      geluBackward: (x, dy, approximate, dx) =>
        this.withF32("geluBackward", [x, dy], [dx], ([cx, cd], [co]) =>
          this.exec("geluBackward", [cx!, cd!, co!], [approximate === "tanh" ? 1 : 0]),
        ),
      attentionBackward: (q, k, v, mask, dout, attrs, dq, dk, dv, dmask) =>
        this.withF32(
          "attentionBackward",
          [q, k, v, mask, dout],
          [dq, dk, dv, dmask],
          ([cq, ck, cv, cm, cd], [oq, ok, ov, om]) =>
            this.exec(
              "attentionBackward",
              [cq!, ck!, cv!, cm!, cd!, oq!, ok!, ov!, om!],
              [attrs.scale, attrs.causal ? 1 : 0],
            ),
        ),
    };
  }

  // ---- storage ----
  allocate(dtype: DType, size: number): DataId {
    return { id: this.dev.allocate(DTYPE_CODES[dtype], size), dtype } as unknown as DataId;
  }
  free(id: DataId): void {
    this.dev.free(idOf(id));
  }
  write(id: DataId, values: StorageArray, offset: number): void {
    this.dev.upload(idOf(id), values, offset);
  }
  readSync(id: DataId, offset: number, size: number): StorageArray {
    return this.wrap(id, this.dev.readSync(idOf(id), offset, size));
  }
  async read(id: DataId, offset: number, size: number): Promise<StorageArray> {
    return this.wrap(id, await this.dev.read(idOf(id), offset, size));
  }
  memory(): { handles: number; bytes: number } {
    const { handles, bytes } = this.dev.memory();
    return { handles, bytes };
  }
  info(): BackendInfo {
    const { status } = loadAddon();
    if (this.cudaDev) {
      const c = this.cudaDev.info();
      const m = this.dev.memory();
      const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
      return {
        description: `native addon ${c.version}, cuda: ${c.deviceName} (compute ${c.computeCapability}, ${c.multiprocessors} SMs, ${gib(c.totalMemory ?? 0)}), binary carries ${c.architectures}`,
        device: "cuda",
        deviceName: c.deviceName,
        computeCapability: c.computeCapability,
        multiprocessors: c.multiprocessors,
        totalMemory: c.totalMemory,
        architectures: c.architectures,
        driverVersion: c.driverVersion,
        runtimeVersion: c.runtimeVersion,
        halfKernels: c.halfOps,
        reservedBytes: m.reservedBytes,
        cachedBytes: m.cachedBytes,
        binary: status.binary,
        missingKernels: this.missingKernels,
      };
    }
    const i = this.addon.info();
    return {
      description: `native addon ${i.version}, cpu: ${i.isa} GEMM, ${i.threads} thread${i.threads === 1 ? "" : "s"} (${i.compiler})`,
      device: "cpu",
      isa: i.isa,
      threads: i.threads,
      cpuFeatures: i.cpuFeatures,
      binary: status.binary,
      sanitized: i.sanitized,
      missingKernels: this.missingKernels,
    };
  }
  async synchronize(): Promise<void> {
    await this.dev.synchronize();
  }

  /** The bytes of a read as the storage dtype's typed array. */
  private wrap(id: DataId, buf: ArrayBuffer): StorageArray {
    const Ctor = storageArray((id as unknown as NativeHandle).dtype, 0).constructor as new (
      b: ArrayBuffer,
    ) => StorageArray;
    return new Ctor(buf);
  }

  // ---- plumbing ----
  private code(kernel: string): number {
    const c = this.codes.get(kernel);
    if (c === undefined) throw new Error(`native: the addon has no kernel '${kernel}'`);
    return c;
  }

  private exec(kernel: string, views: readonly (View | null)[], attrs: readonly number[]): void {
    this.dev.execute(this.code(kernel), viewTable(views), attrs.length ? Float64Array.from(attrs) : NO_ATTRS);
  }

  /**
   * Runs `fn` directly when the device's `kernel` takes half-precision views itself; otherwise with half-precision views replaced by contiguous float32 temporaries (outputs are
   * decoded too, for kernels that update in place) and encodes the outputs back.
   */
  private withF32(
    kernel: string,
    ins: readonly (View | null)[],
    outs: readonly (View | null)[],
    fn: (ins: (View | null)[], outs: (View | null)[]) => void,
  ): void {
    if (
      this.halfOps.has(kernel) ||
      (!ins.some((v) => v && isHalf(v.dtype)) && !outs.some((v) => v && isHalf(v.dtype)))
    ) {
      fn(ins as (View | null)[], outs as (View | null)[]);
      return;
    }
    const temps: number[] = [];
    const conv = (v: View | null): View | null => {
      if (!v || !isHalf(v.dtype)) return v;
      const n = numel(v.shape);
      const id = this.dev.allocate(DTYPE_CODES.float32, n);
      temps.push(id);
      const t: View = {
        id: { id, dtype: "float32" } as unknown as DataId,
        dtype: "float32",
        shape: v.shape,
        strides: contiguousStrides(v.shape),
        offset: 0,
      };
      this.exec("copy", [v, t], []);
      return t;
    };
    try {
      const ci = ins.map(conv);
      const co = outs.map(conv);
      fn(ci, co);
      outs.forEach((o, i) => {
        if (o && isHalf(o.dtype)) this.exec("copy", [co[i]!, o], []);
      });
    } finally {
      for (const t of temps) this.dev.free(t);
    }
  }

  private rowwise(kernel: "softmax" | "logSoftmax", x: View, dim: number, out: View): void {
    this.withF32(kernel, [x], [out], ([cx], [co]) => this.exec(kernel, [cx!, co!], [dim]));
  }

  private rowwiseBackward(
    kernel: "softmaxBackward" | "logSoftmaxBackward",
    y: View,
    dy: View,
    dim: number,
    dx: View,
  ): void {
    this.withF32(kernel, [y, dy], [dx], ([cy, cd], [co]) => this.exec(kernel, [cy!, cd!, co!], [dim]));
  }

  private pool(kernel: "maxPool2d" | "avgPool2d", x: View, a: PoolAttrs, out: View): void {
    this.withF32(kernel, [x], [out], ([cx], [co]) =>
      this.exec(
        kernel,
        [cx!, co!],
        [
          ...a.kernel,
          ...a.stride,
          ...a.padding,
          ...a.dilation,
          a.ceilMode ? 1 : 0,
          a.countIncludePad ? 1 : 0,
        ],
      ),
    );
  }

  // ---- primitives ----
  copy(src: View, dst: View): void {
    this.exec("copy", [src, dst], []);
  }

  fill(dst: View, value: number): void {
    this.exec("fill", [dst], [value]);
  }

  random(dst: View, dist: RandomDistribution, state: RandomState): void {
    const [p1, p2] =
      dist.kind === "uniform"
        ? [dist.low, dist.high]
        : dist.kind === "normal"
          ? [dist.mean, dist.std]
          : dist.kind === "bernoulli"
            ? [dist.p, 0]
            : [dist.low, dist.high];
    const attrs = [RANDOM_KINDS[dist.kind], p1, p2, state.key[0], state.key[1], state.counter];
    if (dst.dtype === "float32" || dst.dtype === "int32" || this.halfOps.has("random")) {
      this.exec("random", [dst], attrs);
      return;
    }
    // bool and half: draw float32 and convert, as core rounds float64 draws to the storage dtype.
    const n = numel(dst.shape);
    const id = this.dev.allocate(DTYPE_CODES.float32, n);
    try {
      const t: View = {
        id: { id, dtype: "float32" } as unknown as DataId,
        dtype: "float32",
        shape: dst.shape,
        strides: contiguousStrides(dst.shape),
        offset: 0,
      };
      this.exec("random", [t], attrs);
      this.exec("copy", [t, dst], []);
    } finally {
      this.dev.free(id);
    }
  }

  unary(op: UnaryOp, x: View, out: View): void {
    this.withF32("unary", [x], [out], ([cx], [co]) => this.exec("unary", [cx!, co!], [UNARY_CODES.get(op)!]));
  }

  binary(op: BinaryOp, a: View, b: View, out: View): void {
    this.withF32("binary", [a, b], [out], ([ca, cb], [co]) =>
      this.exec("binary", [ca!, cb!, co!], [BINARY_CODES.get(op)!]),
    );
  }

  where(cond: View, a: View, b: View, out: View): void {
    this.exec("where", [cond, a, b, out], []);
  }

  reduce(op: ReduceOp, x: View, axes: readonly number[], out: View): void {
    this.withF32("reduce", [x], [out], ([cx], [co]) =>
      this.exec("reduce", [cx!, co!], [REDUCE_CODES.get(op)!, ...axes]),
    );
  }

  matmul(a: View, b: View, transA: boolean, transB: boolean, out: View): void {
    this.withF32("matmul", [a, b], [out], ([ca, cb], [co]) =>
      this.exec("matmul", [ca!, cb!, co!], [transA ? 1 : 0, transB ? 1 : 0]),
    );
  }

  gather(x: View, index: View, dim: number, out: View): void {
    this.exec("gather", [x, index, out], [dim]);
  }

  scatterAdd(dst: View, index: View, src: View, dim: number): void {
    this.withF32("scatterAdd", [index, src], [dst], ([ci, cs], [cd]) =>
      this.exec("scatterAdd", [cd!, ci!, cs!], [dim]),
    );
  }
}

function convAttrs(a: ConvAttrs): number[] {
  return [...a.stride, ...a.padding, ...a.dilation, a.groups];
}
