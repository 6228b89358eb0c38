import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DataError } from "../src/errors.js";
import { encodeIdx, type IdxArray, parseIdx, readIdx, readIdxSync } from "../src/idx.js";

const SUBSET = fileURLToPath(new URL("../datasets/fashion-mnist/", import.meta.url));

function classCounts(labels: IdxArray["data"]): number[] {
  const counts = new Array<number>(10).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i]!]! += 1;
  return counts;
}

describe("idx", () => {
  it("reads the shipped Fashion-MNIST subset: 10000×28×28 / 2000×28×28 uint8, stratified labels", async () => {
    const train = await readIdx(join(SUBSET, "train-images-idx3-ubyte.gz"));
    expect(train.dtype).toBe("uint8");
    expect(train.shape).toEqual([10000, 28, 28]);
    expect(train.data.length).toBe(10000 * 28 * 28);
    const trainLabels = readIdxSync(join(SUBSET, "train-labels-idx1-ubyte.gz"));
    expect(trainLabels.shape).toEqual([10000]);
    expect(classCounts(trainLabels.data)).toEqual(new Array(10).fill(1000));
    const test = readIdxSync(join(SUBSET, "t10k-images-idx3-ubyte.gz"));
    expect(test.shape).toEqual([2000, 28, 28]);
    const testLabels = await readIdx(join(SUBSET, "t10k-labels-idx1-ubyte.gz"));
    expect(classCounts(testLabels.data)).toEqual(new Array(10).fill(200));
  });

  const arrays = fc.oneof(
    ...(
      [
        ["uint8", (n: number) => fc.uint8Array({ minLength: n, maxLength: n })],
        ["int8", (n: number) => fc.int8Array({ minLength: n, maxLength: n })],
        ["int16", (n: number) => fc.int16Array({ minLength: n, maxLength: n })],
        ["int32", (n: number) => fc.int32Array({ minLength: n, maxLength: n })],
        ["float32", (n: number) => fc.float32Array({ minLength: n, maxLength: n, noDefaultInfinity: false })],
        ["float64", (n: number) => fc.float64Array({ minLength: n, maxLength: n })],
      ] as const
    ).map(([dtype, data]) =>
      fc
        .array(fc.integer({ min: 0, max: 5 }), { minLength: 0, maxLength: 4 })
        .chain((shape) =>
          data(shape.reduce((a, b) => a * b, 1)).map((d) => ({ dtype, shape, data: d }) as IdxArray),
        ),
    ),
  );

  it("round-trips encodeIdx → parseIdx for every dtype, with and without gzip", () => {
    fc.assert(
      fc.property(arrays, fc.boolean(), (arr, gzip) => {
        const back = parseIdx(encodeIdx(arr, { gzip }));
        expect(back.dtype).toBe(arr.dtype);
        expect(back.shape).toEqual(arr.shape);
        // toEqual compares elements with Object.is: NaN matches NaN, and -0 must come back as -0.
        expect(Array.from(back.data)).toEqual(Array.from(arr.data));
        expect(back.data.constructor).toBe(arr.data.constructor);
      }),
      { numRuns: 300 },
    );
  });

  it("writes big-endian dims and data after 00 00 <type> <ndim>", () => {
    const bytes = encodeIdx({ dtype: "int16", shape: [2], data: new Int16Array([0x0102, -2]) });
    expect(Array.from(bytes)).toEqual([0, 0, 0x0b, 1, 0, 0, 0, 2, 0x01, 0x02, 0xff, 0xfe]);
  });

  it("names the file and the magic for a wrong magic number", () => {
    const bad = new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0]);
    expect(() => parseIdx(bad, "labels.zip")).toThrow(
      /labels\.zip: not an IDX file: magic is 50 4b 03 04, expected 00 00/,
    );
    expect(() => parseIdx(new Uint8Array([0, 0, 0x07, 1, 0, 0, 0, 0]), "t.idx")).toThrow(DataError);
  });

  it("names the file and the expected and actual sizes when the data is truncated or too long", () => {
    const full = encodeIdx({ dtype: "int32", shape: [3, 2], data: new Int32Array(6) });
    expect(() => parseIdx(full.subarray(0, full.length - 5), "cut.idx")).toThrow(
      /cut\.idx: IDX size mismatch: header says int32 \[3, 2\] = 36 bytes, the file has 31 \(truncated\?\)/,
    );
    const long = new Uint8Array(full.length + 1);
    long.set(full);
    expect(() => parseIdx(long, "long.idx")).toThrow(/36 bytes, the file has 37/);
    expect(() => parseIdx(full.subarray(0, 10), "hdr.idx")).toThrow(
      /hdr\.idx: truncated IDX header: 2 dimensions need 12/,
    );
  });

  it("reports a truncated gzip stream as a DataError naming the file", () => {
    const gz = encodeIdx({ dtype: "uint8", shape: [100], data: new Uint8Array(100).fill(7) }, { gzip: true });
    expect(() => parseIdx(gz.subarray(0, gz.length - 6), "x.gz")).toThrow(/x\.gz: truncated or corrupt gzip/);
  });

  it("never crashes on arbitrary bytes, raw or gzipped", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        try {
          const a = parseIdx(b, "f.idx");
          expect(a.data.length).toBe(a.shape.reduce((x, y) => x * y, 1));
        } catch (e) {
          expect(e).toBeInstanceOf(DataError);
        }
      }),
    );
  });

  it("reports a missing file as a DataError naming it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "idx-"));
    await expect(readIdx(join(dir, "nope.gz"))).rejects.toThrow(/nope\.gz: cannot read the IDX file/);
    writeFileSync(join(dir, "empty"), new Uint8Array(0));
    expect(() => readIdxSync(join(dir, "empty"))).toThrow(/empty: not an IDX file: 0 bytes/);
  });
});
