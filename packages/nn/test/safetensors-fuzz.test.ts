/**
 * Fuzzing the safetensors reader: random valid files round-trip byte for byte; random corruptions,
 * truncations and hostile headers either parse to a consistent result or throw a SafetensorsError —
 * never another exception, never a hang. fast-check prints the seed and the shrunk case on failure.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  parseSafetensors,
  parseSafetensorsHeader,
  SAFETENSORS_DTYPES,
  SafetensorsError,
  type SafetensorsFile,
  type SafetensorsTensor,
  safetensorsDTypeSize,
  serializeSafetensors,
} from "../src/safetensors.js";

const DTYPES = SAFETENSORS_DTYPES;

type ValueOf<A> = A extends fc.Arbitrary<infer T> ? T : never;

/** Deterministic filler bytes, so that data need not be generated element by element. */
function filler(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const name = fc.oneof(
  fc.string({ unit: "binary", maxLength: 12 }),
  fc.constantFrom("weight", "bias", "layers.0.attn.qkv.weight", "", "__proto__", "é", "\u{1F600}"),
);
const tensorSpec = fc.record({
  dtype: fc.constantFrom(...DTYPES),
  shape: fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 4 }),
  seed: fc.integer(),
});
const validFile = fc.record({
  tensors: fc.uniqueArray(fc.tuple(name, tensorSpec), { maxLength: 8, selector: ([n]) => n }),
  metadata: fc.option(
    fc.dictionary(fc.string({ unit: "binary", maxLength: 8 }), fc.string({ unit: "binary", maxLength: 16 }), {
      maxKeys: 4,
    }),
    {
      nil: undefined,
    },
  ),
});

function build(spec: ValueOf<typeof validFile>): {
  bytes: Uint8Array;
  tensors: Map<string, SafetensorsTensor>;
} {
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [n, { dtype, shape, seed }] of spec.tensors) {
    if (n === "__metadata__") continue;
    const numel = shape.reduce((a, b) => a * b, 1);
    tensors.set(n, { dtype, shape, data: filler(numel * safetensorsDTypeSize(dtype), seed) });
  }
  return { bytes: serializeSafetensors(tensors, spec.metadata), tensors };
}

/** A successful parse must describe the file consistently, re-serialise, and agree with JSON.parse. */
function checkConsistent(bytes: Uint8Array, file: SafetensorsFile): void {
  let total = 0;
  for (const t of file.tensors.values()) {
    expect(t.data.byteLength).toBe(t.shape.reduce((a, b) => a * b, 1) * safetensorsDTypeSize(t.dtype));
    total += t.data.byteLength;
  }
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  expect(8 + n + total).toBe(bytes.byteLength);
  const oracle = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  expect(
    Object.keys(oracle)
      .filter((k) => k !== "__metadata__")
      .sort(),
  ).toEqual([...file.tensors.keys()].sort());
  if (file.metadata) expect(oracle.__metadata__).toEqual({ ...file.metadata });
  const again = parseSafetensors(serializeSafetensors(file.tensors, file.metadata));
  expect(again.metadata).toEqual(file.metadata);
  expect(new Map(again.tensors)).toEqual(new Map(file.tensors));
}

/** Returns whether the bytes parsed (for the tests to check that both outcomes occur). */
function parseOrSafetensorsError(bytes: Uint8Array): boolean {
  let file: SafetensorsFile;
  try {
    file = parseSafetensors(bytes, { source: "fuzz" });
  } catch (e) {
    if (!(e instanceof SafetensorsError))
      throw new Error(`not a SafetensorsError: ${String(e)}`, { cause: e });
    expect(e.message.startsWith("safetensors fuzz: ")).toBe(true);
    return false;
  }
  checkConsistent(bytes, file);
  return true;
}

const mutation = fc.oneof(
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("bytes" as const),
    edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
  }),
  fc.record({
    kind: fc.constant("headerLength" as const),
    value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  }),
  fc.record({ kind: fc.constant("headerDelta" as const), delta: fc.integer({ min: -16, max: 16 }) }),
  fc.record({
    kind: fc.constant("headerText" as const),
    at: fc.nat(),
    remove: fc.integer({ min: 0, max: 3 }),
    insert: fc.constantFrom(
      "",
      "{",
      "}",
      "[",
      "]",
      ",",
      ":",
      '"',
      "0",
      "-1",
      "1e3",
      "\\",
      "\u0000",
      "null",
      "9".repeat(20),
    ),
  }),
  fc.record({ kind: fc.constant("append" as const), extra: fc.uint8Array({ minLength: 1, maxLength: 9 }) }),
);

