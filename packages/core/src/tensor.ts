/**
 * Tensor: a shape, dtype, strides and offset over reference-counted storage owned by one backend.
 * View methods (reshape of contiguous data, view, transpose, permute, expand, slice/narrow, select,
 * squeeze/unsqueeze, flatten, unfold) share storage and cost no copy. Ops are attached as methods in
 * `ops/methods.ts`; their free-function forms are exported from the package root.
 */
import type { Backend, View } from "./backend.js";
import { type DataArray, type DType, decodeHalf, isHalf, type StorageArray } from "./dtype.js";
import {
  allocateStorage,
  type Disposable,
  findBackend,
  getBackend,
  releaseStorage,
  retrackTensor,
  type Storage,
  trackTensor,
  untrackTensor,
} from "./engine.js";
import {
  contiguousStrides,
  fmtShape,
  inferShape,
  isContiguous,
  normalizeDim,
  numel,
  type Shape,
} from "./shape.js";
import { notifyDisposed, traceMethod } from "./trace.js";

/** Nested JS arrays as returned by `array()`. */
export type NestedArray = number | boolean | NestedArray[];

let nextTensorId = 0;

export class Tensor implements Disposable {
  readonly id = nextTensorId++;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
  readonly dtype: DType;
  readonly storage: Storage;
  kept = false;
  scope: unknown = undefined;
  private disposed = false;

  /** Internal: wraps storage the caller already holds one reference to. Use creation functions instead. */
  constructor(storage: Storage, shape: Shape, strides?: readonly number[], offset = 0) {
    this.storage = storage;
    this.shape = Object.freeze([...shape]);
    this.strides = Object.freeze(strides ? [...strides] : contiguousStrides(shape));
    this.offset = offset;
    this.dtype = storage.dtype;
    trackTensor(this);
  }

