/**
 * Module: the base of every layer and model. A module owns named parameters, buffers and child
 * modules; the registered names (not the TypeScript property names) form the state-dict keys, so a
 * module built like its PyTorch counterpart has PyTorch's keys (`blocks.0.attn.qkv.weight`).
 */
import "@tessera/autograd";
import { assign, fmtShape, isFloating, type Tensor } from "@tessera/core";

/** An ordered map from state-dict key to tensor, like PyTorch's `OrderedDict`. */
export type StateDict = Map<string, Tensor>;

export interface RegisterBufferOptions {
  /** false: the buffer is not part of `stateDict()` (PyTorch's `persistent=False`). Default true. */
  persistent?: boolean;
}

export interface LoadStateDictOptions {
  /** Missing or unexpected keys are an error (default true); false reports them instead. */
  strict?: boolean;
}

/** What `loadStateDict` could not match. Shape mismatches always throw. */
export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

export interface NumParametersOptions {
  /** Count only parameters that require gradients. */
  trainableOnly?: boolean;
}

const NAME = /^[^.]+$/;

/**
 * A float as Python's `repr` writes it (`1e-05`, `0.1`, `2.0`), so `toString()` reads like PyTorch's
 * module printout.
 *
 * @example
 * formatFloat(1e-5); // "1e-05"
 */
export function formatFloat(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "nan" : x > 0 ? "inf" : "-inf";
  const ax = Math.abs(x);
  if (ax !== 0 && (ax < 1e-4 || ax >= 1e16)) {
    const [mant, exp] = x.toExponential().split("e") as [string, string];
    const sign = exp.startsWith("-") ? "-" : "+";
    const digits = exp.replace(/^[+-]/, "").padStart(2, "0");
    return `${mant}e${sign}${digits}`;
  }
  return Number.isInteger(x) ? x.toFixed(1) : String(x);
}

function checkName(owner: Module, kind: string, name: string): void {
  if (typeof name !== "string" || !NAME.test(name)) {
    throw new TypeError(
      `${owner.typeName}.register${kind}: name must be a non-empty string without '.', got ${JSON.stringify(name)}`,
    );
  }
}

/**
 * The base class of layers and models (PyTorch's `nn.Module`). Subclasses register their tensors
 * and children in the constructor and implement `forward`.
 *
 * @example
 * import { Module, Linear } from "@tessera/nn";
 * import { relu, type Tensor } from "@tessera/core";
 *
 * class Mlp extends Module {
 *   readonly fc1 = this.registerModule("fc1", new Linear(4, 8));
 *   readonly fc2 = this.registerModule("fc2", new Linear(8, 2));
 *   override forward(x: Tensor): Tensor {
 *     return this.fc2.forward(relu(this.fc1.forward(x)));
 *   }
 * }
 * const net = new Mlp();
 * [...net.stateDict().keys()]; // ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
 */
export class Module {
  /** Training mode (dropout active, batch norm uses batch statistics); set with `train()`/`eval()`. */
  training = true;
  private readonly params = new Map<string, Tensor | null>();
  private readonly bufs = new Map<string, Tensor | null>();
  private readonly nonPersistent = new Set<string>();
  private readonly mods = new Map<string, Module | null>();

  /** The class name used in messages and `toString()`. */
  get typeName(): string {
    return this.constructor.name;
  }

  /** Runs the module. Containers without a computation of their own (ModuleList, ModuleDict) throw. */
  forward(..._args: unknown[]): unknown {
    throw new Error(`${this.typeName}: forward is not implemented`);
  }

  // ---- registration -------------------------------------------------------------------------

  /**
   * Registers `t` as parameter `name` (or declares an absent one with `null`, like a disabled bias)
   * and returns it. The tensor must be floating point; it is set to require gradients and kept out of
   * `tidy` scopes. The module owns it from now on: `dispose()` frees it.
   */
  registerParameter<T extends Tensor | null>(name: string, t: T): T {
    checkName(this, "Parameter", name);
    this.checkFree(name, "parameter");
    if (t !== null) {
      if (!isFloating(t.dtype)) {
        throw new TypeError(
          `${this.typeName}.registerParameter: '${name}' must be floating point, got ${t.dtype} ${fmtShape(t.shape)}`,
        );
      }
      t.keep();
      if (t.isLeaf) t.requiresGrad = true;
      else
        throw new Error(`${this.typeName}.registerParameter: '${name}' must be a leaf tensor (detach() it)`);
    }
    this.params.set(name, t);
    return t;
  }

  /**
   * Registers `t` as buffer `name`: state that is not trained (running statistics, fixed positional
   * encodings). Persistent buffers are part of `stateDict()`.
   */
  registerBuffer<T extends Tensor | null>(name: string, t: T, opts: RegisterBufferOptions = {}): T {
    checkName(this, "Buffer", name);
    this.checkFree(name, "buffer");
    t?.keep();
    this.bufs.set(name, t);
    if (opts.persistent === false) this.nonPersistent.add(name);
    return t;
  }

