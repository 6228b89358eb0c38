/**
 * Process-wide state: the backend registry, the active backend, memory scopes and live-tensor accounting.
 * Scopes live in AsyncLocalStorage so `scope(async () => …)` tracks exactly the tensors created
 * by its own async continuation, even when several scopes interleave across `await`.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Backend, DataId } from "./backend.js";
import type { DType } from "./dtype.js";
import { bytesPerElement } from "./dtype.js";

/** Reference-counted storage shared by a tensor and its views. */
export class Storage {
  refs = 1;
  /** Bumped by every in-place write (adamUpdate), so a saved tensor can tell it was modified. */
  version = 0;
  constructor(
    readonly backend: Backend,
    readonly id: DataId,
    readonly dtype: DType,
    readonly size: number,
  ) {}

  get bytes(): number {
    return this.size * bytesPerElement(this.dtype);
  }
}

/** The subset of Tensor the engine needs (avoids an import cycle). */
export interface Disposable {
  readonly isDisposed: boolean;
  readonly storage: Storage;
  dispose(): void;
  /** Set by `keep()`: scopes never free it. */
  kept: boolean;
  /** The scope that tracks it, if any (set by the engine). */
  scope: unknown;
}

interface Scope {
  readonly name: string;
  readonly tracked: Set<Disposable>;
}

interface BackendEntry {
  factory: () => Backend;
  priority: number;
  instance?: Backend;
}

const registry = new Map<string, BackendEntry>();
let active: Backend | undefined;
const scopeStore = new AsyncLocalStorage<Scope>();

const live = { tensors: 0, storages: 0, bytes: 0, peakBytes: 0 };
const perBackend = new Map<string, { tensors: number; storages: number; bytes: number }>();

function counters(name: string) {
  let c = perBackend.get(name);
  if (!c) {
    c = { tensors: 0, storages: 0, bytes: 0 };
    perBackend.set(name, c);
  }
  return c;
}

// ---- registry ---------------------------------------------------------------------------------

/** Registers a backend factory. The highest priority registered backend becomes the default. */
export function registerBackend(name: string, factory: () => Backend, priority = 1): void {
  if (registry.has(name)) throw new Error(`registerBackend: a backend named '${name}' is already registered`);
  registry.set(name, { factory, priority });
}

export function removeBackend(name: string): void {
  const entry = registry.get(name);
  if (!entry) return;
  if (entry.instance && active === entry.instance) active = undefined;
  registry.delete(name);
}

export function listBackends(): string[] {
  return [...registry.keys()];
}

/** Returns the named backend, instantiating it on first use. */
export function findBackend(name: string): Backend {
  const entry = registry.get(name);
  if (!entry) {
    const known = listBackends();
    throw new Error(
      `backend '${name}' is not registered (registered: ${known.length ? known.join(", ") : "none"}); ` +
        `import its package, e.g. "import '@tessera/backend-js'"`,
    );
  }
  entry.instance ??= entry.factory();
  return entry.instance;
}

export function setBackend(name: string): Backend {
  active = findBackend(name);
  return active;
}

export function getBackend(): Backend {
  if (active) return active;
  let best: [string, BackendEntry] | undefined;
  for (const e of registry) if (!best || e[1].priority > best[1].priority) best = e;
  if (!best) {
    throw new Error(
      "no backend is registered: import '@tessera/backend-js' (or another backend) before creating tensors",
    );
  }
  active = findBackend(best[0]);
  return active;
}

/** Runs `fn` with `name` as the active backend and restores the previous one, also when `fn` throws. */
export function withBackend<T>(name: string, fn: () => T): T {
  const prev = active;
  active = findBackend(name);
  try {
    const res = fn();
    if (res instanceof Promise) {
      return res.finally(() => {
        active = prev;
      }) as T;
    }
    active = prev;
    return res;
  } catch (e) {
    active = prev;
    throw e;
  }
}

// ---- storage + accounting ---------------------------------------------------------------------

export function allocateStorage(backend: Backend, dtype: DType, size: number): Storage {
  if (!backend.dtypes.includes(dtype)) {
    throw new TypeError(
      `${backend.name}: dtype ${dtype} is not supported (supported: ${backend.dtypes.join(", ")})`,
    );
  }
  const s = new Storage(backend, backend.allocate(dtype, size), dtype, size);
  live.storages++;
  const c = counters(backend.name);
  c.storages++;
  c.bytes += s.bytes;
  live.bytes += s.bytes;
  if (live.bytes > live.peakBytes) live.peakBytes = live.bytes;
  return s;
}

export function releaseStorage(s: Storage): void {
  if (--s.refs > 0) return;
  s.backend.free(s.id);
  live.storages--;
  const c = counters(s.backend.name);
  c.storages--;
  c.bytes -= s.bytes;
  live.bytes -= s.bytes;
}

