/**
 * Checkpoints: tensors, state dicts and modules to and from safetensors files (the byte format is
 * `safetensors.ts`). Saving writes a temporary file in the target's directory, fsyncs it and renames
 * it over the target, so a crash leaves the old file or the new one, never half of one. Loading reads
 * the header first and then each tensor's bytes straight into its own buffer.
 */

import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { type Backend, findBackend, getBackend, type StorageArray, Tensor } from "@tessera/core";
import { type LoadStateDictOptions, type LoadStateDictResult, Module } from "./module.js";
import {
  decodeSafetensorsData,
  encodeSafetensorsData,
  parseSafetensors,
  parseSafetensorsHeader,
  planSafetensors,
  type SafetensorsDType,
  SafetensorsError,
  type SafetensorsHeader,
  type SafetensorsLayout,
  safetensorsDType,
  safetensorsHeaderEnd,
} from "./safetensors.js";

/** What `save` accepts: a module (its `stateDict()`), or tensors by name. */
export type TensorsToSave = Module | ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>;

export interface SaveOptions {
  /** `__metadata__` (string → string); none is written when undefined. */
  metadata?: Readonly<Record<string, string>>;
  /** How int32 tensors are stored: I32 (default) or I64, PyTorch's `long` (indices, `num_batches_tracked`). */
  intDtype?: "I32" | "I64";
}

export interface LoadOptions {
  /** Backend name for the tensors (default: the active backend). */
  backend?: string;
  /**
   * Load F64 as float64 (true) or round it to float32 (false). Default: float64 where the backend
   * has it (js), float32 elsewhere.
   */
  float64?: boolean;
}

/** A loaded file: tensors in header order (the caller owns and disposes them) and the metadata. */
export interface LoadedTensors {
  readonly tensors: Map<string, Tensor>;
  /** `__metadata__`; undefined when the file has none. */
  readonly metadata: Readonly<Record<string, string>> | undefined;
}

// Small tensors are gathered into writes of about this size instead of one system call each.
const WRITE_CHUNK = 1 << 20;

interface Planned {
  readonly layout: SafetensorsLayout;
  /** In file order, with the dtype each is written as. */
  readonly items: readonly { name: string; tensor: Tensor; to: SafetensorsDType; bytes: number }[];
}

function plan(source: TensorsToSave, opts: SaveOptions, where: string): Planned {
  const entries: [string, Tensor][] =
    source instanceof Module
      ? [...source.stateDict()]
      : source instanceof Map
        ? [...(source as ReadonlyMap<string, Tensor>)]
        : Object.entries(source as Record<string, Tensor>);
  const byName = new Map<string, Tensor>();
  const headerEntries: [string, { dtype: SafetensorsDType; shape: readonly number[] }][] = [];
  for (const [name, t] of entries) {
    if (!(t instanceof Tensor)) throw new TypeError(`save ${where}: '${name}' is not a Tensor`);
    if (t.isDisposed) throw new Error(`save ${where}: tensor '${name}' was disposed`);
    byName.set(name, t);
    headerEntries.push([name, { dtype: safetensorsDType(t.dtype, opts.intDtype ?? "I32"), shape: t.shape }]);
  }
  const layout = planSafetensors(headerEntries, opts.metadata, { source: where });
  const items = layout.order.map(({ name, info }) => ({
    name,
    tensor: byName.get(name)!,
    to: info.dtype,
    bytes: info.dataOffsets[1] - info.dataOffsets[0],
  }));
  return { layout, items };
}

function encode(item: Planned["items"][number], raw: StorageArray, where: string): Uint8Array {
  const bytes = encodeSafetensorsData(raw, item.tensor.dtype, item.to);
  if (bytes.byteLength !== item.bytes) {
    throw new Error(
      `save ${where}: tensor '${item.name}' produced ${bytes.byteLength} bytes, expected ${item.bytes}`,
    );
  }
  return bytes;
}

function readFailed(where: string, name: string, e: unknown): Error {
  return new Error(`save ${where}: reading tensor '${name}' failed: ${(e as Error)?.message ?? e}`, {
    cause: e,
  });
}

/** The raw storage values of a tensor (half dtypes as bits), in C order. */
async function readRaw(t: Tensor): Promise<StorageArray> {
  t.assertAlive("save");
  const base = t.isContiguous ? t : t.contiguous();
  try {
    return await base.backend.read(base.storage.id, base.offset, base.size);
  } finally {
    if (base !== t) base.dispose();
  }
}

