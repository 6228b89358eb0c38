/**
 * The safetensors byte format (https://github.com/huggingface/safetensors), read and written exactly,
 * with no file system: `serialization.ts` does the files.
 *
 * ```
 * [0, 8)      u64 little-endian N: the header length
 * [8, 8+N)    UTF-8 JSON, padded with spaces to a multiple of 8:
 *             {"__metadata__": {str: str}, "<name>": {"dtype", "shape", "data_offsets": [begin, end]}, …}
 * [8+N, EOF)  the tensors' bytes, little-endian, C order; offsets are relative to byte 8+N
 * ```
 *
 * The reader is as strict as the reference implementation and then some: the tensors must tile the
 * data section (no gaps, overlaps or trailing bytes), and duplicate names, unknown dtypes and
 * offsets that disagree with shape × dtype size are errors. The writer produces the reference
 * implementation's bytes: tensors sorted by dtype (in its enum order, widest first) then by name,
 * compact JSON, space padding. So re-serialising a file written by Python's `safetensors` gives its
 * bytes back (metadata keys keep the file's order, except integer-like keys, which JavaScript
 * objects always list first).
 */
import type { DType, StorageArray } from "@tessera/core";

/** The dtypes of the format (the reference implementation's, except its sub-byte and complex ones). */
export type SafetensorsDType =
  | "BOOL"
  | "U8"
  | "I8"
  | "F8_E5M2"
  | "F8_E4M3"
  | "I16"
  | "U16"
  | "F16"
  | "BF16"
  | "I32"
  | "U32"
  | "F32"
  | "F64"
  | "I64"
  | "U64";

/** Every dtype of the format, in the reference implementation's enum order (the writer sorts by it, descending). */
export const SAFETENSORS_DTYPES: readonly SafetensorsDType[] = [
  "BOOL",
  "U8",
  "I8",
  "F8_E5M2",
  "F8_E4M3",
  "I16",
  "U16",
  "F16",
  "BF16",
  "I32",
  "U32",
  "F32",
  "F64",
  "I64",
  "U64",
];
const DTYPE_RANK = new Map(SAFETENSORS_DTYPES.map((d, i) => [d, i]));
const DTYPE_BYTES: Record<SafetensorsDType, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

/** Header lengths above this are rejected as corrupt, as in the reference implementation. */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

/**
 * Every problem with safetensors bytes: the message names the source (a path or a label) and the
 * problem (`safetensors model.safetensors: truncated file: …`).
 *
 * @example
 * try {
 *   parseSafetensors(new Uint8Array(3), { source: "x.safetensors" });
 * } catch (e) {
 *   e instanceof SafetensorsError; // true: "safetensors x.safetensors: truncated file: 3 bytes, …"
 * }
 */
export class SafetensorsError extends Error {
  /** The path or label of the bytes at fault. */
  readonly source: string;
  constructor(source: string, message: string, options?: ErrorOptions) {
    super(`safetensors ${source}: ${message}`, options);
    this.name = "SafetensorsError";
    this.source = source;
  }
}

/** One tensor's entry in the header. */
export interface SafetensorsTensorInfo {
  readonly dtype: SafetensorsDType;
  /** `[]` for a 0-d tensor (one element). */
  readonly shape: readonly number[];
  /** `[begin, end)` in bytes, relative to the start of the data section. */
  readonly dataOffsets: readonly [number, number];
}

/** A validated header: where the data starts, the metadata and every tensor's entry. */
export interface SafetensorsHeader {
  /** 8 + N: the absolute offset of the data section. */
  readonly dataStart: number;
  /** The file size the header was validated against. */
  readonly byteLength: number;
  /** `__metadata__`, or undefined when the file has none (which is not the same file as `{}`). */
  readonly metadata: Readonly<Record<string, string>> | undefined;
  /** Tensor entries in header order. */
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
}

/** A tensor as the format stores it: dtype, shape and little-endian C-order bytes. */
export interface SafetensorsTensor {
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}

/** A whole parsed file. */
export interface SafetensorsFile {
  readonly metadata: Readonly<Record<string, string>> | undefined;
  /** In header order; each `data` is a view into the parsed bytes (no copy). */
  readonly tensors: ReadonlyMap<string, SafetensorsTensor>;
}

