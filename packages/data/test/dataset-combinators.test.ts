import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ConcatDataset,
  type Dataset,
  InMemoryDataset,
  mapDataset,
  Rng,
  randomSplit,
  Subset,
} from "../src/index.js";

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Records the rng each get receives, to check combinators pass it through untouched. */
class Probe implements Dataset<number> {
  readonly seen: (Rng | undefined)[] = [];
  constructor(readonly length: number) {}
  get(index: number, rng?: Rng): number {
    this.seen.push(rng);
    return index;
  }
}

describe("Subset", () => {
  it("maps its indices onto the dataset in order and passes the rng through", async () => {
    const probe = new Probe(10);
    const sub = new Subset(probe, [7, 2, 2, 9]);
    const rng = new Rng(1);
    expect(sub.length).toBe(4);
    expect([0, 1, 2, 3].map((i) => sub.get(i, rng))).toEqual([7, 2, 2, 9]);
    expect(probe.seen.every((r) => r === rng)).toBe(true);
  });

  it("rejects indices outside the dataset, naming the position", () => {
    expect(() => new Subset(new InMemoryDataset([1, 2]), [0, 2])).toThrow(/indices\[1\] = 2 is out of range/);
    expect(() => new Subset(new InMemoryDataset([1, 2]), [0]).get(1)).toThrow(RangeError);
  });
});

describe("ConcatDataset", () => {
  it("reads index i from the dataset holding it, across empty parts", async () => {
    const parts = [
      new InMemoryDataset(["a", "b"]),
      new InMemoryDataset<string>([]),
      new InMemoryDataset(["c", "d", "e"]),
    ];
    const all = new ConcatDataset(parts);
    expect(all.length).toBe(5);
    expect(range(5).map((i) => all.get(i))).toEqual(["a", "b", "c", "d", "e"]);
    expect(() => all.get(5)).toThrow(/index 5 is out of range for a dataset of 5/);
  });

  it("equals the concatenation of its parts for any lengths", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(6), { minLength: 1, maxLength: 6 }), (lengths) => {
        let next = 0;
        const parts = lengths.map((l) => new InMemoryDataset(range(l).map(() => next++)));
        const all = new ConcatDataset(parts);
        expect(range(all.length).map((i) => all.get(i))).toEqual(range(next));
      }),
    );
  });
});

describe("randomSplit", () => {
  it("partitions the indices: disjoint, covering, of the asked sizes, the same for the same seed", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(20), { minLength: 1, maxLength: 4 }), fc.integer(), (lengths, seed) => {
        const n = lengths.reduce((a, b) => a + b, 0);
        const data = new InMemoryDataset(range(n));
        const parts = randomSplit(data, lengths, seed);
        expect(parts.map((p) => p.length)).toEqual(lengths);
        const seen = parts.flatMap((p) => range(p.length).map((i) => p.get(i) as number));
        expect([...seen].sort((a, b) => a - b)).toEqual(range(n));
        const again = randomSplit(data, lengths, seed);
        expect(again.map((p) => [...p.indices])).toEqual(parts.map((p) => [...p.indices]));
      }),
    );
  });

  it("turns fractions into counts, giving the rounding remainder to the first parts like PyTorch", () => {
    const parts = randomSplit(new InMemoryDataset(range(10)), [0.33, 0.33, 0.34], 0);
    // floor(3.3), floor(3.3), floor(3.4) = 3,3,3; the 1 left over goes to the first part.
    expect(parts.map((p) => p.length)).toEqual([4, 3, 3]);
  });

  it("rejects lengths that are neither counts of the dataset nor fractions of it", () => {
    expect(() => randomSplit(new InMemoryDataset(range(10)), [3, 3], 0)).toThrow(
      /summing to the dataset's 10 samples/,
    );
  });
});

describe("mapDataset", () => {
  it("applies fn with the index and rng, to sync and async samples", async () => {
    const rng = new Rng(3);
    const sync = mapDataset(new InMemoryDataset([1, 2, 3]), (x, i, r) => ({ x: x * 10, i, same: r === rng }));
    expect(sync.length).toBe(3);
    expect(sync.get(2, rng)).toEqual({ x: 30, i: 2, same: true });
    const asyncSource: Dataset<number> = { length: 2, get: async (i) => i + 1 };
    const mapped = mapDataset(asyncSource, (x) => x * 2);
    expect(await mapped.get(1)).toBe(4);
  });
});
