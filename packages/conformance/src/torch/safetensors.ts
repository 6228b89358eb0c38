/**
 * A small, strict, read-only safetensors reader for the PyTorch golden files (only `F32` and `I64`
 * occur there). Layout: `u64 LE` header length N, N bytes of UTF-8 JSON (`__metadata__` plus one
 * entry per tensor), then the raw little-endian data; `data_offsets` are relative to byte 8 + N and
 * must tile the data section exactly (no gaps, overlaps or trailing bytes), as in the reference
 * implementation. Every violation throws a `SafetensorsError` naming the file and the problem.
 */

export type SafetensorsDType = "F32" | "I64";

export interface SafetensorsTensor {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  /** `[]` for a 0-d tensor (one element). */
  readonly shape: readonly number[];
  /** Own copies: Float32Array for F32, BigInt64Array for I64. */
  readonly data: Float32Array | BigInt64Array;
}

export interface SafetensorsFile {
  /** `__metadata__` (string → string); empty when absent. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Tensors by name, in header order. */
  readonly tensors: ReadonlyMap<string, SafetensorsTensor>;
}

export class SafetensorsError extends Error {
  constructor(source: string, message: string) {
    super(`safetensors ${source}: ${message}`);
    this.name = "SafetensorsError";
  }
}

const ELEMENT_BYTES: Record<SafetensorsDType, number> = { F32: 4, I64: 8 };

/** Header lengths above this are rejected as corrupt (the reference implementation uses 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

function isLittleEndianHost(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

/**
 * Parses a whole safetensors file. `source` (a path or label) only appears in error messages.
 * The returned tensors own their data (the input buffer can be reused).
 */
export function readSafetensors(bytes: Uint8Array | ArrayBuffer, source = "<buffer>"): SafetensorsFile {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const fail = (msg: string): never => {
    throw new SafetensorsError(source, msg);
  };
  if (!isLittleEndianHost()) fail("this reader needs a little-endian host");
  if (u8.byteLength < 8)
    fail(`truncated file: ${u8.byteLength} bytes, need at least 8 for the header length`);

  const dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const headerLen64 = dv.getBigUint64(0, true);
  if (headerLen64 > BigInt(MAX_HEADER_BYTES))
    fail(`header length ${headerLen64} is implausibly large (corrupt file?)`);
  const headerLen = Number(headerLen64);
  if (8 + headerLen > u8.byteLength) {
    fail(
      `truncated file: header claims ${headerLen} bytes but only ${u8.byteLength - 8} follow the length field`,
    );
  }

  let header: unknown;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(u8.subarray(8, 8 + headerLen));
    header = JSON.parse(text);
  } catch (e) {
    fail(`malformed header: not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    fail("malformed header: expected a JSON object");
  }

  const dataStart = 8 + headerLen;
  const dataLen = u8.byteLength - dataStart;
  const metadata: Record<string, string> = {};
  const entries: { name: string; dtype: SafetensorsDType; shape: number[]; begin: number; end: number }[] =
    [];

  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof raw !== "object" || raw === null || Array.isArray(raw))
        fail("__metadata__ must be an object");
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== "string") fail(`__metadata__.${k} must be a string, got ${typeof v}`);
        metadata[k] = v as string;
      }
      continue;
    }
    if (typeof raw !== "object" || raw === null) fail(`tensor '${name}': entry must be an object`);
    const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
    if (dtype !== "F32" && dtype !== "I64") {
      fail(`tensor '${name}': unsupported dtype ${JSON.stringify(dtype)} (this reader handles F32 and I64)`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor '${name}': shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      fail(
        `tensor '${name}': data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offsets)}`,
      );
    }
    const dt = dtype as SafetensorsDType;
    const [begin, end] = offsets as [number, number];
    const numel = (shape as number[]).reduce((a, b) => a * b, 1);
    const want = numel * ELEMENT_BYTES[dt];
    if (end - begin !== want) {
      fail(
        `tensor '${name}': data_offsets [${begin}, ${end}] span ${end - begin} bytes but ${dt} shape ` +
          `[${(shape as number[]).join(", ")}] needs ${want}`,
      );
    }
    if (end > dataLen) {
      fail(
        `truncated file: tensor '${name}' ends at data byte ${end} but the data section has only ${dataLen} bytes`,
      );
    }
    entries.push({ name, dtype: dt, shape: shape as number[], begin, end });
  }

  // The tensors must tile the data section exactly.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const e of sorted) {
    if (e.begin < pos)
      fail(`tensor '${e.name}': data_offsets [${e.begin}, ${e.end}] overlap the previous tensor`);
    if (e.begin > pos)
      fail(`tensor '${e.name}': gap in the data section before byte ${e.begin} (expected ${pos})`);
    pos = e.end;
  }
  if (pos !== dataLen)
    fail(`${dataLen - pos} trailing bytes after the last tensor (data section ${dataLen} bytes)`);

  const tensors = new Map<string, SafetensorsTensor>();
  for (const e of entries) {
    // Copying makes every tensor aligned and independent of the caller's buffer.
    const buf = u8.buffer.slice(u8.byteOffset + dataStart + e.begin, u8.byteOffset + dataStart + e.end);
    const data = e.dtype === "F32" ? new Float32Array(buf) : new BigInt64Array(buf);
    tensors.set(
      e.name,
      Object.freeze({ name: e.name, dtype: e.dtype, shape: Object.freeze([...e.shape]), data }),
    );
  }
  return { metadata, tensors };
}

/** An I64 tensor's values as Int32Array; throws if one does not fit in int32. */
export function toInt32Array(t: SafetensorsTensor): Int32Array {
  if (t.dtype !== "I64") throw new TypeError(`toInt32Array: tensor '${t.name}' is ${t.dtype}, not I64`);
  const src = t.data as BigInt64Array;
  const out = new Int32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    if (v < -2147483648n || v > 2147483647n) {
      throw new RangeError(`toInt32Array: tensor '${t.name}' element ${i} = ${v} does not fit in int32`);
    }
    out[i] = Number(v);
  }
  return out;
}

/** Parses a JSON-valued metadata key (e.g. `tolerance`, `config`, `bool_inputs`); `fallback` when absent. */
export function metadataJson<T>(file: SafetensorsFile, key: string, fallback?: T): T {
  const raw = file.metadata[key];
  if (raw === undefined) {
    if (fallback !== undefined) return fallback;
    throw new Error(`safetensors metadata: key '${key}' is missing`);
  }
  try {
    return JSON.parse(raw) as T;
  } catch (e) {
    throw new Error(`safetensors metadata: key '${key}' is not valid JSON (${(e as Error).message})`);
  }
}