  /** Registers `m` as child `name` (its keys are prefixed `name.`) and returns it. */
  registerModule<M extends Module | null>(name: string, m: M): M {
    checkName(this, "Module", name);
    this.checkFree(name, "module");
    if (m !== null && !(m instanceof Module)) {
      throw new TypeError(`${this.typeName}.registerModule: '${name}' must be a Module`);
    }
    this.mods.set(name, m);
    return m;
  }

  private checkFree(name: string, kind: string): void {
    const taken = this.params.has(name)
      ? "parameter"
      : this.bufs.has(name)
        ? "buffer"
        : this.mods.has(name)
          ? "module"
          : null;
    if (taken) {
      throw new Error(`${this.typeName}: cannot register ${kind} '${name}': a ${taken} of that name exists`);
    }
  }

  /**
   * Replaces a registered parameter or buffer with another tensor (same name, same kind), disposing
   * the old one. Subclasses that re-create a tensor (`resetParameters` with a new shape) use it;
   * everything else should prefer in-place updates.
   */
  protected replaceTensor(name: string, t: Tensor): Tensor {
    const map = this.params.has(name) ? this.params : this.bufs.has(name) ? this.bufs : null;
    if (!map) throw new Error(`${this.typeName}: no parameter or buffer named '${name}'`);
    const old = map.get(name);
    map.delete(name);
    if (map === this.params) this.registerParameter(name, t);
    else this.bufs.set(name, t.keep());
    if (old && old !== t) old.dispose();
    return t;
  }

  // ---- traversal ----------------------------------------------------------------------------

  /** `[name, child]` for each direct child, in registration order. */
  *namedChildren(): Generator<[string, Module]> {
    for (const [name, m] of this.mods) if (m) yield [name, m];
  }

  *children(): Generator<Module> {
    for (const [, m] of this.namedChildren()) yield m;
  }

  /** This module (key `''`) and every descendant, pre-order, each once. */
  *namedModules(prefix = "", seen: Set<Module> = new Set()): Generator<[string, Module]> {
    if (seen.has(this)) return;
    seen.add(this);
    yield [prefix, this];
    for (const [name, m] of this.namedChildren()) {
      yield* m.namedModules(prefix ? `${prefix}.${name}` : name, seen);
    }
  }

  *modules(): Generator<Module> {
    for (const [, m] of this.namedModules()) yield m;
  }

  /** `[key, parameter]` for this module and its descendants; a parameter shared by two modules appears once. */
  *namedParameters(opts: { recurse?: boolean } = {}): Generator<[string, Tensor]> {
    const seen = new Set<Tensor>();
    const mods = opts.recurse === false ? [["", this] as [string, Module]] : this.namedModules();
    for (const [prefix, m] of mods) {
      for (const [name, p] of m.params) {
        if (!p || seen.has(p)) continue;
        seen.add(p);
        yield [prefix ? `${prefix}.${name}` : name, p];
      }
    }
  }

  *parameters(opts: { recurse?: boolean } = {}): Generator<Tensor> {
    for (const [, p] of this.namedParameters(opts)) yield p;
  }

  /** `[key, buffer]` for this module and its descendants (persistent or not). */
  *namedBuffers(opts: { recurse?: boolean } = {}): Generator<[string, Tensor]> {
    const seen = new Set<Tensor>();
    const mods = opts.recurse === false ? [["", this] as [string, Module]] : this.namedModules();
    for (const [prefix, m] of mods) {
      for (const [name, b] of m.bufs) {
        if (!b || seen.has(b)) continue;
        seen.add(b);
        yield [prefix ? `${prefix}.${name}` : name, b];
      }
    }
  }

  *buffers(opts: { recurse?: boolean } = {}): Generator<Tensor> {
    for (const [, b] of this.namedBuffers(opts)) yield b;
  }

  /** The parameter registered under `name` on this module (null when declared absent). */
  getParameter(name: string): Tensor | null {
    if (!this.params.has(name)) throw new Error(`${this.typeName}: no parameter named '${name}'`);
    return this.params.get(name) ?? null;
  }

  /** The buffer registered under `name` on this module (null when declared absent). */
  getBuffer(name: string): Tensor | null {
    if (!this.bufs.has(name)) throw new Error(`${this.typeName}: no buffer named '${name}'`);
    return this.bufs.get(name) ?? null;
  }

  /** The descendant at a dotted path (`"layers.0.self_attn"`); `""` is this module. */
  getSubmodule(path: string): Module {
    let m: Module = this;
    if (path === "") return m;
    for (const part of path.split(".")) {
      const next = m.mods.get(part);
      if (!next) throw new Error(`${this.typeName}.getSubmodule: '${path}' has no module '${part}'`);
      m = next;
    }
    return m;
  }

  /** Calls `fn` on every descendant (children first) and then on this module; returns this. */
  apply(fn: (m: Module) => void): this {
    for (const m of this.children()) m.apply(fn);
    fn(this);
    return this;
  }

  // ---- modes and devices --------------------------------------------------------------------

