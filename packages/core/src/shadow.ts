/**
 * `shadow(backend, reference)`: a Backend that runs every call on both backends and compares each
 * kernel's outputs, so a wrong model output can be traced to the first kernel that diverges.
 * Slow by design (every kernel reads back both outputs); a debugging tool, not a production path.
 */
import type {
  Backend,
  BackendInfo,
  DataId,
  FusedKernelName,
  FusedKernels,
  RandomDistribution,
  RandomState,
  View,
} from "./backend.js";
import { ALL_FUSED_KERNELS } from "./backend.js";
import type { DType, StorageArray } from "./dtype.js";
import { decodeHalf, isHalf } from "./dtype.js";
import { fmtShape } from "./shape.js";

export interface Divergence {
  /** Kernel name (primitive or fused), with the op for unary/binary/reduce. */
  kernel: string;
  /** Index of the call since the shadow was created. */
  call: number;
  shape: readonly number[];
  dtype: DType;
  /** First differing element (index into the output's storage) and both values. */
  index: number;
  actual: number;
  expected: number;
  maxAbsError: number;
}

export interface ShadowOptions {
  /** Elementwise tolerance |a − e| ≤ atol + rtol·|e| (default 1e-5, 1e-4). NaN must match NaN. */
  atol?: number;
  rtol?: number;
  /**
   * Called on each divergence, after which the main backend's output is overwritten with the reference's
   * so later kernels are compared on equal inputs. Default: throw an Error describing the divergence.
   */
  onDivergence?: (d: Divergence) => void;
  /** Name of the shadow backend (default `shadow(<backend>)`). */
  name?: string;
}

interface Pair {
  main: DataId;
  ref: DataId;
  dtype: DType;
  size: number;
}

export class ShadowBackend implements Backend {
  readonly name: string;
  readonly dtypes: readonly DType[];
  readonly fused: Partial<FusedKernels> = {};
  readonly divergences: Divergence[] = [];
  private calls = 0;
  private readonly atol: number;
  private readonly rtol: number;

  constructor(
    readonly main: Backend,
    readonly reference: Backend,
    private readonly opts: ShadowOptions = {},
  ) {
    if (!main.readSync || !reference.readSync) {
      throw new Error(`shadow: both backends need synchronous reads ('${main.name}', '${reference.name}')`);
    }
    this.name = opts.name ?? `shadow(${main.name})`;
    this.dtypes = main.dtypes.filter((d) => reference.dtypes.includes(d));
    this.atol = opts.atol ?? 1e-5;
    this.rtol = opts.rtol ?? 1e-4;
    // The shadow offers a fused kernel where the main backend has it, so exactly its code paths run.
    for (const k of ALL_FUSED_KERNELS) {
      if (typeof main.fused[k] === "function") (this.fused as Record<string, unknown>)[k] = this.fusedCall(k);
    }
  }

  private pair(id: DataId): Pair {
    return id as unknown as Pair;
  }
  private mainView(v: View): View;
  private mainView(v: View | null): View | null;
  private mainView(v: View | null): View | null {
    return v && { ...v, id: this.pair(v.id).main };
  }
  private refView(v: View): View;
  private refView(v: View | null): View | null;
  private refView(v: View | null): View | null {
    return v && { ...v, id: this.pair(v.id).ref };
  }

  allocate(dtype: DType, size: number): DataId {
    const p: Pair = {
      main: this.main.allocate(dtype, size),
      ref: this.reference.allocate(dtype, size),
      dtype,
      size,
    };
    return p as unknown as DataId;
  }
  free(id: DataId): void {
    const p = this.pair(id);
    this.main.free(p.main);
    this.reference.free(p.ref);
  }
  write(id: DataId, values: StorageArray, offset: number): void {
    const p = this.pair(id);
    this.main.write(p.main, values, offset);
    this.reference.write(p.ref, values, offset);
  }
  read(id: DataId, offset: number, size: number): Promise<StorageArray> {
    return this.main.read(this.pair(id).main, offset, size);
  }
  readSync(id: DataId, offset: number, size: number): StorageArray {
    return this.main.readSync!(this.pair(id).main, offset, size);
  }
  memory(): { handles: number; bytes: number } {
    return this.main.memory();
  }
  info(): BackendInfo {
    return { description: `${this.main.name} shadowed by ${this.reference.name}` };
  }
  async synchronize(): Promise<void> {
    await this.main.synchronize();
  }