/** Called by every Tensor constructor. */
export function trackTensor(t: Disposable): void {
  live.tensors++;
  counters(t.storage.backend.name).tensors++;
  const s = scopeStore.getStore();
  if (s) {
    s.tracked.add(t);
    t.scope = s;
  }
}

/** Called once per Tensor by dispose(). */
export function untrackTensor(t: Disposable): void {
  live.tensors--;
  counters(t.storage.backend.name).tensors--;
  (t.scope as Scope | undefined)?.tracked.delete(t);
  t.scope = undefined;
}

/** Internal: moves one tensor's count between backends when `setData` rebinds it. */
export function retrackTensor(from: Backend, to: Backend): void {
  counters(from.name).tensors--;
  counters(to.name).tensors++;
}

export interface MemoryInfo {
  numTensors: number;
  numStorages: number;
  numBytes: number;
  /** The most bytes live at once since start or the last `resetPeakMemory()`, over all backends. */
  peakBytes: number;
  backends: Record<string, { numTensors: number; numStorages: number; numBytes: number }>;
}

export function memory(): MemoryInfo {
  const backends: MemoryInfo["backends"] = {};
  let bytes = 0;
  for (const [name, c] of perBackend) {
    backends[name] = { numTensors: c.tensors, numStorages: c.storages, numBytes: c.bytes };
    bytes += c.bytes;
  }
  return {
    numTensors: live.tensors,
    numStorages: live.storages,
    numBytes: bytes,
    peakBytes: live.peakBytes,
    backends,
  };
}

/** Starts a new peak-memory window at the bytes live now. */
export function resetPeakMemory(): void {
  live.peakBytes = live.bytes;
}

// ---- scopes -----------------------------------------------------------------------------------

/** Marks a tensor so no scope frees it; the caller disposes it. Returns it for chaining. */
export function keep<T extends Disposable>(t: T): T {
  t.kept = true;
  return t;
}

function collectResult(value: unknown, into: Set<Disposable>, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== "object" || seen.has(value)) return;
  seen.add(value);
  if (isTensorLike(value)) {
    into.add(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collectResult(v, into, seen);
  } else if (value instanceof Map) {
    for (const v of value.values()) collectResult(v, into, seen);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collectResult(v, into, seen);
  }
}

function isTensorLike(v: object): v is Disposable {
  return "storage" in v && "dispose" in v && "isDisposed" in v;
}

function closeScope(scope: Scope, result: unknown): void {
  const keepSet = new Set<Disposable>();
  collectResult(result, keepSet);
  const parent = scopeStore.getStore();
  for (const t of scope.tracked) {
    if (t.isDisposed) continue;
    if (t.kept) {
      t.scope = undefined;
      continue;
    }
    if (keepSet.has(t)) {
      adopt(parent, t);
      continue;
    }
    t.dispose();
  }
  // Results created in an outer scope but returned here still belong to that outer scope.
  scope.tracked.clear();
}

function adopt(parent: Scope | undefined, t: Disposable): void {
  t.scope = parent;
  parent?.tracked.add(t);
}

/**
 * Runs a synchronous `fn` and frees every tensor it created except those it returns (in arrays or plain
 * objects too) and those marked with `keep()`. Use `scope()` for async work.
 */
export function tidy<T>(fn: () => T): T;
export function tidy<T>(name: string, fn: () => T): T;
export function tidy<T>(a: string | (() => T), b?: () => T): T {
  const name = typeof a === "string" ? a : "tidy";
  const fn = typeof a === "string" ? b! : a;
  const scope: Scope = { name, tracked: new Set() };
  let result: T;
  try {
    result = scopeStore.run(scope, fn);
  } catch (e) {
    // An op that throws halfway (e.g. an index out of range found by the kernel) leaves nothing behind.
    closeScope(scope, undefined);
    throw e;
  }
  if (result instanceof Promise) {
    // Free what was created so far, then explain the fix instead of silently leaking across awaits.
    closeScope(scope, undefined);
    throw new Error(
      `${name}: the function returned a Promise; use 'await scope(async () => …)' for async work`,
    );
  }
  closeScope(scope, result);
  return result;
}

/** The async-safe scope: like `tidy`, across `await`, with concurrent scopes kept apart. */
export async function scope<T>(fn: () => Promise<T> | T, name = "scope"): Promise<T> {
  const s: Scope = { name, tracked: new Set() };
  try {
    const result = await scopeStore.run(s, fn);
    closeScope(s, result);
    return result;
  } catch (e) {
    closeScope(s, undefined);
    throw e;
  }
}

/** Disposes every tensor found in `value` (a tensor, array or plain object of tensors). */
export function dispose(value: unknown): void {
  const set = new Set<Disposable>();
  collectResult(value, set);
  for (const t of set) t.dispose();
}
