/**
 * Worker threads load @tessera/data's build (dist/), so these tests need `npx tsup` first (turbo
 * builds the package before its tests).
 */
import "@tessera/backend-js";
import { dispose, memory } from "@tessera/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ConcatDataset,
  compose,
  DataError,
  DataLoader,
  type Dataset,
  IdxImageDataset,
  InMemoryDataset,
  type LabeledImage,
  Rng,
  randomCrop,
  randomHorizontalFlip,
  randomSplit,
} from "../src/index.js";

const fixtures = new URL("./fixtures/dataloader/datasets.mjs", import.meta.url).href;

/** Every batch of an epoch as plain arrays, tensors disposed. */
async function epochValues(
  loader: DataLoader<unknown>,
  epoch: number,
): Promise<{ image: number[]; label: number[] }[]> {
  const out: { image: number[]; label: number[] }[] = [];
  for await (const batch of loader.iterate({ epoch })) {
    out.push({
      image: Array.from(batch.image?.dataSync() as Float32Array),
      label: Array.from(batch.label?.dataSync() as Int32Array),
    });
    dispose(batch);
  }
  return out;
}

describe("DataLoader with worker threads", () => {
  let augmented: IdxImageDataset;
  beforeAll(async () => {
    const transform = compose([randomCrop(28, { padding: 3 }), randomHorizontalFlip()]);
    augmented = await IdxImageDataset.load({ split: "train", limit: 300, transform });
  });
  const loaders: DataLoader<unknown>[] = [];
  afterAll(async () => {
    for (const l of loaders) await l.close();
  });
  const make = <S>(dataset: Dataset<S>, workers: number) => {
    const l = new DataLoader(dataset, { batchSize: 64, shuffle: true, seed: 11, workers });
    loaders.push(l as DataLoader<unknown>);
    return l;
  };

  it("yields the same batches with 0 and 2 workers, random crop and flip included", async () => {
    const main = make(augmented, 0);
    const threads = make(augmented, 2);
    for (const epoch of [0, 1]) {
      const a = await epochValues(main as DataLoader<unknown>, epoch);
      const b = await epochValues(threads as DataLoader<unknown>, epoch);
      expect(b.length).toBe(5);
      expect(b).toEqual(a);
    }
    // The augmentation is live: the same image draws a different crop/flip in epochs 0 and 1.
    const draw = (epoch: number) => Array.from(augmented.get(0, Rng.derive(11, epoch, 0)).image.data);
    expect(draw(1)).not.toEqual(draw(0));
  });

  it("rebuilds composite datasets (randomSplit, ConcatDataset) in the workers", async () => {
    const [part] = randomSplit(augmented, [0.5, 0.5], 3);
    const both = new ConcatDataset([part as Dataset<LabeledImage>, augmented]);
    expect(await epochValues(make(both, 2) as DataLoader<unknown>, 2)).toEqual(
      await epochValues(make(both, 0) as DataLoader<unknown>, 2),
    );
  });

  it("keeps the tensor count flat and the process free to exit after close()", async () => {
    const loader = make(augmented, 2);
    const start = memory().numTensors;
    for await (const batch of loader) dispose(batch);
    expect(memory().numTensors).toBe(start);
    await loader.close();
    await loader.close();
  });

  it("passes a worker's DataError to the consumer with the original message", async () => {
    const { FlakyDataset } = (await import(fixtures)) as {
      FlakyDataset: new (args: { length: number; failAt: number }) => Dataset<{ x: Float32Array }>;
    };
    const loader = new DataLoader(new FlakyDataset({ length: 40, failAt: 25 }), {
      batchSize: 10,
      workers: 2,
    });
    loaders.push(loader as DataLoader<unknown>);
    let batches = 0;
    const run = async () => {
      for await (const batch of loader) {
        dispose(batch);
        batches++;
      }
    };
    const err = await run().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DataError);
    expect((err as DataError).message).toBe("/data/flaky.bin: record 25 is corrupt");
    expect((err as DataError).path).toBe("/data/flaky.bin");
    expect(batches).toBe(2);
    // The loader recovers: a fresh pool serves the next epoch up to the same bad record.
    await expect(run()).rejects.toThrow("record 25 is corrupt");
  });

  it("stops its workers when the loop breaks and starts new ones on the next iteration", async () => {
    const loader = make(augmented, 2);
    const expected = await epochValues(make(augmented, 0) as DataLoader<unknown>, 1);
    for await (const batch of loader.iterate({ epoch: 0 })) {
      dispose(batch);
      break;
    }
    expect(await epochValues(loader as DataLoader<unknown>, 1)).toEqual(expected);
  });

  it("reports a spec the worker cannot rebuild from as a DataError naming the module and factory", async () => {
    const broken: Dataset<{ x: Float32Array }> & {
      workerSpec(): { module: string; factory: string; args: unknown };
    } = {
      length: 4,
      get: (i) => ({ x: Float32Array.of(i) }),
      workerSpec: () => ({ module: fixtures, factory: "createMissing", args: {} }),
    };
    const loader = new DataLoader(broken, { batchSize: 2, workers: 1 });
    loaders.push(loader as DataLoader<unknown>);
    const err = await (async () => {
      for await (const batch of loader) dispose(batch);
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toContain("datasets.mjs: has no export 'createMissing'");
  });

  it("refuses a dataset that cannot be rebuilt in a worker, saying what to do", () => {
    expect(() => new DataLoader(new InMemoryDataset([{ x: 1 }]), { workers: 2 })).toThrow(
      /InMemoryDataset\) cannot be loaded in worker threads: it has no workerSpec\(\)/,
    );
  });
});