  /** Sets training mode on this module and every descendant; returns this. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  /** `train(false)`: dropout off, batch norm on running statistics. */
  eval(): this {
    return this.train(false);
  }

  /**
   * Moves every parameter, buffer and gradient to another backend, in place: the tensor objects
   * stay the same (like PyTorch, which rebinds `param.data`), so properties and optimizers that hold
   * them keep working.
   */
  to(backend: string): this {
    const move = (t: Tensor) => {
      if (t.backendName === backend) return;
      const moved = t.to(backend);
      t.setData(moved);
      moved.dispose();
    };
    for (const p of this.parameters()) {
      move(p);
      const g = p.grad;
      if (g && g.backendName !== backend) p.grad = g.to(backend);
    }
    for (const b of this.buffers()) move(b);
    return this;
  }

  /** Clears every parameter's gradient (PyTorch's default `set_to_none=True`). */
  zeroGrad(): void {
    for (const p of this.parameters()) if (p.grad) p.grad = null;
  }

  /** Sets `requiresGrad` on every parameter (false freezes the module); returns this. */
  requiresGrad_(requiresGrad = true): this {
    for (const p of this.parameters()) p.requiresGrad = requiresGrad;
    return this;
  }

  /** The number of parameter elements (shared parameters counted once). */
  numParameters(opts: NumParametersOptions = {}): number {
    let n = 0;
    for (const p of this.parameters()) if (!opts.trainableOnly || p.requiresGrad) n += p.size;
    return n;
  }

  /** Frees every parameter, buffer and gradient of this module and its descendants. */
  dispose(): void {
    for (const p of this.parameters()) {
      p.grad = null;
      p.dispose();
    }
    for (const b of this.buffers()) b.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  // ---- state dicts --------------------------------------------------------------------------

  /**
   * Every parameter and persistent buffer by key, module by module as PyTorch orders them (a
   * module's parameters, then its buffers, then its children). The values are the module's own
   * tensors, not copies: read or save them, do not dispose them.
   */
  stateDict(): StateDict {
    const out: StateDict = new Map();
    for (const [prefix, m] of this.namedModules()) {
      const key = (name: string) => (prefix ? `${prefix}.${name}` : name);
      for (const [name, p] of m.params) if (p) out.set(key(name), p);
      for (const [name, b] of m.bufs) if (b && !m.nonPersistent.has(name)) out.set(key(name), b);
    }
    return out;
  }

  /**
   * Copies tensors into this module's parameters and persistent buffers by key, in place (values are
   * converted to each tensor's dtype and moved from another backend if needed). Every shape mismatch
   * throws, naming the key and both shapes. With `strict` (the default) missing or unexpected keys
   * throw too; otherwise they are returned. Nothing is written unless every check passes.
   */
  loadStateDict(
    sd: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>,
    opts: LoadStateDictOptions = {},
  ): LoadStateDictResult {
    const strict = opts.strict ?? true;
    const source: ReadonlyMap<string, Tensor> = sd instanceof Map ? sd : new Map(Object.entries(sd));
    const own = this.stateDict();
    const missingKeys = [...own.keys()].filter((k) => !source.has(k));
    const unexpectedKeys = [...source.keys()].filter((k) => !own.has(k));
    const problems: string[] = [];
    for (const [key, dst] of own) {
      const src = source.get(key);
      if (!src) continue;
      if (src.isDisposed) problems.push(`${key} was disposed`);
      else if (src.rank !== dst.rank || src.shape.some((d, i) => d !== dst.shape[i])) {
        problems.push(
          `${key} has shape ${fmtShape(src.shape)} in the state dict and ${fmtShape(dst.shape)} in the model`,
        );
      }
    }
    if (strict) {
      if (missingKeys.length) problems.push(`missing keys: ${missingKeys.join(", ")}`);
      if (unexpectedKeys.length) problems.push(`unexpected keys: ${unexpectedKeys.join(", ")}`);
    }
    if (problems.length) {
      throw new Error(`${this.typeName}.loadStateDict: ${problems.join("; ")}`);
    }
    for (const [key, dst] of own) {
      const src = source.get(key);
      if (!src) continue;
      if (src.backend === dst.backend) assign(dst, src);
      else {
        const moved = src.to(dst.backendName);
        try {
          assign(dst, moved);
        } finally {
          moved.dispose();
        }
      }
    }
    return { missingKeys, unexpectedKeys };
  }

  // ---- printing -----------------------------------------------------------------------------

  /** The constructor arguments shown between the parentheses of `toString()` (PyTorch's `extra_repr`). */
  extraRepr(): string {
    return "";
  }

  /** The module tree, printed like PyTorch prints it. */
  toString(): string {
    const extra = this.extraRepr();
    const lines: string[] = [];
    for (const [name, m] of this.namedChildren()) {
      const child = m.toString().split("\n").join("\n  ");
      lines.push(`(${name}): ${child}`);
    }
    if (lines.length === 0) return `${this.typeName}(${extra})`;
    const head = extra ? [extra, ...lines] : lines;
    return `${this.typeName}(\n  ${head.join("\n  ")}\n)`;
  }
}