export interface ParseSafetensorsOptions {
  /** The path or label that error messages name (default `<bytes>`). */
  source?: string;
  /**
   * The size of the whole file when `bytes` holds only its beginning (at least the header): how a
   * file reader validates the header before reading any tensor. Default: `bytes.byteLength`.
   */
  byteLength?: number;
}

/**
 * Bytes per element of a safetensors dtype.
 *
 * @example
 * safetensorsDTypeSize("BF16"); // 2
 */
export function safetensorsDTypeSize(dtype: SafetensorsDType): number {
  return DTYPE_BYTES[dtype];
}

function isDTypeName(x: unknown): x is SafetensorsDType {
  return typeof x === "string" && Object.hasOwn(DTYPE_BYTES, x);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function requireLittleEndian(source: string): void {
  if (!LITTLE_ENDIAN)
    throw new SafetensorsError(source, "this implementation needs a little-endian host (the format is LE)");
}

// ---- reading ----------------------------------------------------------------------------------

/**
 * The end of the header (8 + N) from the file's first 8 bytes, checked against the file size: a
 * reader calls it to know how many bytes to read before `parseSafetensorsHeader`.
 *
 * @example
 * const end = safetensorsHeaderEnd(first8Bytes, { source: path, byteLength: fileSize });
 */
export function safetensorsHeaderEnd(prefix: Uint8Array, opts: ParseSafetensorsOptions = {}): number {
  const source = opts.source ?? "<bytes>";
  const size = opts.byteLength ?? prefix.byteLength;
  if (size < 8) {
    throw new SafetensorsError(
      source,
      `truncated file: ${size} bytes, need at least 8 for the header length`,
    );
  }
  if (prefix.byteLength < 8) throw new SafetensorsError(source, "need the first 8 bytes of the file");
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(SAFETENSORS_MAX_HEADER_BYTES)) {
    throw new SafetensorsError(
      source,
      `header length ${n} exceeds the ${SAFETENSORS_MAX_HEADER_BYTES}-byte limit (corrupt or not a safetensors file?)`,
    );
  }
  const end = 8 + Number(n);
  if (end > size) {
    throw new SafetensorsError(
      source,
      `truncated file: the header claims ${n} bytes but only ${size - 8} follow the length field`,
    );
  }
  return end;
}

/**
 * Parses and validates the header. `bytes` must hold the file from byte 0 to at least the end of
 * the header; with `byteLength` (the file size) the tensor offsets are checked against the whole file
 * without reading it.
 *
 * @example
 * const header = parseSafetensorsHeader(bytes);
 * header.tensors.get("fc.weight"); // { dtype: "F32", shape: [10, 784], dataOffsets: [0, 31360] }
 */
