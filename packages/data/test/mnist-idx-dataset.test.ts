import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DataError,
  encodeIdx,
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_SUBSET_DIR,
  IdxImageDataset,
  Rng,
  randomCrop,
} from "../src/index.js";

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "mnist-idx-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Writes an MNIST-layout split of n h×w images (pixel = (i + p) mod 256) into dir. */
async function writeSplit(
  dir: string,
  n: number,
  labelCount = n,
  names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"],
) {
  const [h, w] = [3, 2];
  const pixels = new Uint8Array(n * h * w);
  for (let i = 0; i < n; i++) for (let p = 0; p < h * w; p++) pixels[i * h * w + p] = (i * 7 + p) % 256;
  const labels = new Uint8Array(labelCount);
  for (let i = 0; i < labelCount; i++) labels[i] = i % 10;
  await writeFile(
    join(dir, names[0] as string),
    encodeIdx({ dtype: "uint8", shape: [n, h, w], data: pixels }),
  );
  await writeFile(
    join(dir, names[1] as string),
    encodeIdx({ dtype: "uint8", shape: [labelCount], data: labels }),
  );
  return { pixels, labels };
}

describe("IdxImageDataset on the shipped Fashion-MNIST subset", () => {
  it("has 10,000 training and 2,000 test images, stratified over the 10 classes", async () => {
    const train = await IdxImageDataset.load({ split: "train" });
    const test = await IdxImageDataset.load({ dir: FASHION_MNIST_SUBSET_DIR, split: "test" });
    expect([train.length, test.length]).toEqual([10000, 2000]);
    expect(train.classes).toEqual(FASHION_MNIST_CLASSES);
    for (const [ds, perClass] of [
      [train, 1000],
      [test, 200],
    ] as const) {
      const counts = new Array(10).fill(0);
      for (const l of ds.labels) counts[l]++;
      expect(counts).toEqual(new Array(10).fill(perClass));
    }
    const { image, label } = train.get(1234);
    expect([image.channels, image.height, image.width]).toEqual([1, 28, 28]);
    expect(label).toBe(train.labels[1234]);
  });
});

describe("IdxImageDataset.get", () => {
  it("returns a fresh 1×H×W image of pixel/255 and the label, from raw (not gzipped) files", async () => {
    const dir = await mkdtemp(join(tmp, "raw-"));
    const { pixels } = await writeSplit(dir, 5);
    const ds = await IdxImageDataset.load({ dir, split: "train", classes: FASHION_MNIST_CLASSES });
    const a = ds.get(3);
    expect(a.label).toBe(3);
    expect(Array.from(a.image.data)).toEqual(
      Array.from(pixels.subarray(18, 24), (v) => Math.fround(v / 255)),
    );
    a.image.data.fill(9);
    expect(ds.get(3).image.data[0]).toBe(Math.fround((pixels[18] as number) / 255));
  });

  it("applies the transform with the rng given, or Rng.derive(0, index) without one", async () => {
    const ds = await IdxImageDataset.load({
      split: "test",
      limit: 20,
      transform: randomCrop(28, { padding: 4 }),
    });
    const values = (rng?: Rng) => Array.from(ds.get(7, rng).image.data);
    expect(values()).toEqual(values(Rng.derive(0, 7)));
    expect(values(Rng.derive(5, 0, 7))).toEqual(values(Rng.derive(5, 0, 7)));
    // 81 possible crops of 28 from 36: two different streams giving the same one is unlikely but
    // possible, so compare across several streams.
    const distinct = new Set([1, 2, 3, 4, 5].map((s) => values(Rng.derive(s, 0, 7)).join(",")));
    expect(distinct.size).toBeGreaterThan(1);
  });

  it("keeps the first `limit` samples", async () => {
    const full = await IdxImageDataset.load({ split: "test" });
    const few = await IdxImageDataset.load({ split: "test", limit: 50 });
    expect(few.length).toBe(50);
    expect(Array.from(few.labels)).toEqual(Array.from(full.labels.subarray(0, 50)));
    expect(few.get(49)).toEqual(full.get(49));
    expect(() => few.get(50)).toThrow(/index 50 is out of range for 50 samples/);
  });
});

describe("IdxImageDataset errors", () => {
  it("lists the files it looked for and points to --data and Debian's full set", async () => {
    const dir = await mkdtemp(join(tmp, "empty-"));
    const err = await IdxImageDataset.load({ dir, split: "test" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    const msg = (err as DataError).message;
    expect(msg).toContain(dir);
    expect(msg).toContain("t10k-images-idx3-ubyte.gz, t10k-images-idx3-ubyte");
    expect(msg).toContain("--data /usr/share/datasets/fashion-mnist");
    expect(msg).toContain("dataset-fashion-mnist");
    await expect(IdxImageDataset.load({ dir: join(dir, "nope"), split: "train" })).rejects.toThrow(
      /no such folder/,
    );
  });

  it("names the labels file when it does not match the images", async () => {
    const dir = await mkdtemp(join(tmp, "mismatch-"));
    await writeSplit(dir, 6, 4);
    await expect(IdxImageDataset.load({ dir, split: "train" })).rejects.toThrow(
      /train-labels-idx1-ubyte: has 4 labels for the 6 images/,
    );
  });

  it("finds the dotted renaming (train-images.idx3-ubyte) too", async () => {
    const dir = await mkdtemp(join(tmp, "dotted-"));
    await writeSplit(dir, 2, 2, ["train-images.idx3-ubyte", "train-labels.idx1-ubyte"]);
    expect((await IdxImageDataset.load({ dir, split: "train" })).length).toBe(2);
  });
});
