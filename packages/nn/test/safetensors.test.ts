import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  decodeSafetensorsData,
  encodeSafetensorsData,
  parseSafetensors,
  parseSafetensorsHeader,
  planSafetensors,
  SafetensorsError,
  type SafetensorsTensor,
  serializeSafetensors,
} from "../src/safetensors.js";

const FIXTURES = new URL("./fixtures/", import.meta.url);
const fixtureNames = readdirSync(FIXTURES)
  .filter((f) => f.endsWith(".safetensors"))
  .sort();

const enc = new TextEncoder();
const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** A file from a header object (JSON-encoded as given, padded) and a data section. */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0), headerText?: string): Uint8Array {
  const json = enc.encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(data, 8 + json.byteLength);
  return out;
}

function expectError(bytes: Uint8Array, message: RegExp): void {
  let err: unknown;
  try {
    parseSafetensors(bytes, { source: "case.safetensors" });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SafetensorsError);
  expect((err as Error).message).toMatch(/^safetensors case\.safetensors: /);
  expect((err as Error).message).toMatch(message);
}

const f32 = (n: number) => ({ dtype: "F32", shape: [n], data_offsets: [0, 4 * n] });

describe("safetensors interop with Python's writer", () => {
  it("finds the PyTorch fixtures, with I64 tensors and metadata among them", () => {
    const withI64 = fixtureNames.filter((f) => {
      const file = parseSafetensors(new Uint8Array(readFileSync(new URL(f, FIXTURES))));
      return file.metadata?.set === "public" && [...file.tensors.values()].some((t) => t.dtype === "I64");
    });
    expect(withI64.length).toBeGreaterThanOrEqual(5);
  });

  // The shared golden files ("set": "public") come from the Python writer; files generated in this
  // package ("set": "nn-local") use another JSON spacing, so they only have to read back the same.
  for (const name of fixtureNames) {
    const bytes = new Uint8Array(readFileSync(new URL(name, FIXTURES)));
    const file = parseSafetensors(bytes, { source: name });
    if (file.metadata?.set === "public") {
      it(`re-serialising ${name} gives its original bytes`, () => {
        expect(file.metadata?.case).toBe(name.replace(/\.safetensors$/, ""));
        const again = serializeSafetensors(file.tensors, file.metadata);
        expect(again.byteLength).toBe(bytes.byteLength);
        expect(Buffer.compare(again, bytes)).toBe(0);
      });
    } else {
      it(`re-serialising ${name} keeps its tensors and metadata`, () => {
        const again = parseSafetensors(serializeSafetensors(file.tensors, file.metadata));
        expect(again.metadata).toEqual(file.metadata);
        expect(new Map(again.tensors)).toEqual(new Map(file.tensors));
      });
    }
  }

  it("re-serialising a file written by Python's safetensors 0.8 (every dtype) gives its original bytes", () => {
    const bytes = new Uint8Array(readFileSync(new URL("safetensors/python-dtypes.safetensors", FIXTURES)));
    const file = parseSafetensors(bytes);
    expect(file.metadata).toEqual({ format: "pt", writer: "safetensors 0.8.0", note: "ünïcode ✓" });
    expect(new Set([...file.tensors.values()].map((t) => t.dtype))).toEqual(
      new Set(["I64", "F64", "F32", "I32", "BF16", "F16", "I16", "I8", "U8", "BOOL"]),
    );
    expect(Buffer.compare(serializeSafetensors(file.tensors, file.metadata), bytes)).toBe(0);
    const values = (n: string) => [
      ...decodeSafetensorsData(n, file.tensors.get(n)!, { float64: true }).values,
    ];
    expect(values("i64")).toEqual([-(2 ** 31), 2 ** 31 - 1, 0, -7]);
    expect(values("i64.scalar")).toEqual([12345]);
    expect(values("u8")).toEqual([0, 128, 255]);
    expect(values("i8")).toEqual([-128, 127, 0]);
    expect(values("bool")).toEqual([1, 0, 1]);
    expect(values("f64")).toEqual([0, -0, Number.NaN, Infinity, -Infinity, 1.5, -2.25, Math.fround(1e-3)]);
    expect(values("f32.scalar")).toEqual([-0]);
    expect(file.tensors.get("f32.empty")!.shape).toEqual([0, 3]);
  });

  // The exact byte vectors of the reference implementation's own unit tests (safetensors/src/tensor.rs).
  it("serialises like the reference implementation's test_serialization", () => {
    const data = bytesOf(new Float32Array([0, 1, 2, 3, 4, 5]));
    const out = serializeSafetensors({ "attn.0": { dtype: "F32", shape: [1, 2, 3], data } });
    // biome-ignore format: the reference vector
    expect([...out]).toEqual([
      64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
      116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
      58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
      101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
      0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ]);
  });

  it("pads the header with spaces like the reference's test_serialization_forced_alignement", () => {
    const data = bytesOf(new Float32Array([0, 1, 2, 3, 4, 5]));
    const out = serializeSafetensors({ attn0: { dtype: "F32", shape: [1, 1, 2, 3], data } });
    expect(out[0]).toBe(72);
    expect([...out.subarray(8 + 65, 8 + 72)]).toEqual([32, 32, 32, 32, 32, 32, 32]);
    expect(new Float32Array(out.slice(80).buffer)).toEqual(new Float32Array([0, 1, 2, 3, 4, 5]));
  });

  it("writes empty files like the reference's test_empty, with and without metadata", () => {
    expect([...serializeSafetensors({})]).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    // biome-ignore format: the reference vector
    expect([...serializeSafetensors({}, { framework: "pt" })]).toEqual([
      40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95,
      95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112,
      116, 34, 125, 125, 32, 32, 32, 32, 32,
    ]);
  });

  it("orders tensors by dtype (the reference's enum order, widest first), then by name in UTF-8 order", () => {
    const t = (dtype: SafetensorsTensor["dtype"], bytes: number): SafetensorsTensor => ({
      dtype,
      shape: [1],
      data: new Uint8Array(bytes),
    });
    const names = [
      ...parseSafetensors(
        serializeSafetensors({
          b: t("F32", 4),
          a: t("BOOL", 1),
          z: t("I64", 8),
          c: t("F32", 4),
          h: t("BF16", 2),
          f: t("F16", 2),
          d: t("F64", 8),
          u: t("U64", 8),
          "\uE000": t("I32", 4),
          "\u{10000}": t("I32", 4),
          i: t("U8", 1),
        }),
      ).tensors.keys(),
    ];
    // U+E000 sorts before U+10000 in UTF-8 (Rust's String order) but after it in UTF-16.
    expect(names).toEqual(["u", "z", "d", "b", "c", "\uE000", "\u{10000}", "h", "f", "i", "a"]);
  });

  it("keeps an absent __metadata__ absent and an empty one empty", () => {
    const none = serializeSafetensors({});
    const empty = serializeSafetensors({}, {});
    expect(parseSafetensors(none).metadata).toBeUndefined();
    expect(parseSafetensors(empty).metadata).toEqual({});
    expect(Buffer.compare(serializeSafetensors({}, parseSafetensors(empty).metadata), empty)).toBe(0);
  });

  it("reads names and metadata keys that are special to JavaScript objects", () => {
    const bytes = serializeSafetensors(
      new Map([["__proto__", { dtype: "U8" as const, shape: [], data: new Uint8Array([7]) }]]),
      JSON.parse('{"__proto__": "x", "constructor": "y"}'),
    );
    const file = parseSafetensors(bytes);
    expect(Object.keys(file.metadata!)).toEqual(["__proto__", "constructor"]);
    expect(Object.getOwnPropertyDescriptor(file.metadata, "__proto__")?.value).toBe("x");
    expect([...file.tensors.keys()]).toEqual(["__proto__"]);
  });
});