export function parseSafetensorsHeader(
  bytes: Uint8Array,
  opts: ParseSafetensorsOptions = {},
): SafetensorsHeader {
  const source = opts.source ?? "<bytes>";
  const byteLength = opts.byteLength ?? bytes.byteLength;
  const fail = (msg: string): never => {
    throw new SafetensorsError(source, msg);
  };
  const dataStart = safetensorsHeaderEnd(bytes, { source, byteLength });
  if (dataStart > bytes.byteLength) fail(`need the first ${dataStart} bytes (the header) to parse it`);

  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, dataStart));
  } catch {
    return fail("malformed header: not valid UTF-8");
  }
  const root = parseJson(text, (msg) => fail(`malformed header: ${msg}`));

  const dataLength = byteLength - dataStart;
  let metadata: Record<string, string> | undefined;
  const tensors = new Map<string, SafetensorsTensorInfo>();
  for (const [name, raw] of root) {
    if (name === "__metadata__") {
      if (raw === null) continue; // the reference implementation reads null as "no metadata"
      if (!(raw instanceof Map)) fail(`__metadata__ must be an object, got ${describe(raw)}`);
      metadata = {};
      for (const [k, v] of raw as JsonObject) {
        if (typeof v !== "string")
          fail(`__metadata__ ${JSON.stringify(k)} must be a string, got ${describe(v)}`);
        setOwn(metadata, k, v as string);
      }
      continue;
    }
    const where = `tensor ${JSON.stringify(name)}`;
    if (!(raw instanceof Map)) fail(`${where}: entry must be an object, got ${describe(raw)}`);
    const entry = raw as JsonObject;
    const dtype = entry.get("dtype");
    if (!isDTypeName(dtype)) {
      fail(
        dtype === undefined
          ? `${where}: no dtype`
          : `${where}: unknown dtype ${typeof dtype === "string" ? JSON.stringify(dtype) : describe(dtype)} (known: ${SAFETENSORS_DTYPES.join(", ")})`,
      );
    }
    const shapeRaw = entry.get("shape");
    const shape = intArray(shapeRaw);
    if (!shape) fail(`${where}: shape must be an array of non-negative integers, got ${describe(shapeRaw)}`);
    const offRaw = entry.get("data_offsets");
    const offsets = intArray(offRaw);
    if (offsets?.length !== 2 || offsets[0]! > offsets[1]!) {
      fail(`${where}: data_offsets must be [begin, end] with 0 <= begin <= end, got ${describe(offRaw)}`);
    }
    const [begin, end] = offsets as [number, number];
    let numel = 1;
    for (const d of shape!) numel *= d;
    const size = DTYPE_BYTES[dtype as SafetensorsDType];
    if (!Number.isSafeInteger(numel * size)) fail(`${where}: shape [${shape!.join(", ")}] is too large`);
    if (end - begin !== numel * size) {
      fail(
        `${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes but ${dtype} shape ` +
          `[${shape!.join(", ")}] needs ${numel * size}`,
      );
    }
    if (end > dataLength) {
      fail(
        `truncated file: ${where} needs data bytes [${begin}, ${end}) but the data section has only ${dataLength}`,
      );
    }
    tensors.set(name, {
      dtype: dtype as SafetensorsDType,
      shape: Object.freeze(shape!),
      dataOffsets: Object.freeze([begin, end] as [number, number]),
    });
  }

  // The tensors must tile the data section, as the reference implementation requires.
  const byOffset = [...tensors].sort(
    ([, a], [, b]) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1],
  );
  let pos = 0;
  let prev = "";
  for (const [name, { dataOffsets }] of byOffset) {
    const [begin, end] = dataOffsets;
    if (begin < pos) {
      fail(
        `tensor ${JSON.stringify(name)}: data_offsets [${begin}, ${end}] overlap tensor ${JSON.stringify(prev)} (which ends at ${pos})`,
      );
    }
    if (begin > pos) {
      fail(
        `tensor ${JSON.stringify(name)}: gap in the data section: bytes [${pos}, ${begin}) belong to no tensor`,
      );
    }
    pos = end;
    prev = name;
  }
  if (pos !== dataLength) {
    fail(`${dataLength - pos} trailing bytes after the last tensor (the data section has ${dataLength})`);
  }
  return { dataStart, byteLength, metadata, tensors };
}

/**
 * Parses a whole file held in memory. Each tensor's `data` is a view into `bytes`.
 *
 * @example
 * const file = parseSafetensors(new Uint8Array(readFileSync("model.safetensors")));
 * file.metadata?.format; // "pt"
 * file.tensors.get("fc.bias"); // { dtype: "F32", shape: [10], data: Uint8Array(40) }
 */
export function parseSafetensors(bytes: Uint8Array, opts: { source?: string } = {}): SafetensorsFile {
  const header = parseSafetensorsHeader(bytes, { source: opts.source });
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [name, { dtype, shape, dataOffsets }] of header.tensors) {
    const data = bytes.subarray(header.dataStart + dataOffsets[0], header.dataStart + dataOffsets[1]);
    tensors.set(name, { dtype, shape, data });
  }
  return { metadata: header.metadata, tensors };
}

// ---- writing ----------------------------------------------------------------------------------

/** What the header needs to know about a tensor to be written. */
export interface SafetensorsEntry {
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
}

export type SafetensorsEntries<T> =
  | ReadonlyMap<string, T>
  | Readonly<Record<string, T>>
  | Iterable<[string, T]>;

/** The header and order of a file to be written; the tensors' bytes follow in `order`. */
export interface SafetensorsLayout {
  /** The first 8 + N bytes: length field and padded JSON. */
  readonly header: Uint8Array;
  /** Names in file order, with their entries and offsets. */
  readonly order: readonly { readonly name: string; readonly info: SafetensorsTensorInfo }[];
  /** The size of the whole file. */
  readonly byteLength: number;
}