  /**
   * Compares the outputs of one call; views are the shadow's. The whole destination storage is compared,
   * because copy/fill may write a strided view into a larger buffer (`index` is then a storage index).
   */
  private check(kernel: string, outs: View[]): void {
    const call = this.calls++;
    for (const o of outs) {
      const p = this.pair(o.id);
      const a = readAll(this.main, p.main, p.dtype, p.size);
      const e = readAll(this.reference, p.ref, p.dtype, p.size);
      let first = -1;
      let maxAbs = 0;
      for (let i = 0; i < e.length; i++) {
        const av = a[i]!;
        const ev = e[i]!;
        const bad = Number.isNaN(ev)
          ? !Number.isNaN(av)
          : !Number.isFinite(ev)
            ? av !== ev
            : !(Math.abs(av - ev) <= this.atol + this.rtol * Math.abs(ev));
        if (bad && first < 0) first = i;
        if (Number.isFinite(av) && Number.isFinite(ev)) maxAbs = Math.max(maxAbs, Math.abs(av - ev));
      }
      if (first >= 0) {
        const d: Divergence = {
          kernel,
          call,
          shape: o.shape,
          dtype: o.dtype,
          index: first,
          actual: a[first]!,
          expected: e[first]!,
          maxAbsError: maxAbs,
        };
        this.divergences.push(d);
        if (this.opts.onDivergence) {
          // Resynchronise so the next kernels are judged on equal inputs: each report is about one kernel.
          this.main.write(p.main, this.reference.readSync!(p.ref, 0, p.size), 0);
          this.opts.onDivergence(d);
        } else {
          throw new Error(
            `shadow: ${kernel} (call #${call}) diverges from '${this.reference.name}' on output ${fmtShape(o.shape)} ${o.dtype}: ` +
              `element ${first} is ${d.actual}, expected ${d.expected} (max abs error ${maxAbs})`,
          );
        }
      }
    }
  }

  private both(kernel: string, outs: View[], run: (b: Backend, map: (v: View) => View) => void): void {
    run(this.main, (v) => this.mainView(v));
    run(this.reference, (v) => this.refView(v));
    this.check(kernel, outs);
  }

  copy(src: View, dst: View): void {
    this.both("copy", [dst], (b, m) => b.copy(m(src), m(dst)));
  }
  fill(dst: View, value: number): void {
    this.both("fill", [dst], (b, m) => b.fill(m(dst), value));
  }
  random(dst: View, dist: RandomDistribution, state: RandomState): void {
    this.both(`random:${dist.kind}`, [dst], (b, m) => b.random(m(dst), dist, state));
  }
  unary(op: Parameters<Backend["unary"]>[0], x: View, out: View): void {
    this.both(`unary:${op}`, [out], (b, m) => b.unary(op, m(x), m(out)));
  }
  binary(op: Parameters<Backend["binary"]>[0], a: View, c: View, out: View): void {
    this.both(`binary:${op}`, [out], (b, m) => b.binary(op, m(a), m(c), m(out)));
  }
  where(cond: View, a: View, c: View, out: View): void {
    this.both("where", [out], (b, m) => b.where(m(cond), m(a), m(c), m(out)));
  }
  reduce(op: Parameters<Backend["reduce"]>[0], x: View, axes: readonly number[], out: View): void {
    this.both(`reduce:${op}`, [out], (b, m) => b.reduce(op, m(x), axes, m(out)));
  }
  matmul(a: View, c: View, transA: boolean, transB: boolean, out: View): void {
    this.both("matmul", [out], (b, m) => b.matmul(m(a), m(c), transA, transB, m(out)));
  }
  gather(x: View, index: View, dim: number, out: View): void {
    this.both("gather", [out], (b, m) => b.gather(m(x), m(index), dim, m(out)));
  }
  scatterAdd(dst: View, index: View, src: View, dim: number): void {
    this.both("scatterAdd", [dst], (b, m) => b.scatterAdd(m(dst), m(index), m(src), dim));
  }

  /**
   * A fused kernel runs fused on the main backend and, on the reference, fused too if it has it.
   * Outputs are the View arguments that fused kernels write: the last ones by contract (see FusedKernels).
   */
  private fusedCall(k: FusedKernelName) {
    return (...args: unknown[]) => {
      const views = args.filter(isView) as View[];
      const outs = k === "adamUpdate" ? [views[0]!, views[2]!, views[3]!] : outputsOf(k, args);
      const mapArgs = (map: (v: View) => View) => args.map((a) => (isView(a) ? map(a) : a));
      const refKernel = this.reference.fused[k] as ((...a: unknown[]) => void) | undefined;
      if (!refKernel)
        throw new Error(`shadow: reference '${this.reference.name}' has no fused ${k} to compare with`);
      (this.main.fused[k] as (...a: unknown[]) => void).apply(
        this.main.fused,
        mapArgs((v) => this.mainView(v)),
      );
      refKernel.apply(
        this.reference.fused,
        mapArgs((v) => this.refView(v)),
      );
      this.check(k, outs);
    };
  }
}

function isView(a: unknown): a is View {
  return typeof a === "object" && a !== null && "id" in a && "shape" in a && "strides" in a;
}

/**
 * Output views of a fused call: the trailing view args (`out`; attention's optional `weights`; the
 * gradients of the backward kernels, optional ones null when not wanted).
 */
function outputsOf(k: FusedKernelName, args: unknown[]): View[] {
  if (k === "attention") return [args[5], args[6]].filter(isView) as View[];
  if (k === "layerNormBackward") return args.slice(5).filter(isView) as View[];
  if (k === "attentionBackward") return args.slice(6).filter(isView) as View[];
  const last = args[args.length - 1];
  return isView(last) ? [last] : [];
}

function readAll(b: Backend, id: DataId, dtype: DType, size: number): ArrayLike<number> {
  const raw = b.readSync!(id, 0, size);
  return isHalf(dtype) ? decodeHalf(dtype as "float16" | "bfloat16", raw as Uint16Array) : raw;
}

/** Wraps `backend` so every kernel also runs on `reference` and the first divergence is reported. */
export function shadow(backend: Backend, reference: Backend, opts?: ShadowOptions): ShadowBackend {
  return new ShadowBackend(backend, reference, opts);
}
