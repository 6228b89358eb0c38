import "@tessera/backend-js";
import { memory, setBackend, type Tensor } from "@tessera/core";
import { describe, expect, it } from "vitest";
import { iterableDataset, StreamLoader } from "../src/stream-loader.js";

setBackend("js");

const numbers = (n: number) =>
  iterableDataset(function* () {
    for (let i = 0; i < n; i++) yield { x: i, y: i * 0.5 };
  });

describe("StreamLoader", () => {
  it("batches a stream in arrival order, the last batch short unless dropLast", async () => {
    const sizes: number[][] = [];
    for await (const b of new StreamLoader(numbers(10), { batchSize: 4, collate: (s) => s.map((v) => v.x) }))
      sizes.push(b);
    expect(sizes).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
    const dropped: number[][] = [];
    for await (const b of new StreamLoader(numbers(10), {
      batchSize: 4,
      dropLast: true,
      collate: (s) => s.map((v) => v.x),
    }))
      dropped.push(b);
    expect(dropped).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
    ]);
  });

  it("collates to tensors by default (integers int32, others float32) and each pass restarts the stream", async () => {
    const before = memory().numTensors;
    const loader = new StreamLoader(numbers(6), { batchSize: 3 });
    for (let pass = 0; pass < 2; pass++) {
      const xs: number[] = [];
      for await (const b of loader) {
        expect(b.x?.dtype).toBe("int32");
        expect(b.y?.dtype).toBe("float32");
        xs.push(...((b.x as Tensor).dataSync() as Int32Array));
        for (const t of Object.values(b)) t.dispose();
      }
      expect(xs).toEqual([0, 1, 2, 3, 4, 5]);
    }
    expect(memory().numTensors).toBe(before);
  });

  it("an error in the stream reaches the consumer, after the batches before it", async () => {
    const failing = iterableDataset(async function* () {
      yield { x: 1 };
      yield { x: 2 };
      throw new Error("record 3 is corrupt");
    });
    const seen: number[][] = [];
    await expect(
      (async () => {
        for await (const b of new StreamLoader(failing, { batchSize: 2, collate: (s) => s.map((v) => v.x) }))
          seen.push(b);
      })(),
    ).rejects.toThrow("record 3 is corrupt");
    expect(seen).toEqual([[1, 2]]);
  });

  it("rejects a bad batch size with a clear error", () => {
    expect(() => new StreamLoader(numbers(1), { batchSize: 0 })).toThrow(
      /batchSize must be an integer ≥ 1, got 0/,
    );
  });
});