function entriesOf<T>(entries: SafetensorsEntries<T>): Iterable<[string, T]> {
  if (entries instanceof Map) return entries;
  if (Symbol.iterator in (entries as object)) return entries as Iterable<[string, T]>;
  return Object.entries(entries as Record<string, T>);
}

// Lone UTF-16 surrogates have no UTF-8 encoding: the file would not be valid UTF-8 JSON.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Rust's `String` order: by UTF-8 bytes, i.e. by code points (not by UTF-16 units as `<` does). */
function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i === n) return a.length - b.length;
  return a.codePointAt(i)! - b.codePointAt(i)!;
}

/**
 * Lays out a file: sorts the tensors as the reference implementation does (dtype, widest first in
 * its enum order, then name), assigns offsets and encodes the header. Writers that stream the
 * tensors' bytes (like `save`) use it; `serializeSafetensors` builds the whole file with it.
 *
 * @example
 * const layout = planSafetensors({ w: { dtype: "F32", shape: [2, 3] } }, { format: "pt" });
 * layout.header.byteLength % 8; // 0
 */
export function planSafetensors(
  entries: SafetensorsEntries<SafetensorsEntry>,
  metadata?: Readonly<Record<string, string>>,
  opts: { source?: string } = {},
): SafetensorsLayout {
  const source = opts.source ?? "<output>";
  const fail = (msg: string): never => {
    throw new SafetensorsError(source, msg);
  };
  const items: { name: string; dtype: SafetensorsDType; shape: number[]; bytes: number }[] = [];
  const names = new Set<string>();
  for (const [name, e] of entriesOf(entries)) {
    if (typeof name !== "string") fail(`tensor names must be strings, got ${typeof name}`);
    if (name === "__metadata__") fail("'__metadata__' is reserved and cannot name a tensor");
    if (LONE_SURROGATE.test(name)) fail(`tensor name ${JSON.stringify(name)} is not valid Unicode`);
    if (names.has(name)) fail(`duplicate tensor name ${JSON.stringify(name)}`);
    names.add(name);
    if (!isDTypeName(e?.dtype))
      fail(`tensor ${JSON.stringify(name)}: unknown dtype ${JSON.stringify(e?.dtype)}`);
    const shape = intArray(e.shape);
    if (!shape) fail(`tensor ${JSON.stringify(name)}: invalid shape ${JSON.stringify(e.shape)}`);
    const bytes = shape!.reduce((a, b) => a * b, DTYPE_BYTES[e.dtype]);
    if (!Number.isSafeInteger(bytes)) fail(`tensor ${JSON.stringify(name)}: shape is too large`);
    items.push({ name, dtype: e.dtype, shape: shape!, bytes });
  }
  items.sort(
    (a, b) => DTYPE_RANK.get(b.dtype)! - DTYPE_RANK.get(a.dtype)! || compareCodePoints(a.name, b.name),
  );

  const parts: string[] = [];
  if (metadata !== undefined) {
    const kv: string[] = [];
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") fail(`metadata ${JSON.stringify(k)} must be a string, got ${describe(v)}`);
      if (LONE_SURROGATE.test(k) || LONE_SURROGATE.test(v))
        fail(`metadata ${JSON.stringify(k)} is not valid Unicode`);
      kv.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
    }
    parts.push(`"__metadata__":{${kv.join(",")}}`);
  }
  const order: { name: string; info: SafetensorsTensorInfo }[] = [];
  let offset = 0;
  for (const it of items) {
    const dataOffsets = [offset, offset + it.bytes] as [number, number];
    offset += it.bytes;
    parts.push(
      `${JSON.stringify(it.name)}:{"dtype":"${it.dtype}","shape":[${it.shape.join(",")}],"data_offsets":[${dataOffsets[0]},${dataOffsets[1]}]}`,
    );
    order.push({ name: it.name, info: { dtype: it.dtype, shape: it.shape, dataOffsets } });
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const n = Math.ceil(json.byteLength / 8) * 8;
  const header = new Uint8Array(8 + n);
  new DataView(header.buffer).setBigUint64(0, BigInt(n), true);
  header.set(json, 8);
  header.fill(0x20, 8 + json.byteLength);
  return { header, order, byteLength: header.byteLength + offset };
}

