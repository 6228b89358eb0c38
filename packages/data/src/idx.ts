/**
 * The IDX format of MNIST and Fashion-MNIST: `00 00 <type> <ndim>`, then `ndim` big-endian uint32
 * dimensions, then the values row-major and big-endian. Files are often gzipped; gzip is detected by
 * its magic bytes (`1f 8b`), not by the file name, so a renamed file still reads.
 */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { gunzipSync, gzipSync } from "node:zlib";
import { DataError } from "./errors.js";

/** An n-dimensional array read from or written to an IDX file. */
export interface IdxArray {
  dtype: "uint8" | "int8" | "int16" | "int32" | "float32" | "float64";
  shape: number[];
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

type IdxDtype = IdxArray["dtype"];

const CODE_TO_DTYPE: Record<number, IdxDtype> = {
  8: "uint8",
  9: "int8",
  11: "int16",
  12: "int32",
  13: "float32",
  14: "float64",
};

const DTYPE_INFO: Record<IdxDtype, { code: number; size: number }> = {
  uint8: { code: 0x08, size: 1 },
  int8: { code: 0x09, size: 1 },
  int16: { code: 0x0b, size: 2 },
  int32: { code: 0x0c, size: 4 },
  float32: { code: 0x0d, size: 4 },
  float64: { code: 0x0e, size: 8 },
};

/**
 * Parses IDX bytes (raw or gzipped). `path` only names the file in errors.
 * Wrong magic, an unknown type code, or a byte count that disagrees with the header is a `DataError`
 * saying what was expected and what was found.
 *
 * @example
 * ```ts
 * import { encodeIdx, parseIdx } from "@tessera/data";
 * const bytes = encodeIdx({ dtype: "uint8", shape: [2, 2], data: new Uint8Array([1, 2, 3, 4]) });
 * parseIdx(bytes).shape; // [2, 2]
 * ```
 */
export function parseIdx(bytes: Uint8Array, path?: string): IdxArray {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new DataError(
        `truncated or corrupt gzip stream in an IDX file (${(e as Error).message}); re-download the file`,
        path,
        { cause: e },
      );
    }
  }
  if (bytes.length < 4) {
    throw new DataError(
      `not an IDX file: ${bytes.length} bytes, shorter than the 4-byte header (00 00 <type> <ndim>)`,
      path,
    );
  }
  const typeCode = bytes[2]!;
  const dtype = CODE_TO_DTYPE[typeCode];
  if (bytes[0] !== 0 || bytes[1] !== 0 || dtype === undefined) {
    throw new DataError(
      `not an IDX file: magic is ${hex(bytes.subarray(0, 4))}, expected 00 00 <type 08|09|0b|0c|0d|0e> <ndim>`,
      path,
    );
  }
  const ndim = bytes[3]!;
  const headerSize = 4 + 4 * ndim;
  if (bytes.length < headerSize) {
    throw new DataError(
      `truncated IDX header: ${ndim} dimensions need ${headerSize} header bytes, the file has ${bytes.length}`,
      path,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  let count = 1;
  for (let d = 0; d < ndim; d++) {
    const n = view.getUint32(4 + 4 * d, false);
    shape.push(n);
    count *= n;
  }
  const { size } = DTYPE_INFO[dtype];
  const expected = headerSize + count * size;
  if (bytes.length !== expected) {
    throw new DataError(
      `IDX size mismatch: header says ${dtype} [${shape.join(", ")}] = ${expected} bytes, the file has ${bytes.length}` +
        (bytes.length < expected ? " (truncated?)" : ""),
      path,
    );
  }
  return { dtype, shape, data: readValues(view, headerSize, dtype, count) };
}

function readValues(view: DataView, offset: number, dtype: IdxDtype, count: number): IdxArray["data"] {
  switch (dtype) {
    case "uint8":
      return new Uint8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count));
    case "int8":
      return new Int8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count));
    case "int16": {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case "int32": {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case "float32": {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case "float64": {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

/**
 * Encodes an array as IDX bytes (gzipped with `{ gzip: true }`).
 *
 * @example
 * ```ts
 * import { encodeIdx } from "@tessera/data";
 * const labels = encodeIdx({ dtype: "uint8", shape: [3], data: new Uint8Array([0, 9, 4]) }, { gzip: true });
 * ```
 */
export function encodeIdx(arr: IdxArray, opts: { gzip?: boolean } = {}): Uint8Array {
  const info = DTYPE_INFO[arr.dtype];
  if (info === undefined) {
    throw new TypeError(
      `encodeIdx: unknown dtype ${JSON.stringify(arr.dtype)}; use one of ${Object.keys(DTYPE_INFO).join(", ")}`,
    );
  }
  if (arr.shape.length > 255)
    throw new RangeError(`encodeIdx: IDX holds at most 255 dimensions, got ${arr.shape.length}`);
  let count = 1;
  for (const n of arr.shape) {
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
      throw new RangeError(`encodeIdx: shape [${arr.shape.join(", ")}] has a dimension that is not a uint32`);
    }
    count *= n;
  }
  if (arr.data.length !== count) {
    throw new RangeError(
      `encodeIdx: shape [${arr.shape.join(", ")}] needs ${count} values, data has ${arr.data.length}`,
    );
  }
  const headerSize = 4 + 4 * arr.shape.length;
  const out = new Uint8Array(headerSize + count * info.size);
  const view = new DataView(out.buffer);
  out[2] = info.code;
  out[3] = arr.shape.length;
  for (let d = 0; d < arr.shape.length; d++) view.setUint32(4 + 4 * d, arr.shape[d]!, false);
  const src = arr.data;
  const o = headerSize;
  switch (arr.dtype) {
    case "uint8":
    case "int8":
      out.set(new Uint8Array(src.buffer, src.byteOffset, count), o);
      break;
    case "int16":
      for (let i = 0; i < count; i++) view.setInt16(o + 2 * i, src[i]!, false);
      break;
    case "int32":
      for (let i = 0; i < count; i++) view.setInt32(o + 4 * i, src[i]!, false);
      break;
    case "float32":
      for (let i = 0; i < count; i++) view.setFloat32(o + 4 * i, src[i]!, false);
      break;
    case "float64":
      for (let i = 0; i < count; i++) view.setFloat64(o + 8 * i, src[i]!, false);
      break;
  }
  return opts.gzip ? new Uint8Array(gzipSync(out)) : out;
}

/**
 * Reads an IDX file (raw or gzipped).
 *
 * @example
 * ```ts
 * import { readIdx } from "@tessera/data";
 * const images = await readIdx("train-images-idx3-ubyte.gz"); // { dtype: "uint8", shape: [N, 28, 28], … }
 * ```
 */
export async function readIdx(path: string): Promise<IdxArray> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new DataError(`cannot read the IDX file (${(e as Error).message})`, path, { cause: e });
  }
  return parseIdx(bytes, path);
}

/**
 * Reads an IDX file synchronously (for worker start-up and scripts).
 *
 * @example
 * ```ts
 * import { readIdxSync } from "@tessera/data";
 * const labels = readIdxSync("train-labels-idx1-ubyte.gz").data; // Uint8Array of class indices
 * ```
 */
export function readIdxSync(path: string): IdxArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new DataError(`cannot read the IDX file (${(e as Error).message})`, path, { cause: e });
  }
  return parseIdx(bytes, path);
}

function hex(b: Uint8Array): string {
  return Array.from(b, (v) => v.toString(16).padStart(2, "0")).join(" ");
}
