/** The strict read-only safetensors reader used for the PyTorch goldens. */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { metadataJson, readSafetensors, SafetensorsError, toInt32Array } from "../src/torch/safetensors.js";

const FIXTURES = fileURLToPath(new URL("../fixtures/torch/", import.meta.url));
const fixture = (name: string) => readFileSync(`${FIXTURES}${name}.safetensors`);

/** Builds a safetensors file from a header object and a data section. */
function build(header: Record<string, unknown>, data: Uint8Array, pad = true): Uint8Array {
  let json = JSON.stringify(header);
  if (pad) while ((8 + json.length) % 8) json += " ";
  const h = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

const f32 = (...v: number[]) => new Uint8Array(new Float32Array(v).buffer);

describe("readSafetensors", () => {
  it("reads F32 tensors, their shapes and the string metadata of a golden file", () => {
    const st = readSafetensors(fixture("relu"), "relu");
    expect(st.metadata["case"]).toBe("relu");
    expect(st.metadata["call"]).toBe("y = F.relu(x)");
    expect(metadataJson(st, "tolerance")).toEqual({
      forward: { rtol: 1e-5, atol: 1e-5 },
      grad: { rtol: 1e-4, atol: 5e-6 },
    });
    const x = st.tensors.get("input.x")!;
    const y = st.tensors.get("output.y")!;
    expect(x.dtype).toBe("F32");
    expect(x.shape).toEqual([2, 13, 7]);
    expect(x.data).toBeInstanceOf(Float32Array);
    expect(x.data.length).toBe(182);
    for (let i = 0; i < 182; i++) expect(y.data[i]).toBe(Math.max(0, x.data[i] as number));
    expect([...st.tensors.keys()].sort()).toEqual(["grad.input.x", "input.probe", "input.x", "output.y"]);
  });

  it("reads 0-d tensors as shape [] with one element", () => {
    const st = readSafetensors(fixture("sum_all"));
    const y = st.tensors.get("output.y")!;
    expect(y.shape).toEqual([]);
    expect(y.data.length).toBe(1);
    const x = st.tensors.get("input.x")!.data as Float32Array;
    expect(Math.abs(x.reduce((a, b) => a + b, 0) - (y.data[0] as number))).toBeLessThan(1e-4);
  });

  it("reads I64 tensors (class targets with ignore_index -100) and converts them to int32", () => {
    const st = readSafetensors(fixture("cross_entropy_ignore_index"));
    const t = st.tensors.get("input.target")!;
    expect(t.dtype).toBe("I64");
    expect(t.data).toBeInstanceOf(BigInt64Array);
    const ints = toInt32Array(t);
    expect(ints).toBeInstanceOf(Int32Array);
    expect([...ints]).toContain(-100);
    expect([...ints].every((v) => v === -100 || (v >= 0 && v < 10))).toBe(true);
  });

  it("exposes bool_inputs (0/1 I64 masks)", () => {
    const st = readSafetensors(fixture("masked_fill"));
    expect(metadataJson<string[]>(st, "bool_inputs")).toEqual(["mask"]);
    const m = toInt32Array(st.tensors.get("input.mask")!);
    expect([...m].every((v) => v === 0 || v === 1)).toBe(true);
    expect(m.includes(0) && m.includes(1)).toBe(true);
  });

  it("works on a Buffer at an unaligned offset of a larger ArrayBuffer", () => {
    const bytes = fixture("relu");
    const big = new Uint8Array(bytes.length + 3);
    big.set(bytes, 3);
    const st = readSafetensors(big.subarray(3));
    expect(st.tensors.get("input.x")!.data).toEqual(readSafetensors(bytes).tensors.get("input.x")!.data);
  });

  it("reads a minimal hand-built file without metadata", () => {
    const st = readSafetensors(
      build({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }, f32(1.5, -2)),
    );
    expect(st.metadata).toEqual({});
    expect([...(st.tensors.get("a")!.data as Float32Array)]).toEqual([1.5, -2]);
  });
});

describe("readSafetensors: malformed files fail with clear errors", () => {
  const ok = { a: { dtype: "F32", shape: [2], data_offsets: [0, 8] } };
  const bad = (bytes: Uint8Array, re: RegExp) => {
    expect(() => readSafetensors(bytes, "case.safetensors")).toThrow(SafetensorsError);
    expect(() => readSafetensors(bytes, "case.safetensors")).toThrow(re);
  };

  it("file shorter than the length field", () => {
    bad(new Uint8Array(5), /^safetensors case\.safetensors: truncated file: 5 bytes, need at least 8/);
  });

  it("truncated inside the header", () => {
    const full = fixture("relu");
    bad(full.subarray(0, 100), /truncated file: header claims \d+ bytes but only 92 follow/);
  });

  it("truncated inside the data", () => {
    const full = fixture("relu");
    bad(
      full.subarray(0, full.length - 1),
      /truncated file: tensor 'output\.y' ends at data byte 2912 but the data section has only 2911 bytes/,
    );
  });

  it("absurd header length", () => {
    const b = new Uint8Array(16);
    new DataView(b.buffer).setBigUint64(0, 2n ** 60n, true);
    bad(b, /header length \d+ is implausibly large/);
  });

  it("header that is not JSON, or not an object", () => {
    const f = build(ok, f32(1, 2));
    f[8] = 0x7b + 1; // '|'
    bad(f, /malformed header: not valid UTF-8 JSON/);
    bad(
      build([] as unknown as Record<string, unknown>, new Uint8Array(0)),
      /malformed header: expected a JSON object/,
    );
  });

  it("unsupported dtype, bad shape, bad offsets", () => {
    bad(
      build({ a: { dtype: "F16", shape: [2], data_offsets: [0, 4] } }, new Uint8Array(4)),
      /tensor 'a': unsupported dtype "F16"/,
    );
    bad(
      build({ a: { dtype: "F32", shape: [-2], data_offsets: [0, 8] } }, f32(1, 2)),
      /tensor 'a': shape must be/,
    );
    bad(
      build({ a: { dtype: "F32", shape: [2], data_offsets: [8, 0] } }, f32(1, 2)),
      /tensor 'a': data_offsets must be/,
    );
    bad(
      build({ a: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, f32(1, 2)),
      /tensor 'a': data_offsets \[0, 8\] span 8 bytes but F32 shape \[3\] needs 12/,
    );
  });

  it("overlapping, gapped or trailing data", () => {
    const two = (b0: number, b1: number) => ({
      a: { dtype: "F32", shape: [1], data_offsets: [0, 4] },
      b: { dtype: "F32", shape: [1], data_offsets: [b0, b1] },
    });
    bad(build(two(2, 6), f32(1, 2)), /tensor 'b': data_offsets \[2, 6\] overlap the previous tensor/);
    bad(build(two(8, 12), f32(1, 2, 3)), /tensor 'b': gap in the data section before byte 8 \(expected 4\)/);
    bad(build(ok, f32(1, 2, 3)), /4 trailing bytes after the last tensor/);
  });

  it("metadata values must be strings", () => {
    bad(build({ __metadata__: { n: 3 }, ...ok }, f32(1, 2)), /__metadata__\.n must be a string/);
  });

  it("I64 values outside int32 are refused by toInt32Array", () => {
    const st = readSafetensors(
      build(
        { i: { dtype: "I64", shape: [1], data_offsets: [0, 8] } },
        new Uint8Array(new BigInt64Array([2n ** 40n]).buffer),
      ),
    );
    expect(() => toInt32Array(st.tensors.get("i")!)).toThrow(
      /element 0 = 1099511627776 does not fit in int32/,
    );
  });
});