/**
 * Serialises tensors (raw little-endian bytes per dtype) and optional metadata into one file's
 * bytes, exactly as Python's `safetensors` would. `metadata` undefined writes no `__metadata__`.
 *
 * @example
 * const bytes = serializeSafetensors(
 *   { bias: { dtype: "F32", shape: [2], data: new Uint8Array(new Float32Array([1, 2]).buffer) } },
 *   { format: "pt" },
 * );
 * parseSafetensors(bytes).tensors.get("bias")?.shape; // [2]
 */
export function serializeSafetensors(
  entries: SafetensorsEntries<SafetensorsTensor>,
  metadata?: Readonly<Record<string, string>>,
  opts: { source?: string } = {},
): Uint8Array {
  const list = [...entriesOf(entries)];
  const layout = planSafetensors(list, metadata, opts);
  const data = new Map(list);
  const out = new Uint8Array(layout.byteLength);
  out.set(layout.header, 0);
  for (const { name, info } of layout.order) {
    const t = data.get(name)!;
    const want = info.dataOffsets[1] - info.dataOffsets[0];
    if (!(t.data instanceof Uint8Array) || t.data.byteLength !== want) {
      throw new SafetensorsError(
        opts.source ?? "<output>",
        `tensor ${JSON.stringify(name)}: data has ${t.data?.byteLength ?? "no"} bytes but ${info.dtype} shape [${info.shape.join(", ")}] needs ${want}`,
      );
    }
    out.set(t.data, layout.header.byteLength + info.dataOffsets[0]);
  }
  return out;
}

// ---- Tessera dtypes ---------------------------------------------------------------------------

/**
 * The safetensors dtype a Tessera dtype is written as: float32 → F32, float64 → F64, float16 → F16,
 * bfloat16 → BF16, int32 → I32 (or I64 with `intDtype`), bool → BOOL.
 *
 * @example
 * safetensorsDType("bfloat16"); // "BF16"
 * safetensorsDType("int32", "I64"); // "I64"
 */
export function safetensorsDType(dtype: DType, intDtype: "I32" | "I64" = "I32"): SafetensorsDType {
  switch (dtype) {
    case "float32":
      return "F32";
    case "float64":
      return "F64";
    case "float16":
      return "F16";
    case "bfloat16":
      return "BF16";
    case "int32":
      return intDtype;
    case "bool":
      return "BOOL";
  }
}

/**
 * A tensor's storage values as safetensors bytes (`values` as `backend.read` returns them: half
 * dtypes as their 16-bit patterns). int32 → I64 sign-extends. The result may share memory with
 * `values`.
 *
 * @example
 * encodeSafetensorsData(new Int32Array([-1]), "int32", "I64"); // 8 bytes ff ff ff ff ff ff ff ff
 */