function readRawSync(t: Tensor): StorageArray {
  t.assertAlive("save");
  const read = t.backend.readSync;
  if (!read) throw new Error(`backend '${t.backendName}' has no synchronous reads; use 'await save(…)'`);
  const base = t.isContiguous ? t : t.contiguous();
  try {
    return read.call(base.backend, base.storage.id, base.offset, base.size);
  } finally {
    if (base !== t) base.dispose();
  }
}

function tempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}-${randomBytes(6).toString("hex")}.tmp`);
}

/** Buffers small chunks and writes them in order with one `writev`. */
class ChunkWriter {
  private chunks: Uint8Array[] = [];
  private pending = 0;
  position = 0;

  add(bytes: Uint8Array): boolean {
    if (bytes.byteLength > 0) {
      this.chunks.push(bytes);
      this.pending += bytes.byteLength;
    }
    return this.pending >= WRITE_CHUNK;
  }

  /** Takes the buffered chunks, in order. */
  take(): Uint8Array[] {
    const out = this.chunks;
    this.chunks = [];
    this.pending = 0;
    return out;
  }
}

/** Drops the first `n` bytes of a chunk list (after a short write). */
function skipBytes(chunks: Uint8Array[], n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const c of chunks) {
    if (n >= c.byteLength) n -= c.byteLength;
    else {
      out.push(n > 0 ? c.subarray(n) : c);
      n = 0;
    }
  }
  return out;
}

async function flush(fh: fsp.FileHandle, w: ChunkWriter): Promise<void> {
  let chunks = w.take();
  while (chunks.length) {
    const { bytesWritten } = await fh.writev(chunks, w.position);
    w.position += bytesWritten;
    chunks = skipBytes(chunks, bytesWritten);
  }
}

function flushSync(fd: number, w: ChunkWriter): void {
  let chunks = w.take();
  while (chunks.length) {
    const n = fs.writevSync(fd, chunks, w.position);
    w.position += n;
    chunks = skipBytes(chunks, n);
  }
}

async function syncDir(dir: string): Promise<void> {
  // Makes the rename durable; some platforms (Windows) cannot open a directory, which is harmless.
  try {
    const d = await fsp.open(dir, "r");
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {}
}

function syncDirSync(dir: string): void {
  try {
    const d = fs.openSync(dir, "r");
    try {
      fs.fsyncSync(d);
    } finally {
      fs.closeSync(d);
    }
  } catch {}
}

/**
 * Saves a module's state dict (or tensors by name) to a safetensors file that Python's
 * `safetensors.torch.load_file` reads. The file is written under a temporary name in the same
 * directory, fsynced and renamed over `path`: a failure (a tensor that cannot be read, a full disk, a
 * crash) leaves any previous file untouched and removes the temporary one.
 *
 * @example
 * const net = new Linear(4, 2);
 * await save(net, "linear.safetensors", { metadata: { format: "pt" } });
 * await save(new Map([["x", ones([3])]]), "x.safetensors");
 */
export async function save(source: TensorsToSave, path: string, opts: SaveOptions = {}): Promise<void> {
  const { layout, items } = plan(source, opts, path);
  const tmp = tempPath(path);
  const fh = await fsp.open(tmp, "wx");
  let closed = false;
  try {
    const w = new ChunkWriter();
    w.add(layout.header);
    for (const item of items) {
      let raw: StorageArray;
      try {
        raw = await readRaw(item.tensor);
      } catch (e) {
        throw readFailed(path, item.name, e);
      }
      if (w.add(encode(item, raw, path))) await flush(fh, w);
    }
    await flush(fh, w);
    await fh.sync();
    closed = true;
    await fh.close();
    await fsp.rename(tmp, path);
  } catch (e) {
    if (!closed) await fh.close().catch(() => {});
    await fsp.rm(tmp, { force: true }).catch(() => {});
    throw e;
  }
  await syncDir(dirname(path));
}

/**
 * `save` for backends with synchronous reads (js, native): the same file, written atomically.
 *
 * @example
 * saveSync(net, "net.safetensors");
 */
export function saveSync(source: TensorsToSave, path: string, opts: SaveOptions = {}): void {
  const { layout, items } = plan(source, opts, path);
  const tmp = tempPath(path);
  const fd = fs.openSync(tmp, "wx");
  let closed = false;
  try {
    const w = new ChunkWriter();
    w.add(layout.header);
    for (const item of items) {
      let raw: StorageArray;
      try {
        raw = readRawSync(item.tensor);
      } catch (e) {
        throw readFailed(path, item.name, e);
      }
      if (w.add(encode(item, raw, path))) flushSync(fd, w);
    }
    flushSync(fd, w);
    fs.fsyncSync(fd);
    closed = true;
    fs.closeSync(fd);
    fs.renameSync(tmp, path);
  } catch (e) {
    if (!closed) {
      try {
        fs.closeSync(fd);
      } catch {}
    }
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  syncDirSync(dirname(path));
}

/**
 * The bytes `save` would write, in memory (for a browser, a network upload or a test).
 *
 * @example
 * const bytes = await saveToBytes(net.stateDict(), { metadata: { epoch: "3" } });
 */
export async function saveToBytes(source: TensorsToSave, opts: SaveOptions = {}): Promise<Uint8Array> {
  const where = "<bytes>";
  const { layout, items } = plan(source, opts, where);
  const out = new Uint8Array(layout.byteLength);
  out.set(layout.header, 0);
  let pos = layout.header.byteLength;
  for (const item of items) {
    let raw: StorageArray;
    try {
      raw = await readRaw(item.tensor);
    } catch (e) {
      throw readFailed(where, item.name, e);
    }
    out.set(encode(item, raw, where), pos);
    pos += item.bytes;
  }
  return out;
}

// ---- loading ----------------------------------------------------------------------------------

function resolveLoad(opts: LoadOptions): { backend: Backend; float64: boolean } {
  const backend = opts.backend ? findBackend(opts.backend) : getBackend();
  return { backend, float64: opts.float64 ?? backend.dtypes.includes("float64") };
}

/** Builds one tensor from its file bytes (which it may keep as its write source). */
function makeTensor(
  name: string,
  info: { dtype: SafetensorsDType; shape: readonly number[] },
  data: Uint8Array,
  target: { backend: Backend; float64: boolean },
  source: string,
): Tensor {
  const { dtype, values } = decodeSafetensorsData(
    name,
    { dtype: info.dtype, shape: info.shape, data },
    { float64: target.float64, source },
  );
  const t = Tensor.empty(info.shape, dtype, target.backend);
  if (t.size > 0) {
    try {
      target.backend.write(t.storage.id, values, 0);
    } catch (e) {
      t.dispose();
      throw e;
    }
  }
  return t;
}

function shortRead(path: string, at: number, what: string): SafetensorsError {
  return new SafetensorsError(
    path,
    `the file ended at byte ${at} while reading ${what} (truncated while loading?)`,
  );
}

async function readAt(fh: fsp.FileHandle, buf: Uint8Array, position: number, path: string, what: string) {
  let done = 0;
  while (done < buf.byteLength) {
    const { bytesRead } = await fh.read(buf, done, buf.byteLength - done, position + done);
    if (bytesRead === 0) throw shortRead(path, position + done, what);
    done += bytesRead;
  }
}

function readAtSync(fd: number, buf: Uint8Array, position: number, path: string, what: string): void {
  let done = 0;
  while (done < buf.byteLength) {
    const n = fs.readSync(fd, buf, done, buf.byteLength - done, position + done);
    if (n === 0) throw shortRead(path, position + done, what);
    done += n;
  }
}

function disposeAll(tensors: Map<string, Tensor>): void {
  for (const t of tensors.values()) t.dispose();
  tensors.clear();
}

/**
 * Loads every tensor of a safetensors file (from PyTorch or from `save`). The header is read and
 * validated first; then each tensor's bytes are read from its offset into a buffer of its own, so
 * memory holds the tensors plus one tensor's bytes, never the whole file. Dtypes: F32, F16, BF16,
 * I32 and BOOL load as themselves; I64 (PyTorch's `long`) and U32/U64 narrow to int32 with a range
 * check; U8/I8/I16/U16 widen to int32; F64 see `LoadOptions.float64`.
 *
 * @example
 * const { tensors, metadata } = await load("model.safetensors");
 * tensors.get("fc.weight")?.shape; // [10, 784]
 * for (const t of tensors.values()) t.dispose();
 */
export async function load(path: string, opts: LoadOptions = {}): Promise<LoadedTensors> {
  const target = resolveLoad(opts);
  const tensors = new Map<string, Tensor>();
  const fh = await fsp.open(path, "r");
  try {
    const { size } = await fh.stat();
    const prefix = new Uint8Array(Math.min(8, size));
    await readAt(fh, prefix, 0, path, "the header length");
    const end = safetensorsHeaderEnd(prefix, { source: path, byteLength: size });
    const head = new Uint8Array(end);
    head.set(prefix);
    await readAt(fh, head.subarray(8), 8, path, "the header");
    const header = parseSafetensorsHeader(head, { source: path, byteLength: size });
    for (const [name, info] of header.tensors) {
      const data = new Uint8Array(info.dataOffsets[1] - info.dataOffsets[0]);
      await readAt(fh, data, header.dataStart + info.dataOffsets[0], path, `tensor '${name}'`);
      tensors.set(name, makeTensor(name, info, data, target, path));
    }
    return { tensors, metadata: header.metadata };
  } catch (e) {
    disposeAll(tensors);
    throw e;
  } finally {
    await fh.close();
  }
}

/**
 * `load`, synchronously.
 *
 * @example
 * const { tensors } = loadSync("model.safetensors", { backend: "native" });
 */
export function loadSync(path: string, opts: LoadOptions = {}): LoadedTensors {
  const target = resolveLoad(opts);
  const tensors = new Map<string, Tensor>();
  const fd = fs.openSync(path, "r");
  try {
    const { size } = fs.fstatSync(fd);
    const prefix = new Uint8Array(Math.min(8, size));
    readAtSync(fd, prefix, 0, path, "the header length");
    const end = safetensorsHeaderEnd(prefix, { source: path, byteLength: size });
    const head = new Uint8Array(end);
    head.set(prefix);
    readAtSync(fd, head.subarray(8), 8, path, "the header");
    const header: SafetensorsHeader = parseSafetensorsHeader(head, { source: path, byteLength: size });
    for (const [name, info] of header.tensors) {
      const data = new Uint8Array(info.dataOffsets[1] - info.dataOffsets[0]);
      readAtSync(fd, data, header.dataStart + info.dataOffsets[0], path, `tensor '${name}'`);
      tensors.set(name, makeTensor(name, info, data, target, path));
    }
    return { tensors, metadata: header.metadata };
  } catch (e) {
    disposeAll(tensors);
    throw e;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Tensors from safetensors bytes held in memory (the counterpart of `saveToBytes`). `source` names
 * the bytes in errors.
 *
 * @example
 * const { tensors } = loadFromBytes(await saveToBytes(net));
 */
export function loadFromBytes(
  bytes: Uint8Array,
  opts: LoadOptions & { source?: string } = {},
): LoadedTensors {
  const source = opts.source ?? "<bytes>";
  const target = resolveLoad(opts);
  const file = parseSafetensors(bytes, { source });
  const tensors = new Map<string, Tensor>();
  try {
    for (const [name, t] of file.tensors) tensors.set(name, makeTensor(name, t, t.data, target, source));
  } catch (e) {
    disposeAll(tensors);
    throw e;
  }
  return { tensors, metadata: file.metadata };
}

/**
 * Loads a file into a module's parameters and buffers (`module.loadStateDict(tensors, { strict })`)
 * and frees the loaded tensors. The tensors are read onto the backend of the module's first
 * parameter or buffer. Returns what `loadStateDict` returns plus the file's metadata.
 *
 * @example
 * const net = new Linear(4, 2);
 * const { metadata } = await loadStateDictFile(net, "linear.safetensors");
 */
export async function loadStateDictFile(
  module: Module,
  path: string,
  opts: LoadStateDictOptions & Pick<LoadOptions, "backend"> = {},
): Promise<LoadStateDictResult & { metadata: Readonly<Record<string, string>> | undefined }> {
  const first = module.stateDict().values().next().value as Tensor | undefined;
  const { tensors, metadata } = await load(path, { backend: opts.backend ?? first?.backendName });
  try {
    return { ...module.loadStateDict(tensors, { strict: opts.strict }), metadata };
  } catch (e) {
    throw new Error(`loadStateDictFile ${path}: ${(e as Error).message}`, { cause: e });
  } finally {
    disposeAll(tensors);
  }
}