function mutate(bytes: Uint8Array, m: ValueOf<typeof mutation>): Uint8Array {
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  switch (m.kind) {
    case "truncate":
      return bytes.slice(0, m.at % (bytes.byteLength + 1));
    case "bytes": {
      const out = bytes.slice();
      for (const [at, v] of m.edits) out[at % out.byteLength] = v;
      return out;
    }
    case "headerLength": {
      const out = bytes.slice();
      new DataView(out.buffer).setBigUint64(0, m.value, true);
      return out;
    }
    case "headerDelta": {
      const out = bytes.slice();
      new DataView(out.buffer).setBigUint64(0, BigInt(Math.max(0, n + m.delta)), true);
      return out;
    }
    case "headerText": {
      if (8 + n > bytes.byteLength) return bytes;
      const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
      const at = m.at % (text.length + 1);
      const json = new TextEncoder().encode(text.slice(0, at) + m.insert + text.slice(at + m.remove));
      const out = new Uint8Array(8 + json.byteLength + bytes.byteLength - 8 - n);
      new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
      out.set(json, 8);
      out.set(bytes.subarray(8 + n), 8 + json.byteLength);
      return out;
    }
    case "append": {
      const out = new Uint8Array(bytes.byteLength + m.extra.byteLength);
      out.set(bytes);
      out.set(m.extra, bytes.byteLength);
      return out;
    }
  }
}

const jsonish: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.record(
    {
      dtype: fc.oneof(fc.constantFrom(...DTYPES), fc.string({ maxLength: 4 }), fc.integer()),
      shape: fc.oneof(
        fc.array(fc.integer({ min: -2, max: 6 }), { maxLength: 3 }),
        fc.jsonValue({ maxDepth: 1 }),
      ),
      data_offsets: fc.oneof(
        fc.array(fc.integer({ min: -4, max: 64 }), { maxLength: 3 }),
        fc.jsonValue({ maxDepth: 1 }),
      ),
    },
    { requiredKeys: [] },
  ),
);

describe("safetensors parser fuzz", () => {
  it("random valid files round-trip byte for byte, with every tensor aligned to its element size", () => {
    fc.assert(
      fc.property(validFile, (spec) => {
        const { bytes, tensors } = build(spec);
        const file = parseSafetensors(bytes);
        expect(file.metadata).toEqual(spec.metadata);
        expect(new Map(file.tensors)).toEqual(tensors);
        expect(Buffer.compare(serializeSafetensors(file.tensors, file.metadata), bytes)).toBe(0);
        for (const t of file.tensors.values())
          expect(t.data.byteOffset % safetensorsDTypeSize(t.dtype)).toBe(0);
      }),
      { numRuns: 500 },
    );
  });

  it("corrupted, truncated and extended files parse consistently or throw a SafetensorsError", () => {
    const outcomes = [0, 0];
    fc.assert(
      fc.property(validFile, fc.array(mutation, { minLength: 1, maxLength: 3 }), (spec, mutations) => {
        let bytes = build(spec).bytes;
        for (const m of mutations) if (bytes.byteLength >= 8) bytes = mutate(bytes, m);
        outcomes[parseOrSafetensorsError(bytes) ? 1 : 0]!++;
      }),
      { numRuns: 1500 },
    );
    expect(outcomes[0]).toBeGreaterThan(100);
    expect(outcomes[1]).toBeGreaterThan(10);
  });

  it("random headers (any JSON, half-valid tensor entries) parse consistently or throw a SafetensorsError", () => {
    const outcomes = [0, 0];
    fc.assert(
      fc.property(
        fc.oneof(fc.dictionary(name, jsonish, { maxKeys: 4 }), fc.jsonValue({ maxDepth: 2 })),
        fc.integer({ min: 0, max: 80 }),
        (header, dataBytes) => {
          const json = new TextEncoder().encode(JSON.stringify(header) ?? "");
          const bytes = new Uint8Array(8 + json.byteLength + dataBytes);
          new DataView(bytes.buffer).setBigUint64(0, BigInt(json.byteLength), true);
          bytes.set(json, 8);
          outcomes[parseOrSafetensorsError(bytes) ? 1 : 0]!++;
          // The header-only path agrees with the whole-file path.
          let a: unknown;
          let b: unknown;
          try {
            a = parseSafetensors(bytes).tensors.size;
          } catch (e) {
            a = (e as Error).message;
          }
          try {
            b = parseSafetensorsHeader(bytes.subarray(0, 8 + json.byteLength), {
              byteLength: bytes.byteLength,
            }).tensors.size;
          } catch (e) {
            b = (e as Error).message;
          }
          expect(b).toEqual(a);
        },
      ),
      { numRuns: 1000 },
    );
    expect(outcomes[0]).toBeGreaterThan(100);
    // Random headers rarely tile the data exactly; the valid ones come from the other properties.
    expect(outcomes[0] + outcomes[1]).toBe(1000);
  });
});