export function encodeSafetensorsData(values: StorageArray, from: DType, to: SafetensorsDType): Uint8Array {
  requireLittleEndian("<output>");
  if (from === "int32" && to === "I64") {
    const src = values as Int32Array;
    const out = new Int32Array(src.length * 2);
    for (let i = 0; i < src.length; i++) {
      const v = src[i]!;
      out[2 * i] = v;
      out[2 * i + 1] = v >> 31;
    }
    return new Uint8Array(out.buffer);
  }
  if (safetensorsDType(from, to === "I64" ? "I64" : "I32") !== to) {
    throw new TypeError(`encodeSafetensorsData: cannot write ${from} as ${to}`);
  }
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/** How file dtypes become Tessera dtypes. */
export interface DecodeSafetensorsOptions {
  /** Read F64 as float64 (true) or round it to float32 (false, the default: not every backend has float64). */
  float64?: boolean;
  /** Named in errors. */
  source?: string;
}

function multiIndex(i: number, shape: readonly number[]): string {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return `[${idx.join(", ")}]`;
}

/**
 * A safetensors tensor's bytes as a Tessera dtype and storage values (what `backend.write` takes):
 * F32/F16/BF16/I32/BOOL map directly (BOOL bytes other than 0 become 1); F64 → float64 or float32
 * (`opts.float64`); U8/I8/I16/U16 widen to int32; I64/U32/U64 narrow to int32 and throw, naming the
 * tensor and element, when a value does not fit; F8 types have no Tessera dtype. Aligned input is
 * viewed, not copied, where no conversion is needed.
 *
 * @example
 * const t = parseSafetensors(bytes).tensors.get("num_batches_tracked")!; // I64
 * decodeSafetensorsData("num_batches_tracked", t); // { dtype: "int32", values: Int32Array [7] }
 */
export function decodeSafetensorsData(
  name: string,
  t: SafetensorsTensor,
  opts: DecodeSafetensorsOptions = {},
): { dtype: DType; values: StorageArray } {
  const source = opts.source ?? "<bytes>";
  requireLittleEndian(source);
  const bytes = t.data;
  const n = bytes.byteLength / DTYPE_BYTES[t.dtype];
  const view = <A>(Ctor: {
    new (b: ArrayBufferLike, off: number, len: number): A;
    BYTES_PER_ELEMENT: number;
  }) =>
    bytes.byteOffset % Ctor.BYTES_PER_ELEMENT === 0
      ? new Ctor(bytes.buffer, bytes.byteOffset, (n * DTYPE_BYTES[t.dtype]) / Ctor.BYTES_PER_ELEMENT)
      : new Ctor(bytes.slice().buffer, 0, (n * DTYPE_BYTES[t.dtype]) / Ctor.BYTES_PER_ELEMENT);
  const tooBig = (i: number, v: bigint | number): never => {
    throw new SafetensorsError(
      source,
      `tensor ${JSON.stringify(name)}: element ${i} ${multiIndex(i, t.shape)} = ${v} does not fit in int32 ` +
        `(${t.dtype} is read as int32, Tessera has no 64-bit integers)`,
    );
  };
  switch (t.dtype) {
    case "F32":
      return { dtype: "float32", values: view(Float32Array) };
    case "F64": {
      const v = view(Float64Array);
      return opts.float64
        ? { dtype: "float64", values: v }
        : { dtype: "float32", values: new Float32Array(v) };
    }
    case "F16":
      return { dtype: "float16", values: view(Uint16Array) };
    case "BF16":
      return { dtype: "bfloat16", values: view(Uint16Array) };
    case "I32":
      return { dtype: "int32", values: view(Int32Array) };
    case "BOOL": {
      let clean = true;
      for (let i = 0; i < n; i++) if (bytes[i]! > 1) clean = false;
      if (clean) return { dtype: "bool", values: bytes };
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = bytes[i] !== 0 ? 1 : 0;
      return { dtype: "bool", values: out };
    }
    case "U8":
      return { dtype: "int32", values: new Int32Array(bytes) };
    case "I8":
      return { dtype: "int32", values: new Int32Array(view(Int8Array)) };
    case "I16":
      return { dtype: "int32", values: new Int32Array(view(Int16Array)) };
    case "U16":
      return { dtype: "int32", values: new Int32Array(view(Uint16Array)) };
    case "U32": {
      const src = view(Uint32Array);
      for (let i = 0; i < n; i++) if (src[i]! > 0x7fffffff) tooBig(i, src[i]!);
      return { dtype: "int32", values: new Int32Array(src) };
    }
    case "I64":
    case "U64": {
      const words = view(Int32Array);
      const out = new Int32Array(n);
      const signed = t.dtype === "I64";
      for (let i = 0; i < n; i++) {
        const lo = words[2 * i]!;
        const hi = words[2 * i + 1]!;
        if (hi !== (signed ? lo >> 31 : 0) || (!signed && lo < 0)) {
          const big = new DataView(words.buffer, words.byteOffset + 8 * i, 8);
          tooBig(i, signed ? big.getBigInt64(0, true) : big.getBigUint64(0, true));
        }
        out[i] = lo;
      }
      return { dtype: "int32", values: out };
    }
    default:
      throw new SafetensorsError(
        source,
        `tensor ${JSON.stringify(name)}: dtype ${t.dtype} has no Tessera dtype`,
      );
  }
}

// ---- a strict JSON parser ---------------------------------------------------------------------
// JSON.parse cannot report duplicate keys and turns "__proto__" into a prototype: the header is
// parsed here instead, into Maps, with a depth limit so hostile input cannot exhaust the stack.

type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | JsonObject;
type JsonObject = Map<string, JsonValue>;

/** A number kept as written, so that integers beyond 2^53 and non-integers can be told apart. */
class JsonNumber {
  constructor(readonly text: string) {}
}

const MAX_DEPTH = 64;

function parseJson(s: string, fail: (msg: string) => never): JsonObject {
  let i = 0;
  const at = () => (i < s.length ? `at character ${i}` : "at the end");
  const ws = () => {
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else return;
    }
  };
  const str = (): string => {
    i++; // opening quote
    let out = "";
    let start = i;
    for (;;) {
      if (i >= s.length) fail("unterminated string");
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        out += s.slice(start, i);
        i++;
        break;
      }
      if (c < 0x20) fail(`control character in a string ${at()}`);
      if (c === 0x5c) {
        out += s.slice(start, i);
        const e = s[i + 1];
        i += 2;
        switch (e) {
          case '"':
            out += '"';
            break;
          case "\\":
            out += "\\";
            break;
          case "/":
            out += "/";
            break;
          case "b":
            out += "\b";
            break;
          case "f":
            out += "\f";
            break;
          case "n":
            out += "\n";
            break;
          case "r":
            out += "\r";
            break;
          case "t":
            out += "\t";
            break;
          case "u": {
            const hex = s.slice(i, i + 4);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail(`bad \\u escape ${at()}`);
            out += String.fromCharCode(Number.parseInt(hex, 16));
            i += 4;
            break;
          }
          default:
            fail(`bad escape ${at()}`);
        }
        start = i;
        continue;
      }
      i++;
    }
    if (LONE_SURROGATE.test(out)) fail(`unpaired surrogate in a string before ${at()}`);
    return out;
  };
  const value = (depth: number): JsonValue => {
    if (depth > MAX_DEPTH) fail(`nested deeper than ${MAX_DEPTH} levels`);
    ws();
    const c = s[i];
    if (c === "{") {
      i++;
      const obj: JsonObject = new Map();
      ws();
      if (s[i] === "}") {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (s[i] !== '"') fail(`expected a string key ${at()}`);
        const key = str();
        if (obj.has(key)) fail(`duplicate key ${JSON.stringify(key)}`);
        ws();
        if (s[i] !== ":") fail(`expected ':' ${at()}`);
        i++;
        obj.set(key, value(depth + 1));
        ws();
        if (s[i] === ",") i++;
        else if (s[i] === "}") {
          i++;
          return obj;
        } else fail(`expected ',' or '}' ${at()}`);
      }
    }
    if (c === "[") {
      i++;
      const arr: JsonValue[] = [];
      ws();
      if (s[i] === "]") {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value(depth + 1));
        ws();
        if (s[i] === ",") i++;
        else if (s[i] === "]") {
          i++;
          return arr;
        } else fail(`expected ',' or ']' ${at()}`);
      }
    }
    if (c === '"') return str();
    const m = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/.exec(s.slice(i, i + 400));
    if (m && m[0].length > 0) {
      i += m[0].length;
      return new JsonNumber(m[0]);
    }
    for (const [word, v] of [
      ["true", true],
      ["false", false],
      ["null", null],
    ] as const) {
      if (s.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    return fail(`unexpected ${i < s.length ? JSON.stringify(s[i]) : "end"} ${at()}`);
  };
  ws();
  if (s[i] !== "{") fail(`expected a JSON object, got ${i < s.length ? JSON.stringify(s[i]) : "nothing"}`);
  const root = value(0) as JsonObject;
  ws();
  if (i !== s.length) fail(`unexpected ${JSON.stringify(s[i])} after the JSON object ${at()}`);
  return root;
}

function intArray(v: unknown): number[] | null {
  if (!Array.isArray(v)) return null;
  const out: number[] = [];
  for (const x of v) {
    if (typeof x === "number" && Number.isSafeInteger(x) && x >= 0) out.push(x);
    else if (x instanceof JsonNumber && /^[0-9]+$/.test(x.text) && Number.isSafeInteger(Number(x.text)))
      out.push(Number(x.text));
    else return null;
  }
  return out;
}

function describe(v: unknown): string {
  if (v instanceof JsonNumber) return v.text;
  if (v instanceof Map) return "an object";
  if (Array.isArray(v)) return `[${v.map(describe).join(", ")}]`.slice(0, 80);
  if (typeof v === "string") return JSON.stringify(v).slice(0, 80);
  return String(v);
}

/** Sets an own property even for keys like "__proto__". */
function setOwn(obj: Record<string, string>, key: string, value: string): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}