describe("safetensors reader rejects malformed files with a SafetensorsError", () => {
  const good = serializeSafetensors(
    {
      a: { dtype: "F32", shape: [2], data: bytesOf(new Float32Array([1, 2])) },
      b: { dtype: "I64", shape: [1], data: bytesOf(new BigInt64Array([3n])) },
    },
    { k: "v" },
  );

  it("a file shorter than the length field", () => {
    expectError(new Uint8Array(5), /truncated file: 5 bytes, need at least 8/);
  });
  it("a header length beyond the end of the file", () => {
    const bad = good.slice();
    new DataView(bad.buffer).setBigUint64(0, 5000n, true);
    expectError(bad, /truncated file: the header claims 5000 bytes but only \d+ follow/);
  });
  it("an absurdly large header length", () => {
    const bad = good.slice();
    new DataView(bad.buffer).setBigUint64(0, 2n ** 63n, true);
    expectError(bad, /header length 9223372036854775808 exceeds the 100000000-byte limit/);
  });
  it("a truncated data section", () => {
    expectError(
      good.subarray(0, good.byteLength - 3),
      /truncated file: tensor "a" needs data bytes \[8, 16\)/,
    );
  });
  it("invalid UTF-8 in the header", () => {
    const bad = rawFile(null, undefined, '{"a":1}');
    bad[10] = 0xff;
    expectError(bad, /not valid UTF-8/);
  });
  it("a header that is not JSON", () => {
    expectError(rawFile(null, undefined, '{"a": {'), /malformed header: /);
    expectError(rawFile(null, undefined, '{"a": 01}'), /malformed header: expected ',' or '}'/);
  });
  it("a header that is not an object", () => {
    expectError(rawFile([1, 2]), /malformed header: expected a JSON object, got "\["/);
    expectError(
      rawFile(null, undefined, "\ufeff{}"),
      /malformed header: expected a JSON object, got "\ufeff"/,
    );
    expectError(rawFile(null, undefined, "  "), /malformed header: expected a JSON object, got nothing/);
  });
  it("accepts what the reference implementation accepts: whitespace around the object, null metadata", () => {
    expect(parseSafetensors(rawFile(null, undefined, ' \n{"__metadata__":null} ')).metadata).toBeUndefined();
  });
  it("garbage after the header object", () => {
    expectError(rawFile(null, undefined, "{} x"), /unexpected "x" after the JSON object/);
  });
  it("an unknown dtype", () => {
    expectError(
      rawFile({ a: { ...f32(1), dtype: "Q7" } }, new Uint8Array(4)),
      /tensor "a": unknown dtype "Q7"/,
    );
  });
  it("a bad shape", () => {
    for (const shape of [[-1], [1.5], "3", [2 ** 60]]) {
      expectError(
        rawFile({ a: { ...f32(1), shape } }, new Uint8Array(4)),
        /tensor "a": shape must be|too large/,
      );
    }
    expectError(
      rawFile(null, new Uint8Array(4), '{"a":{"dtype":"F32","shape":[1e0],"data_offsets":[0,4]}}'),
      /shape must be/,
    );
  });
  it("offsets that do not match shape × dtype size", () => {
    expectError(
      rawFile({ a: { ...f32(2), data_offsets: [0, 4] } }, new Uint8Array(4)),
      /tensor "a": data_offsets \[0, 4\] span 4 bytes but F32 shape \[2\] needs 8/,
    );
  });
  it("malformed offsets", () => {
    expectError(rawFile({ a: { ...f32(0), data_offsets: [4, 0] } }), /data_offsets must be \[begin, end\]/);
    expectError(rawFile({ a: { ...f32(0), data_offsets: [0] } }), /data_offsets must be \[begin, end\]/);
  });
  it("offsets out of range", () => {
    expectError(
      rawFile({ a: { ...f32(1), data_offsets: [8, 12] } }, new Uint8Array(8)),
      /truncated file: tensor "a" needs data bytes \[8, 12\) but the data section has only 8/,
    );
  });
  it("overlapping tensors", () => {
    expectError(
      rawFile({ a: f32(2), b: { ...f32(1), data_offsets: [4, 8] } }, new Uint8Array(8)),
      /tensor "b": data_offsets \[4, 8\] overlap tensor "a" \(which ends at 8\)/,
    );
  });
  it("a gap between tensors", () => {
    expectError(
      rawFile({ a: f32(1), b: { ...f32(1), data_offsets: [8, 12] } }, new Uint8Array(12)),
      /tensor "b": gap in the data section: bytes \[4, 8\) belong to no tensor/,
    );
  });
  it("trailing bytes", () => {
    expectError(rawFile({ a: f32(1) }, new Uint8Array(6)), /2 trailing bytes after the last tensor/);
  });
  it("duplicate tensor names and duplicate metadata keys", () => {
    const d = '"dtype":"F32","shape":[0],"data_offsets":[0,0]';
    expectError(rawFile(null, undefined, `{"a":{${d}},"a":{${d}}}`), /duplicate key "a"/);
    expectError(rawFile(null, undefined, '{"__metadata__":{"k":"1","k":"2"}}'), /duplicate key "k"/);
  });
  it("non-string metadata values and non-object metadata", () => {
    expectError(rawFile({ __metadata__: { epoch: 3 } }), /__metadata__ "epoch" must be a string, got 3/);
    expectError(rawFile({ __metadata__: ["x"] }), /__metadata__ must be an object/);
  });
  it("a tensor entry that is not an object", () => {
    expectError(rawFile({ a: 3 }), /tensor "a": entry must be an object, got 3/);
  });
  it("hostile nesting and unpaired surrogates", () => {
    expectError(rawFile(null, undefined, `{"a":${"[".repeat(100000)}}`), /nested deeper than 64 levels/);
    expectError(rawFile(null, undefined, '{"\\ud800":1}'), /unpaired surrogate/);
  });
  it("reads a header whose file size is given separately (a reader that has only the header)", () => {
    const header = parseSafetensorsHeader(good.subarray(0, 8 + Number(good[0])), {
      byteLength: good.byteLength,
    });
    expect(header.tensors.get("a")).toEqual({ dtype: "F32", shape: [2], dataOffsets: [8, 16] });
    expect(() => parseSafetensorsHeader(good, { byteLength: good.byteLength + 1 })).toThrow(
      /1 trailing bytes/,
    );
  });
});

