import "@tessera/backend-js";
import { dispose, memory, tidy } from "@tessera/core";
import { describe, expect, it } from "vitest";
import { DataError, DataLoader, type Dataset, type FloatImage, InMemoryDataset, Rng } from "../src/index.js";

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const identity = <T>(samples: T[]): T[] => samples;

/** Sample i is { i, draw }: draw is the first number of the rng the loader passed. */
class Probe implements Dataset<{ i: number; draw: number }> {
  readonly calls: number[] = [];
  constructor(readonly length: number) {}
  get(i: number, rng?: Rng): { i: number; draw: number } {
    this.calls.push(i);
    return { i, draw: rng === undefined ? -1 : rng.nextUint32() };
  }
}

async function collect<B>(it: AsyncIterable<B>): Promise<B[]> {
  const out: B[] = [];
  for await (const b of it) out.push(b);
  return out;
}

describe("DataLoader order", () => {
  it("without shuffle yields 0…n−1 in batches, the last one short unless dropLast", async () => {
    const data = new Probe(10);
    const loader = new DataLoader(data, { batchSize: 4, collate: identity });
    expect(loader.length).toBe(3);
    const batches = await collect(loader.iterate());
    expect(batches.map((b) => b.map((s) => s.i))).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
    const dropped = new DataLoader(data, { batchSize: 4, dropLast: true, collate: identity });
    expect(dropped.length).toBe(2);
    expect((await collect(dropped.iterate())).map((b) => b.length)).toEqual([4, 4]);
  });

  it("shuffles with Rng.derive(seed, epoch).permutation: the same per (seed, epoch), new each epoch", () => {
    const loader = new DataLoader(new Probe(50), { batchSize: 8, shuffle: true, seed: 7 });
    const flat = (e: number) => loader.batchIndices(e).flatMap((b) => [...b]);
    expect(flat(0)).toEqual([...Rng.derive(7, 0).permutation(50)]);
    expect(loader.batchIndices(0).map((b) => b.length)).toEqual([8, 8, 8, 8, 8, 8, 2]);
    expect(flat(1)).not.toEqual(flat(0));
    expect([...flat(1)].sort((a, b) => a - b)).toEqual(range(50));
    const other = new DataLoader(new Probe(50), { batchSize: 8, shuffle: true, seed: 8 });
    expect(other.batchIndices(0).flatMap((b) => [...b])).not.toEqual(flat(0));
  });

  it("gives sample i of epoch e the stream Rng.derive(seed, e, i)", async () => {
    const loader = new DataLoader(new Probe(6), { batchSize: 4, shuffle: true, seed: 3, collate: identity });
    for (const epoch of [0, 2]) {
      const samples = (await collect(loader.iterate({ epoch }))).flat();
      for (const s of samples) expect(s.draw).toBe(Rng.derive(3, epoch, s.i).nextUint32());
    }
  });

  it("resumes mid-epoch: startBatch k yields exactly the batches from k on", async () => {
    const loader = new DataLoader(new Probe(23), { batchSize: 5, shuffle: true, seed: 1, collate: identity });
    const full = await collect(loader.iterate({ epoch: 4 }));
    for (const k of [0, 2, 4, 5])
      expect(await collect(loader.iterate({ epoch: 4, startBatch: k }))).toEqual(full.slice(k));
    expect(() => loader.iterate({ startBatch: 6 })).toThrow(/startBatch 6 is past the epoch's 5 batches/);
  });

  it("iterating the loader itself runs epoch 0, then 1, then 2", async () => {
    const loader = new DataLoader(new Probe(9), { batchSize: 3, shuffle: true, seed: 5, collate: identity });
    for (const epoch of [0, 1, 2]) {
      const got = (await collect(loader)).map((b) => b.map((s) => s.i));
      expect(got).toEqual(loader.batchIndices(epoch).map((b) => [...b]));
    }
  });
});

describe("DataLoader prefetch", () => {
  const turns = async (n: number) => {
    for (let t = 0; t < n; t++) await new Promise((r) => setImmediate(r));
  };

  it("loads `prefetch` batches ahead while the consumer holds one, and none with prefetch 0", async () => {
    for (const prefetch of [0, 1, 3]) {
      const data = new Probe(40);
      const loader = new DataLoader(data, { batchSize: 4, prefetch, collate: identity });
      for await (const batch of loader.iterate()) {
        if (batch[0]?.i !== 8) continue;
        // Holding batch 2 (samples 8–11): give loading some turns of the event loop.
        await turns(20);
        expect(data.calls.length).toBe(12 + 4 * prefetch);
      }
    }
  });

  it("lets the event loop turn while a slow synchronous dataset loads a batch", async () => {
    const slow: Dataset<{ x: number }> = {
      length: 64,
      get(i) {
        const until = performance.now() + 1;
        while (performance.now() < until) {}
        return { x: i };
      },
    };
    const loader = new DataLoader(slow, { batchSize: 64, collate: identity });
    let ticks = 0;
    let ticking = true;
    const tick = () => {
      ticks++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    for await (const _ of loader.iterate()) {
    }
    ticking = false;
    // 64 ms of get calls in slices of 8 ms: about 8 turns; 3 leaves room for slow timers.
    expect(ticks).toBeGreaterThanOrEqual(3);
  });
});

describe("DataLoader errors and lifetime", () => {
  it("rejects with the dataset's error when the consumer reaches the failing batch", async () => {
    const failing: Dataset<{ x: number }> = {
      length: 12,
      get(i) {
        if (i === 9) throw new DataError("corrupt record", "/data/shard-1.bin");
        return { x: i };
      },
    };
    const seen: number[] = [];
    const loader = new DataLoader(failing, { batchSize: 4, collate: identity });
    await expect(async () => {
      for await (const b of loader.iterate()) seen.push(b.length);
    }).rejects.toThrow("/data/shard-1.bin: corrupt record");
    expect(seen).toEqual([4, 4]);
  });

  it("stops loading when the loop breaks, and close() is idempotent and final", async () => {
    const data = new Probe(100);
    const loader = new DataLoader(data, { batchSize: 2, prefetch: 2, collate: identity });
    for await (const _ of loader.iterate()) break;
    await new Promise((r) => setTimeout(r, 20));
    // Batch 0 consumed, batches 1 and 2 were loading ahead; nothing after.
    expect(data.calls.length).toBe(6);
    await loader.close();
    await loader.close();
    await expect(collect(loader.iterate())).rejects.toThrow(/after close/);
  });

  it("leaves no tensors behind over an epoch of disposed batches (collate makes only the batch)", async () => {
    const images: { image: FloatImage; label: number }[] = range(37).map((i) => ({
      image: { channels: 1, height: 4, width: 4, data: new Float32Array(16).fill(i) },
      label: i % 3,
    }));
    const loader = new DataLoader(new InMemoryDataset(images), { batchSize: 8, shuffle: true });
    const start = memory().numTensors;
    let batches = 0;
    for await (const batch of loader) {
      expect(memory().numTensors).toBe(start + 2);
      tidy(() => {
        batch.image?.mean();
      });
      dispose(batch);
      batches++;
    }
    expect(batches).toBe(5);
    expect(memory().numTensors).toBe(start);
  });

  it("checks its options", () => {
    const data = new Probe(3);
    expect(() => new DataLoader(data, { batchSize: 0 })).toThrow(/batchSize must be an integer ≥ 1, got 0/);
    expect(() => new DataLoader(data, { workers: -1 })).toThrow(/workers/);
    expect(() => new DataLoader(data, { seed: 0.5 })).toThrow(/seed must be an integer/);
  });
});
