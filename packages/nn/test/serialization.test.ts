import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DType, findBackend, memory, ones, type StorageArray, Tensor, tensor } from "@tessera/core";
import { afterAll, describe, expect, it } from "vitest";
import { Linear } from "../src/linear.js";
import { Module } from "../src/module.js";
import { parseSafetensors, SafetensorsError, serializeSafetensors } from "../src/safetensors.js";
import {
  load,
  loadFromBytes,
  loadStateDictFile,
  loadSync,
  save,
  saveSync,
  saveToBytes,
} from "../src/serialization.js";
import { TEST_BACKENDS } from "./support/backends.js";

const dir = mkdtempSync(join(tmpdir(), "tessera-nn-serialization-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;
const tmpFile = (label: string) => join(dir, `${label}-${fileCount++}.safetensors`);

const FIXTURES = new URL("./fixtures/", import.meta.url);

/** A tensor with exactly these storage values (half dtypes as bit patterns). */
function fromStorage(values: StorageArray, shape: readonly number[], dtype: DType, backend: string): Tensor {
  const b = findBackend(backend);
  const t = Tensor.empty(shape, dtype, b);
  if (t.size > 0) b.write(t.storage.id, values, 0);
  return t;
}

/** A tensor's storage bytes, in C order. */
async function rawBytes(t: Tensor): Promise<Uint8Array> {
  const c = t.contiguous();
  try {
    const v = await c.backend.read(c.storage.id, c.offset, c.size);
    return new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice();
  } finally {
    c.dispose();
  }
}

function disposeAll(tensors: Map<string, Tensor>): void {
  for (const t of tensors.values()) t.dispose();
}

/** Every dtype with its awkward values: ±0, ±Inf, NaN (with payloads), subnormals, extremes; 0-d and empty. */
function dtypeCases(backend: string): Map<string, Tensor> {
  const dtypes = findBackend(backend).dtypes;
  const m = new Map<string, Tensor>();
  const f32 = new Float32Array([0, -0, Number.NaN, Infinity, -Infinity, 1e-45, 3.4028234663852886e38, -1.5]);
  m.set("f32", fromStorage(f32, [2, 4], "float32", backend));
  const nanPayload = new Float32Array(new Uint32Array([0x7fc01234, 0xffbfffff]).buffer);
  m.set("f32.nan_payload", fromStorage(nanPayload, [2], "float32", backend));
  m.set("f32.scalar", fromStorage(new Float32Array([-0]), [], "float32", backend));
  m.set("f32.empty", fromStorage(new Float32Array(0), [0, 3], "float32", backend));
  const halfBits = new Uint16Array([0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e01, 0x0001, 0x3c00, 0xfbff]);
  m.set("f16", fromStorage(halfBits, [8], "float16", backend));
  m.set("f16.scalar", fromStorage(new Uint16Array([0x3555]), [], "float16", backend));
  m.set(
    "bf16",
    fromStorage(
      new Uint16Array([0x0000, 0x8000, 0x7f80, 0xff80, 0x7fc1, 0x0001, 0x3f80, 0xff7f]),
      [2, 2, 2],
      "bfloat16",
      backend,
    ),
  );
  m.set("bf16.empty", fromStorage(new Uint16Array(0), [3, 0], "bfloat16", backend));
  m.set("i32", fromStorage(new Int32Array([-2147483648, 2147483647, 0, -1, 7]), [5], "int32", backend));
  m.set("i32.scalar", fromStorage(new Int32Array([42]), [], "int32", backend));
  m.set("bool", fromStorage(new Uint8Array([1, 0, 0, 1, 1, 0]), [3, 2], "bool", backend));
  m.set("bool.empty", fromStorage(new Uint8Array(0), [0], "bool", backend));
  if (dtypes.includes("float64")) {
    m.set(
      "f64",
      fromStorage(
        new Float64Array([0.1, -0, Number.NaN, -Infinity, 5e-324, Number.MAX_VALUE]),
        [6],
        "float64",
        backend,
      ),
    );
  }
  return m;
}

async function expectSameTensors(
  a: ReadonlyMap<string, Tensor>,
  b: ReadonlyMap<string, Tensor>,
): Promise<void> {
  expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
  for (const [name, t] of a) {
    const u = b.get(name)!;
    expect({ name, dtype: u.dtype, shape: u.shape }).toEqual({ name, dtype: t.dtype, shape: t.shape });
    expect(await rawBytes(u), name).toEqual(await rawBytes(t));
  }
}

describe.each(TEST_BACKENDS)("safetensors files on %s", (backend) => {
  it("every dtype round-trips bit for bit (0-d, empty, ±0, ±Inf, NaN payloads, subnormals)", async () => {
    const start = memory().numTensors;
    const cases = dtypeCases(backend);
    const path = tmpFile("dtypes");
    await save(cases, path, { metadata: { note: "dtypes" } });
    const { tensors, metadata } = await load(path, { backend });
    expect(metadata).toEqual({ note: "dtypes" });
    await expectSameTensors(cases, tensors);
    expect([...tensors.values()].every((t) => t.backendName === backend)).toBe(true);
    disposeAll(tensors);
    disposeAll(cases);
    expect(memory().numTensors).toBe(start);
  });

  it("save → load → save gives byte-identical files (async and sync paths agree)", async () => {
    const cases = dtypeCases(backend);
    const first = tmpFile("first");
    await save(cases, first, { metadata: { b: "2", a: "1" } });
    const loaded = await load(first, { backend });
    const second = tmpFile("second");
    await save(loaded.tensors, second, { metadata: loaded.metadata });
    expect(Buffer.compare(readFileSync(second), readFileSync(first))).toBe(0);
    const third = tmpFile("third");
    const again = loadSync(second, { backend });
    saveSync(again.tensors, third, { metadata: again.metadata });
    expect(Buffer.compare(readFileSync(third), readFileSync(first))).toBe(0);
    expect(
      Buffer.compare(await saveToBytes(cases, { metadata: { b: "2", a: "1" } }), readFileSync(first)),
    ).toBe(0);
    for (const m of [cases, loaded.tensors, again.tensors]) disposeAll(m);
  });

  it("non-contiguous tensors are written in C order", async () => {
    const x = tensor(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      { backend },
    );
    const xt = x.transpose(0, 1);
    const { tensors } = loadFromBytes(await saveToBytes({ xt }), { backend });
    expect(tensors.get("xt")!.shape).toEqual([3, 2]);
    expect([...(await tensors.get("xt")!.data())]).toEqual([1, 4, 2, 5, 3, 6]);
    disposeAll(tensors);
    xt.dispose();
    x.dispose();
  });
});

describe("PyTorch golden files through tensors", () => {
  const publicFixtures = readdirSync(FIXTURES)
    .filter((f) => f.endsWith(".safetensors"))
    .filter(
      (f) => parseSafetensors(new Uint8Array(readFileSync(new URL(f, FIXTURES)))).metadata?.set === "public",
    );

  it("covers fixtures with I64 tensors", () => {
    const withI64 = publicFixtures.filter((f) =>
      [...parseSafetensors(new Uint8Array(readFileSync(new URL(f, FIXTURES)))).tensors.values()].some(
        (t) => t.dtype === "I64",
      ),
    );
    expect(withI64.length).toBeGreaterThanOrEqual(5);
  });

  for (const name of publicFixtures) {
    it(`load → save(intDtype I64) reproduces ${name} byte for byte`, async () => {
      const path = new URL(name, FIXTURES).pathname;
      const { tensors, metadata } = await load(path, { backend: "js" });
      const bytes = await saveToBytes(tensors, { metadata, intDtype: "I64" });
      disposeAll(tensors);
      expect(Buffer.compare(bytes, readFileSync(path))).toBe(0);
    });
  }
});

class Tiny extends Module {
  readonly fc = this.registerModule("fc", new Linear(3, 2));
  readonly steps = this.registerBuffer("steps", tensor(new Int32Array([5])));
  readonly scratch = this.registerBuffer("scratch", tensor([1, 2]), { persistent: false });
}

describe("modules", () => {
  it("save(module) writes its state dict and loadStateDictFile restores it", async () => {
    const a = new Tiny();
    const path = tmpFile("module");
    await save(a, path, { metadata: { format: "pt" } });
    expect([...parseSafetensors(new Uint8Array(readFileSync(path))).tensors.keys()].sort()).toEqual([
      "fc.bias",
      "fc.weight",
      "steps",
    ]);
    const b = new Tiny();
    const start = memory().numTensors;
    const r = await loadStateDictFile(b, path);
    expect(memory().numTensors).toBe(start);
    expect(r).toEqual({ missingKeys: [], unexpectedKeys: [], metadata: { format: "pt" } });
    expect(await b.fc.weight.data()).toEqual(await a.fc.weight.data());
    expect(await b.fc.bias!.data()).toEqual(await a.fc.bias!.data());
    expect([...(await b.steps.data())]).toEqual([5]);
    a.dispose();
    b.dispose();
  });

  it("loadStateDictFile is strict by default and names the file", async () => {
    const path = tmpFile("partial");
    const w = ones([2, 3]);
    await save({ "fc.weight": w }, path);
    const m = new Tiny();
    const start = memory().numTensors;
    await expect(loadStateDictFile(m, path)).rejects.toThrow(
      new RegExp(`^loadStateDictFile ${path}: Tiny.loadStateDict: missing keys: steps, fc.bias`),
    );
    expect(memory().numTensors).toBe(start);
    const r = await loadStateDictFile(m, path, { strict: false });
    expect(r.missingKeys).toEqual(["steps", "fc.bias"]);
    expect([...(await m.fc.weight.data())]).toEqual([1, 1, 1, 1, 1, 1]);
    w.dispose();
    m.dispose();
  });
});

describe("loading", () => {
  it("I64 values outside int32 are an error naming the file, tensor and element, and nothing leaks", async () => {
    const path = tmpFile("i64");
    writeFileSync(
      path,
      serializeSafetensors({
        ok: { dtype: "U64", shape: [1], data: new Uint8Array(new BigUint64Array([5n]).buffer) },
        ids: {
          dtype: "I64",
          shape: [2, 2],
          data: new Uint8Array(new BigInt64Array([1n, 2n, 3n, 2n ** 40n]).buffer),
        },
      }),
    );
    const start = memory().numTensors;
    const err = await load(path).catch((e) => e);
    expect(err).toBeInstanceOf(SafetensorsError);
    expect(err.message).toBe(
      `safetensors ${path}: tensor "ids": element 3 [1, 1] = 1099511627776 does not fit in int32 ` +
        "(I64 is read as int32, Tessera has no 64-bit integers)",
    );
    expect(() => loadSync(path)).toThrow(/tensor "ids": element 3 \[1, 1\]/);
    expect(memory().numTensors).toBe(start);
  });

  it("a truncated file is a SafetensorsError naming the file", async () => {
    const path = tmpFile("truncated");
    const t = ones([4, 4]);
    await save({ w: t }, path);
    truncateSync(path, statSync(path).size - 3);
    await expect(load(path)).rejects.toThrow(
      new RegExp(
        `^safetensors ${path}: truncated file: tensor "w" needs data bytes \\[0, 64\\) but the data section has only 61`,
      ),
    );
    truncateSync(path, 5);
    expect(() => loadSync(path)).toThrow(new RegExp(`^safetensors ${path}: truncated file: 5 bytes`));
    t.dispose();
  });

  it("a file written by Python's safetensors loads with the documented dtype mapping", () => {
    const path = new URL("safetensors/python-dtypes.safetensors", FIXTURES).pathname;
    const { tensors, metadata } = loadSync(path, { backend: "js" });
    expect(metadata?.writer).toBe("safetensors 0.8.0");
    const got = (n: string) => ({
      dtype: tensors.get(n)!.dtype,
      shape: tensors.get(n)!.shape,
      v: [...tensors.get(n)!.dataSync()],
    });
    expect(got("i64")).toEqual({ dtype: "int32", shape: [2, 2], v: [-(2 ** 31), 2 ** 31 - 1, 0, -7] });
    expect(got("u8")).toEqual({ dtype: "int32", shape: [3], v: [0, 128, 255] });
    expect(got("bool")).toEqual({ dtype: "bool", shape: [3], v: [1, 0, 1] });
    expect(got("f64").dtype).toBe("float64");
    expect(got("bf16")).toEqual({
      dtype: "bfloat16",
      shape: [2, 2, 2],
      v: [0, -0, Number.NaN, Infinity, -Infinity, 1.5, -2.25, 0.00099945068359375],
    });
    expect(got("f32.scalar")).toEqual({ dtype: "float32", shape: [], v: [-0] });
    disposeAll(tensors);
  });

  it("a missing file is Node's ENOENT error, which names the path", async () => {
    const path = join(dir, "does-not-exist.safetensors");
    await expect(load(path)).rejects.toThrow(new RegExp(`ENOENT.*${path}`));
  });

  it("F64 loads as float64 where the backend has it, or rounded to float32 on request; U8 widens to int32", () => {
    const bytes = serializeSafetensors({
      d: { dtype: "F64", shape: [2], data: new Uint8Array(new Float64Array([0.1, -2]).buffer) },
      u: { dtype: "U8", shape: [3], data: new Uint8Array([0, 128, 255]) },
    });
    const kept = loadFromBytes(bytes, { backend: "js" });
    expect(kept.tensors.get("d")!.dtype).toBe("float64");
    expect([...kept.tensors.get("d")!.dataSync()]).toEqual([0.1, -2]);
    expect(kept.tensors.get("u")!.dtype).toBe("int32");
    expect([...kept.tensors.get("u")!.dataSync()]).toEqual([0, 128, 255]);
    const rounded = loadFromBytes(bytes, { backend: "js", float64: false });
    expect(rounded.tensors.get("d")!.dtype).toBe("float32");
    expect([...rounded.tensors.get("d")!.dataSync()]).toEqual([Math.fround(0.1), -2]);
    disposeAll(kept.tensors);
    disposeAll(rounded.tensors);
  });
});

describe("atomic save", () => {
  const leftovers = () => readdirSync(dir).filter((f) => f.endsWith(".tmp"));

  /** A tensor whose storage read fails, like a device lost mid-save; `seen` records the temp files then. */
  function failingTensor(seen: string[][]): Tensor {
    const t = tensor([1, 2, 3]);
    const real = t.backend;
    const fail = () => {
      seen.push(leftovers().map((f) => `${f}:${statSync(join(dir, f)).size}`));
      throw new Error("device lost");
    };
    const broken = Object.create(real, {
      read: { value: async () => fail() },
      readSync: { value: () => fail() },
    });
    Object.defineProperty(t, "backend", { value: broken });
    return t;
  }

  for (const mode of ["async", "sync"] as const) {
    it(`a read failing mid-write (${mode}) leaves the previous file intact and no temporary file`, async () => {
      const path = tmpFile(`atomic-${mode}`);
      const old = ones([3]);
      await save({ old }, path);
      const before = readFileSync(path);
      // "big" (2 MiB) sorts first and is flushed before "zz" fails.
      const big = ones([512 * 1024]);
      const seen: string[][] = [];
      const zz = failingTensor(seen);
      const run = () => (mode === "async" ? save({ big, zz }, path) : saveSync({ big, zz }, path));
      await expect(Promise.resolve().then(run)).rejects.toThrow(
        `save ${path}: reading tensor 'zz' failed: device lost`,
      );
      // The failure happened with a partly written temporary file beside the target...
      expect(seen).toHaveLength(1);
      expect(seen[0]).toHaveLength(1);
      expect(Number(seen[0]![0]!.split(":").pop())).toBeGreaterThan(2 * 1024 * 1024);
      // ...which is gone, and the old file is untouched.
      expect(leftovers()).toEqual([]);
      expect(Buffer.compare(readFileSync(path), before)).toBe(0);
      for (const t of [old, big, zz]) t.dispose();
    });
  }

  it("a disposed tensor fails before anything is written", async () => {
    const path = tmpFile("disposed");
    const a = ones([2]);
    await save({ a }, path);
    const before = readFileSync(path);
    const gone = ones([2]);
    gone.dispose();
    await expect(save({ a, gone }, path)).rejects.toThrow(`save ${path}: tensor 'gone' was disposed`);
    expect(() => saveSync({ a, gone }, path)).toThrow(`save ${path}: tensor 'gone' was disposed`);
    expect(leftovers()).toEqual([]);
    expect(Buffer.compare(readFileSync(path), before)).toBe(0);
    a.dispose();
  });

  it("overwrites an existing file with the new contents", async () => {
    const path = tmpFile("overwrite");
    const a = ones([2]);
    const b = ones([5]);
    await save({ a }, path);
    await save({ b }, path);
    const { tensors } = await load(path);
    expect([...tensors.keys()]).toEqual(["b"]);
    disposeAll(tensors);
    a.dispose();
    b.dispose();
    expect(leftovers()).toEqual([]);
  });
});