  /** A new tensor backed by fresh, uninitialised storage on `backend` (default: the active backend). */
  static empty(shape: Shape, dtype: DType = "float32", backend: Backend = getBackend()): Tensor {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new RangeError(`empty: invalid shape ${fmtShape(shape)}`);
    }
    return new Tensor(allocateStorage(backend, dtype, numel(shape)), shape);
  }

  get rank(): number {
    return this.shape.length;
  }
  get ndim(): number {
    return this.shape.length;
  }
  get size(): number {
    return numel(this.shape);
  }
  numel(): number {
    return numel(this.shape);
  }
  get backend(): Backend {
    return this.storage.backend;
  }
  get backendName(): string {
    return this.storage.backend.name;
  }
  get isDisposed(): boolean {
    return this.disposed;
  }
  get isContiguous(): boolean {
    return isContiguous(this.shape, this.strides);
  }

  /** The kernel-facing description of this tensor. */
  get kernelView(): View {
    this.assertAlive("kernelView");
    return {
      id: this.storage.id,
      dtype: this.dtype,
      shape: this.shape,
      strides: this.strides,
      offset: this.offset,
    };
  }

  assertAlive(op: string): void {
    if (this.disposed)
      throw new Error(`${op}: tensor ${fmtShape(this.shape)} (${this.dtype}) was already disposed`);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    notifyDisposed(this);
    untrackTensor(this);
    releaseStorage(this.storage);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Exempts this tensor from every enclosing `tidy`/`scope`; the caller disposes it. */
  keep(): this {
    this.kept = true;
    return this;
  }

  /**
   * Rebinds this tensor to `src`'s data (storage, shape, strides, offset and dtype), like torch's
   * `t.data = src`: whoever holds this tensor object (a module property, an optimizer, autograd's
   * record of `requiresGrad`) sees the new data. `src` stays valid and shares the storage.
   * `Module.to(backend)` moves parameters this way.
   *
   * @example
   * const w = zeros([2]).keep();
   * w.setData(ones([3], { backend: "js" })); // w is now [1, 1, 1]
   */
  setData(src: Tensor): this {
    this.assertAlive("setData");
    src.assertAlive("setData");
    if (src === this) return this;
    const self = this as unknown as {
      storage: Storage;
      shape: readonly number[];
      strides: readonly number[];
      offset: number;
      dtype: DType;
    };
    const old = this.storage;
    src.storage.refs++;
    if (src.storage.backend !== old.backend) retrackTensor(old.backend, src.storage.backend);
    self.storage = src.storage;
    self.shape = src.shape;
    self.strides = src.strides;
    self.offset = src.offset;
    self.dtype = src.dtype;
    releaseStorage(old);
    return this;
  }

  // ---- views ----------------------------------------------------------------------------------

  /** A view sharing this tensor's storage. */
  asStrided(shape: Shape, strides: readonly number[], offset = this.offset): Tensor {
    this.assertAlive("asStrided");
    this.storage.refs++;
    return new Tensor(this.storage, shape, strides, offset);
  }

  /** Strides for `shape` that view this tensor's memory, or null when a copy is needed (PyTorch's rule). */
  private viewStrides(shape: readonly number[]): number[] | null {
    if (this.isContiguous || this.size === 0) return contiguousStrides(shape);
    // Walk old dims from the back in chunks that are contiguous among themselves; each chunk must be
    // covered exactly by a run of new dims, which then get strides inside that chunk.
    const out = new Array<number>(shape.length);
    const old = this.shape;
    let viewD = shape.length - 1;
    let chunkBase = this.strides[old.length - 1] ?? 1;
    let tensorNumel = 1;
    let viewNumel = 1;
    for (let d = old.length - 1; d >= 0; d--) {
      tensorNumel *= old[d]!;
      if (d === 0 || (old[d - 1] !== 1 && this.strides[d - 1] !== tensorNumel * chunkBase)) {
        while (viewD >= 0 && (viewNumel < tensorNumel || shape[viewD] === 1)) {
          out[viewD] = viewNumel * chunkBase;
          viewNumel *= shape[viewD]!;
          viewD--;
        }
        if (viewNumel !== tensorNumel) return null;
        if (d > 0) {
          chunkBase = this.strides[d - 1]!;
          tensorNumel = 1;
          viewNumel = 1;
        }
      }
    }
    return viewD === -1 ? out : null;
  }

  /** A view with a new shape; throws if the memory layout cannot be viewed that way (use reshape). */
  view(...shape: number[] | [readonly number[]]): Tensor {
    const req = shapeArg(shape);
    const target = inferShape(req, this.size, "view", this.shape);
    const strides = this.viewStrides(target);
    if (!strides) {
      throw new RangeError(
        `view: shape ${fmtShape(target)} is not compatible with the strides of input ${fmtShape(this.shape)} (strides ${fmtShape(this.strides)}); use reshape()`,
      );
    }
    return this.asStrided(target, strides);
  }

  /** Reshape: a view when the layout allows, otherwise a contiguous copy. */
  reshape(...shape: number[] | [readonly number[]]): Tensor {
    const req = shapeArg(shape);
    const target = inferShape(req, this.size, "reshape", this.shape);
    const strides = this.viewStrides(target);
    if (strides) return this.asStrided(target, strides);
    const c = this.contiguous();
    const r = c.asStrided(target, contiguousStrides(target), c.offset);
    c.dispose();
    return r;
  }

  transpose(dim0: number, dim1: number): Tensor {
    const d0 = normalizeDim(dim0, this.rank, "transpose", "dim0");
    const d1 = normalizeDim(dim1, this.rank, "transpose", "dim1");
    const perm = this.shape.map((_, i) => i);
    perm[d0] = d1;
    perm[d1] = d0;
    return this.permute(perm);
  }

  /** Swaps the last two dims (matrix transpose of a batch). */
  get mT(): Tensor {
    if (this.rank < 2) throw new RangeError(`mT: needs a tensor of rank >= 2, got ${fmtShape(this.shape)}`);
    return this.transpose(-2, -1);
  }

  permute(...dims: number[] | [readonly number[]]): Tensor {
    const d = shapeArg(dims);
    if (d.length !== this.rank) {
      throw new RangeError(
        `permute: dims ${fmtShape(d)} must list all ${this.rank} dims of ${fmtShape(this.shape)}`,
      );
    }
    const norm = d.map((x) => normalizeDim(x, this.rank, "permute"));
    if (new Set(norm).size !== norm.length)
      throw new RangeError(`permute: dims ${fmtShape(d)} repeat a dimension`);
    if (this.rank === 0) return this.asStrided([], []);
    return this.asStrided(
      norm.map((i) => this.shape[i]!),
      norm.map((i) => this.strides[i]!),
    );
  }

  /** Broadcasts size-1 dims (and new leading dims) to `shape`; -1 keeps a dim. Shares memory. */
  expand(...shape: number[] | [readonly number[]]): Tensor {
    const target = [...shapeArg(shape)];
    if (target.length < this.rank) {
      throw new RangeError(
        `expand: target ${fmtShape(target)} has fewer dims than input ${fmtShape(this.shape)}`,
      );
    }
    const lead = target.length - this.rank;
    const strides = new Array<number>(target.length).fill(0);
    for (let i = 0; i < target.length; i++) {
      if (i < lead) {
        if (target[i] === -1) throw new RangeError(`expand: -1 is not allowed for new leading dim ${i}`);
        continue;
      }
      const src = this.shape[i - lead]!;
      if (target[i] === -1) target[i] = src;
      if (src === target[i]) strides[i] = this.strides[i - lead]!;
      else if (src !== 1) {
        throw new RangeError(
          `expand: the expanded size ${target[i]} must match the existing size ${src} at dim ${i} (input ${fmtShape(this.shape)}, target ${fmtShape(target)})`,
        );
      }
    }
    return this.asStrided(target, strides);
  }

  expandAs(other: Tensor): Tensor {
    return this.expand(other.shape);
  }

  /** Elements [start, end) with `step` along `dim` (negative indices count from the end; clamped like Python). */
  slice(dim: number, start = 0, end?: number, step = 1): Tensor {
    const d = normalizeDim(dim, this.rank, "slice");
    if (!Number.isInteger(step) || step <= 0)
      throw new RangeError(`slice: step must be a positive integer, got ${step}`);
    const n = this.shape[d]!;
    const clamp = (i: number) => Math.min(Math.max(i < 0 ? i + n : i, 0), n);
    const s = clamp(start);
    const e = Math.max(clamp(end ?? n), s);
    const len = Math.ceil((e - s) / step);
    const shape = [...this.shape];
    shape[d] = len;
    const strides = [...this.strides];
    strides[d] = this.strides[d]! * step;
    return this.asStrided(shape, strides, this.offset + (len > 0 ? s * this.strides[d]! : 0));
  }

  /** `length` elements from `start` along `dim`, which must fit (torch.narrow). */
  narrow(dim: number, start: number, length: number): Tensor {
    const d = normalizeDim(dim, this.rank, "narrow");
    const n = this.shape[d]!;
    const s = start < 0 ? start + n : start;
    if (s < 0 || length < 0 || s + length > n) {
      throw new RangeError(
        `narrow: start ${start} + length ${length} exceeds dim ${dim} of size ${n} (input ${fmtShape(this.shape)})`,
      );
    }
    return this.slice(d, s, s + length);
  }

  /** Index `index` along `dim`, removing that dim (x[:, i] is select(1, i)). */
  select(dim: number, index: number): Tensor {
    const d = normalizeDim(dim, this.rank, "select");
    const n = this.shape[d]!;
    if (!Number.isInteger(index) || index < -n || index >= n) {
      throw new RangeError(
        `select: index ${index} is out of range for dim ${dim} of size ${n} (input ${fmtShape(this.shape)})`,
      );
    }
    const i = index < 0 ? index + n : index;
    const shape = this.shape.filter((_, k) => k !== d);
    const strides = this.strides.filter((_, k) => k !== d);
    return this.asStrided(shape, strides, this.offset + i * this.strides[d]!);
  }

  squeeze(dim?: number | readonly number[]): Tensor {
    let drop: Set<number>;
    if (dim === undefined) drop = new Set(this.shape.flatMap((s, i) => (s === 1 ? [i] : [])));
    else {
      const dims = (typeof dim === "number" ? [dim] : dim).map((d) => normalizeDim(d, this.rank, "squeeze"));
      drop = new Set(dims.filter((d) => this.shape[d] === 1));
    }
    return this.asStrided(
      this.shape.filter((_, i) => !drop.has(i)),
      this.strides.filter((_, i) => !drop.has(i)),
    );
  }

  unsqueeze(dim: number): Tensor {
    const d = normalizeDim(dim, this.rank + 1, "unsqueeze");
    const shape = [...this.shape];
    const strides = [...this.strides];
    shape.splice(d, 0, 1);
    strides.splice(d, 0, d < this.rank ? this.strides[d]! * this.shape[d]! : 1);
    return this.asStrided(shape, strides);
  }

  /** Merges dims startDim..endDim into one (a view when the layout allows). */
  flatten(startDim = 0, endDim = -1): Tensor {
    if (this.rank === 0) return this.reshape([1]);
    const s = normalizeDim(startDim, this.rank, "flatten", "startDim");
    const e = normalizeDim(endDim, this.rank, "flatten", "endDim");
    if (s > e) throw new RangeError(`flatten: startDim ${startDim} comes after endDim ${endDim}`);
    const shape = [...this.shape.slice(0, s), numel(this.shape.slice(s, e + 1)), ...this.shape.slice(e + 1)];
    return this.reshape(shape);
  }

  /** Sliding windows of `size` with `step` along `dim`, appended as a new last dim (torch.Tensor.unfold). A view. */
  unfold(dim: number, size: number, step: number): Tensor {
    const d = normalizeDim(dim, this.rank, "unfold");
    const n = this.rank === 0 ? 1 : this.shape[d]!;
    if (!Number.isInteger(size) || size < 0 || size > n) {
      throw new RangeError(
        `unfold: size ${size} exceeds dim ${dim} of size ${n} (input ${fmtShape(this.shape)})`,
      );
    }
    if (!Number.isInteger(step) || step <= 0)
      throw new RangeError(`unfold: step must be a positive integer, got ${step}`);
    const count = Math.floor((n - size) / step) + 1;
    const shape = [...this.shape, size];
    const strides = [...this.strides, this.strides[d] ?? 1];
    shape[d] = count;
    strides[d] = (this.strides[d] ?? 1) * step;
    return this.asStrided(shape, strides);
  }

  /** This tensor if already contiguous (a new reference), else a contiguous copy. */
  contiguous(): Tensor {
    this.assertAlive("contiguous");
    if (this.isContiguous) return this.asStrided(this.shape, this.strides);
    const out = Tensor.empty(this.shape, this.dtype, this.backend);
    if (out.size > 0) this.backend.copy(this.kernelView, out.kernelView);
    return out;
  }

  /** A contiguous copy with its own storage. */
  clone(): Tensor {
    this.assertAlive("clone");
    const out = Tensor.empty(this.shape, this.dtype, this.backend);
    if (out.size > 0) this.backend.copy(this.kernelView, out.kernelView);
    return out;
  }

  /** Copies to another dtype (a new reference when it already has it). */
  cast(dtype: DType): Tensor {
    this.assertAlive("cast");
    if (dtype === this.dtype) return this.asStrided(this.shape, this.strides);
    const out = Tensor.empty(this.shape, dtype, this.backend);
    if (out.size > 0) this.backend.copy(this.kernelView, out.kernelView);
    return out;
  }

  // ---- reads ----------------------------------------------------------------------------------

  private contiguousRange(): { base: Tensor; owned: boolean } {
    if (this.isContiguous) return { base: this, owned: false };
    return { base: this.contiguous(), owned: true };
  }

  private decode(raw: StorageArray): DataArray {
    if (isHalf(this.dtype)) return decodeHalf(this.dtype as "float16" | "bfloat16", raw as Uint16Array);
    return raw as DataArray;
  }

  /** Elements in row-major order; float16/bfloat16 come back decoded as Float32Array. */
  async data(): Promise<DataArray> {
    this.assertAlive("data");
    const { base, owned } = this.contiguousRange();
    try {
      return this.decode(await base.backend.read(base.storage.id, base.offset, base.size));
    } finally {
      if (owned) base.dispose();
    }
  }

  /** Synchronous `data()`, where the backend offers synchronous reads. */
  dataSync(): DataArray {
    this.assertAlive("dataSync");
    const read = this.backend.readSync;
    if (!read)
      throw new Error(
        `dataSync: backend '${this.backendName}' has no synchronous reads; use 'await tensor.data()'`,
      );
    const { base, owned } = this.contiguousRange();
    try {
      return this.decode(read.call(base.backend, base.storage.id, base.offset, base.size));
    } finally {
      if (owned) base.dispose();
    }
  }

  async array(): Promise<NestedArray> {
    return nest(await this.data(), this.shape, this.dtype === "bool");
  }

  arraySync(): NestedArray {
    return nest(this.dataSync(), this.shape, this.dtype === "bool");
  }

  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1)
      throw new RangeError(`item: tensor ${fmtShape(this.shape)} has ${this.size} elements, not 1`);
    return (await this.data())[0]!;
  }

  itemSync(): number {
    if (this.size !== 1)
      throw new RangeError(`item: tensor ${fmtShape(this.shape)} has ${this.size} elements, not 1`);
    return this.dataSync()[0]!;
  }

  /** Copies to another backend (a new reference when it is already there). */
  to(backendName: string): Tensor {
    this.assertAlive("to");
    const target = findBackend(backendName);
    if (target === this.backend) return this.asStrided(this.shape, this.strides);
    const read = this.backend.readSync;
    if (!read) {
      throw new Error(
        `to: backend '${this.backendName}' has no synchronous reads; use 'await tensor.toAsync("${backendName}")'`,
      );
    }
    const { base, owned } = this.contiguousRange();
    try {
      const out = Tensor.empty(this.shape, this.dtype, target);
      if (out.size > 0)
        target.write(out.storage.id, read.call(base.backend, base.storage.id, base.offset, base.size), 0);
      return out;
    } finally {
      if (owned) base.dispose();
    }
  }

  async toAsync(backendName: string): Promise<Tensor> {
    this.assertAlive("to");
    const target = findBackend(backendName);
    if (target === this.backend) return this.asStrided(this.shape, this.strides);
    const { base, owned } = this.contiguousRange();
    try {
      const raw = await base.backend.read(base.storage.id, base.offset, base.size);
      const out = Tensor.empty(this.shape, this.dtype, target);
      if (out.size > 0) target.write(out.storage.id, raw, 0);
      return out;
    } finally {
      if (owned) base.dispose();
    }
  }
}

// Views and copies are ops too: autograd sees them (transpose, narrow, flatten, expandAs and mT are
// built on these, so they need no entry of their own).
for (const name of [
  "asStrided",
  "view",
  "reshape",
  "permute",
  "expand",
  "slice",
  "select",
  "squeeze",
  "unsqueeze",
  "unfold",
  "contiguous",
  "clone",
  "cast",
  "to",
]) {
  traceMethod(Tensor.prototype, name);
}

/** Accepts `f(2, 3)` and `f([2, 3])`. */
export function shapeArg(args: number[] | [readonly number[]]): readonly number[] {
  return args.length === 1 && Array.isArray(args[0]) ? (args[0] as readonly number[]) : (args as number[]);
}

function nest(data: ArrayLike<number>, shape: readonly number[], asBool: boolean): NestedArray {
  const conv = (v: number) => (asBool ? v !== 0 : v);
  if (shape.length === 0) return conv(data[0]!);
  let pos = 0;
  const build = (d: number): NestedArray[] => {
    const out: NestedArray[] = new Array(shape[d]!);
    for (let i = 0; i < shape[d]!; i++) out[i] = d === shape.length - 1 ? conv(data[pos++]!) : build(d + 1);
    return out;
  };
  return build(0);
}
