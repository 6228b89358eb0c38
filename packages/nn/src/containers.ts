/**
 * Containers: Sequential, ModuleList, ModuleDict, and Identity. Children are registered under their
 * index (`"0"`, `"1"`, …) or key, as in PyTorch, so `layers.3.linear1.weight` keys line up.
 */
import type { Tensor } from "@tessera/core";
import { Module } from "./module.js";

/** A module whose forward takes and returns one tensor: what Sequential chains. */
export interface TensorModule extends Module {
  forward(x: Tensor): Tensor;
}

/**
 * Runs its children in order, each on the previous one's output (PyTorch's `nn.Sequential`).
 *
 * @example
 * const mlp = new Sequential(new Linear(4, 16), new ReLU(), new Linear(16, 3));
 * const y = mlp.forward(randn([8, 4])); // [8, 3]; keys "0.weight", "0.bias", "2.weight", "2.bias"
 */
export class Sequential extends Module {
  private readonly items: TensorModule[] = [];

  constructor(...modules: Module[]) {
    super();
    for (const m of modules) this.append(m);
  }

  /** Adds a module at the end (registered under the next index); returns this. */
  append(m: Module): this {
    this.items.push(this.registerModule(String(this.items.length), m) as TensorModule);
    return this;
  }

  get length(): number {
    return this.items.length;
  }

  /** The child at `index` (negative counts from the end). */
  at(index: number): Module {
    const m = this.items.at(index);
    if (!m)
      throw new RangeError(`Sequential.at: index ${index} is out of range for ${this.items.length} modules`);
    return m;
  }

  [Symbol.iterator](): Iterator<Module> {
    return this.items[Symbol.iterator]();
  }

  override forward(x: Tensor): Tensor {
    let h = x;
    for (const m of this.items) h = m.forward(h);
    return h;
  }
}

/**
 * A list of modules registered by index (PyTorch's `nn.ModuleList`); it has no forward of its own.
 *
 * @example
 * const blocks = new ModuleList(Array.from({ length: 3 }, () => new Linear(8, 8)));
 * let h = randn([2, 8]);
 * for (const b of blocks) h = (b as Linear).forward(h);
 */
export class ModuleList<M extends Module = Module> extends Module {
  private readonly items: M[] = [];

  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.append(m);
  }

  append(m: M): this {
    this.items.push(this.registerModule(String(this.items.length), m));
    return this;
  }

  get length(): number {
    return this.items.length;
  }

  /** The module at `index` (negative counts from the end). */
  at(index: number): M {
    const m = this.items.at(index);
    if (!m)
      throw new RangeError(`ModuleList.at: index ${index} is out of range for ${this.items.length} modules`);
    return m;
  }

  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
}

/**
 * Modules by name, in insertion order (PyTorch's `nn.ModuleDict`); it has no forward of its own.
 *
 * @example
 * const heads = new ModuleDict({ cls: new Linear(8, 10), box: new Linear(8, 4) });
 * heads.get("cls"); // the Linear registered as "cls"; keys "cls.weight", "box.bias", …
 */
export class ModuleDict<M extends Module = Module> extends Module {
  private readonly items = new Map<string, M>();

  constructor(modules: Readonly<Record<string, M>> | Iterable<[string, M]> = {}) {
    super();
    const entries = Symbol.iterator in modules ? modules : Object.entries(modules);
    for (const [k, m] of entries as Iterable<[string, M]>) this.set(k, m);
  }

  set(key: string, m: M): this {
    this.items.set(key, this.registerModule(key, m));
    return this;
  }

  get(key: string): M {
    const m = this.items.get(key);
    if (!m)
      throw new Error(`ModuleDict.get: no module '${key}' (keys: ${[...this.items.keys()].join(", ")})`);
    return m;
  }

  has(key: string): boolean {
    return this.items.has(key);
  }

  keys(): IterableIterator<string> {
    return this.items.keys();
  }

  entries(): IterableIterator<[string, M]> {
    return this.items.entries();
  }

  get size(): number {
    return this.items.size;
  }
}

/**
 * Returns its input unchanged (PyTorch's `nn.Identity`): a placeholder where an option removes a layer.
 *
 * @example
 * const norm = usePreNorm ? new LayerNorm(64) : new Identity();
 */
export class Identity extends Module {
  override forward(x: Tensor): Tensor {
    return x;
  }
}