describe("safetensors writer checks its input", () => {
  const t = { dtype: "F32" as const, shape: [1], data: new Uint8Array(4) };
  it("rejects reserved, duplicate and invalid names", () => {
    expect(() => serializeSafetensors({ __metadata__: t })).toThrow(/'__metadata__' is reserved/);
    expect(() =>
      serializeSafetensors([
        ["a", t],
        ["a", t],
      ] as [string, SafetensorsTensor][]),
    ).toThrow(/duplicate tensor name "a"/);
    expect(() => serializeSafetensors({ "\ud800": t })).toThrow(/not valid Unicode/);
  });
  it("rejects data whose size does not match the shape, unknown dtypes and non-string metadata", () => {
    expect(() => serializeSafetensors({ a: { ...t, shape: [2] } })).toThrow(
      /data has 4 bytes but F32 shape \[2\] needs 8/,
    );
    expect(() => serializeSafetensors({ a: { ...t, dtype: "X" as never } })).toThrow(/unknown dtype "X"/);
    expect(() => serializeSafetensors({ a: t }, { n: 1 as never })).toThrow(/metadata "n" must be a string/);
  });
  it("lays out headers in multiples of 8 bytes", () => {
    for (let n = 0; n < 12; n++) {
      const layout = planSafetensors({ ["x".repeat(n)]: { dtype: "U8", shape: [n] } });
      expect(layout.header.byteLength % 8).toBe(0);
      expect(layout.byteLength).toBe(layout.header.byteLength + n);
    }
  });
});

describe("safetensors dtypes map to Tessera dtypes", () => {
  const tensor = (dtype: SafetensorsTensor["dtype"], view: ArrayBufferView, shape?: number[]) => ({
    dtype,
    shape: shape ?? [view.byteLength / (view as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT],
    data: bytesOf(view),
  });

  it("I64 narrows to int32 and names the tensor and element that does not fit", () => {
    const ok = decodeSafetensorsData(
      "ids",
      tensor("I64", new BigInt64Array([0n, -1n, 2147483647n, -2147483648n])),
    );
    expect(ok.dtype).toBe("int32");
    expect([...ok.values]).toEqual([0, -1, 2147483647, -2147483648]);
    expect(() =>
      decodeSafetensorsData("ids", tensor("I64", new BigInt64Array([1n, 2n, 3n, 2147483648n]), [2, 2]), {
        source: "m.safetensors",
      }),
    ).toThrow(
      /^safetensors m\.safetensors: tensor "ids": element 3 \[1, 1\] = 2147483648 does not fit in int32/,
    );
    expect(() => decodeSafetensorsData("x", tensor("I64", new BigInt64Array([-(2n ** 40n)])))).toThrow(
      /element 0 \[0\] = -1099511627776 does not fit/,
    );
  });
  it("U64 and U32 narrow with the same check", () => {
    expect([...decodeSafetensorsData("u", tensor("U64", new BigUint64Array([5n]))).values]).toEqual([5]);
    expect(() => decodeSafetensorsData("u", tensor("U64", new BigUint64Array([2n ** 63n])))).toThrow(
      /= 9223372036854775808 does not fit/,
    );
    expect(() => decodeSafetensorsData("u", tensor("U32", new Uint32Array([2 ** 31])))).toThrow(
      /= 2147483648/,
    );
  });
  it("small integers widen to int32 losslessly", () => {
    expect([...decodeSafetensorsData("a", tensor("U8", new Uint8Array([0, 255]))).values]).toEqual([0, 255]);
    expect([...decodeSafetensorsData("a", tensor("I8", new Int8Array([-128, 127]))).values]).toEqual([
      -128, 127,
    ]);
    expect([...decodeSafetensorsData("a", tensor("I16", new Int16Array([-32768, 5]))).values]).toEqual([
      -32768, 5,
    ]);
    expect([...decodeSafetensorsData("a", tensor("U16", new Uint16Array([65535]))).values]).toEqual([65535]);
  });
  it("BOOL bytes other than 0 read as true", () => {
    const r = decodeSafetensorsData("m", tensor("BOOL", new Uint8Array([0, 1, 2, 255])));
    expect(r.dtype).toBe("bool");
    expect([...r.values]).toEqual([0, 1, 1, 1]);
  });
  it("F64 reads as float64 on request and as float32 otherwise", () => {
    const t = tensor("F64", new Float64Array([0.1, -0]));
    expect(decodeSafetensorsData("d", t, { float64: true })).toEqual({
      dtype: "float64",
      values: new Float64Array([0.1, -0]),
    });
    const r = decodeSafetensorsData("d", t);
    expect(r.dtype).toBe("float32");
    expect(r.values).toEqual(new Float32Array([0.1, -0]));
    expect(Object.is(r.values[1], -0)).toBe(true);
  });
  it("unaligned input is copied, not misread", () => {
    const buf = new Uint8Array(9);
    buf.set(bytesOf(new Float64Array([1.5])), 1);
    const r = decodeSafetensorsData(
      "d",
      { dtype: "F64", shape: [1], data: buf.subarray(1) },
      { float64: true },
    );
    expect([...r.values]).toEqual([1.5]);
  });
  it("F8 types have no Tessera dtype", () => {
    expect(() =>
      decodeSafetensorsData("q", { dtype: "F8_E4M3", shape: [1], data: new Uint8Array(1) }),
    ).toThrow(/tensor "q": dtype F8_E4M3 has no Tessera dtype/);
  });
  it("int32 written as I64 sign-extends", () => {
    const b = encodeSafetensorsData(new Int32Array([-2, 7]), "int32", "I64");
    expect(new BigInt64Array(b.slice().buffer)).toEqual(new BigInt64Array([-2n, 7n]));
    expect(() => encodeSafetensorsData(new Float32Array(1), "float32", "F16")).toThrow(
      /cannot write float32 as F16/,
    );
  });
});
