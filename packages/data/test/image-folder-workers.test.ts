/**
 * The folder datasets in DataLoader worker threads: a worker rebuilds each one from its workerSpec
 * (dist/ must be built: `npx tsup`; turbo builds before tests) and must load exactly the batches the
 * main thread would, augmentations included, and pass a bad file's DataError back.
 */
import "@tessera/backend-js";
import { join } from "node:path";
import { dispose, memory, type Tensor } from "@tessera/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataLoader } from "../src/dataloader.js";
import { DepthFolder } from "../src/depth-folder.js";
import { DataError } from "../src/errors.js";
import { FrameSequenceDataset } from "../src/frame-sequence.js";
import { ImageFolder } from "../src/image-folder.js";
import { randomCrop } from "../src/transforms.js";
import type { Dataset } from "../src/types.js";
import { depth16, image, tempFolder, writePng, writeTruncatedPng } from "./image-folder-support.js";

let root: string;
let cleanup: () => Promise<void>;
const loaders: DataLoader<unknown>[] = [];

beforeAll(async () => {
  ({ dir: root, cleanup } = await tempFolder("folder-workers"));
  for (let i = 0; i < 12; i++) {
    const cls = ["a", "b", "c"][i % 3] as string;
    await writePng(
      join(root, "cls", cls, `${i}.png`),
      image(6, 5, 3, (x, y, c) => 7 * i + 3 * x + y + c),
    );
    await writePng(
      join(root, "depth", "images", `${i}.png`),
      image(6, 5, 3, (x, y, c) => 5 * i + x + y + c),
    );
    await writePng(
      join(root, "depth", "depths", `${i}.png`),
      depth16(6, 5, (x, y) => (x === 0 ? 0 : 100 * i + x + y)),
    );
    await writePng(
      join(root, "seq", `s${i % 2}`, `f${i}.png`),
      image(4, 4, 1, () => i),
    );
  }
  await writeTruncatedPng(
    join(root, "cls", "a", "bad.png"),
    image(6, 5, 3, () => 0),
  );
});
afterAll(async () => {
  for (const l of loaders) await l.close();
  await cleanup();
});

/** Every batch of an epoch as plain arrays, tensors disposed. */
async function epoch(
  dataset: Dataset<unknown>,
  workers: number,
  e: number,
): Promise<Record<string, number[]>[]> {
  const loader = new DataLoader(dataset as Dataset<object>, {
    batchSize: 4,
    shuffle: true,
    seed: 9,
    workers,
  });
  loaders.push(loader as DataLoader<unknown>);
  const out: Record<string, number[]>[] = [];
  for await (const batch of loader.iterate({ epoch: e })) {
    const b = batch as Record<string, Tensor>;
    out.push(
      Object.fromEntries(Object.entries(b).map(([k, t]) => [k, Array.from(t.dataSync() as Float32Array)])),
    );
    dispose(b);
  }
  await loader.close();
  return out;
}

describe("folder datasets in worker threads", () => {
  it("ImageFolder (skipping a bad file) loads the same batches with 0 and 2 workers", async () => {
    const ds = await ImageFolder.open(join(root, "cls"), {
      onBadFile: "skip",
      transform: randomCrop(4, { padding: 1 }),
    });
    expect(ds.badFiles).toHaveLength(1);
    const start = memory().numTensors;
    const main = await epoch(ds, 0, 1);
    expect(await epoch(ds, 2, 1)).toEqual(main);
    expect(main).toHaveLength(3);
    expect(memory().numTensors).toBe(start);
  });

  it("DepthFolder (joint flip) loads the same batches with 0 and 2 workers", async () => {
    const ds = await DepthFolder.open(join(root, "depth"), { hflip: 0.5, size: 4 });
    expect(await epoch(ds, 2, 0)).toEqual(await epoch(ds, 0, 0));
  });

  it("FrameSequenceDataset loads the same [B,T,C,H,W] batches with 0 and 2 workers", async () => {
    const ds = await FrameSequenceDataset.open(join(root, "seq"), { seqLen: 3, stride: 1 });
    const main = await epoch(ds, 0, 0);
    expect(await epoch(ds, 2, 0)).toEqual(main);
    expect(main[0]?.frames).toHaveLength(4 * 3 * 16);
  });

  it("passes a bad file's DataError from a worker to the consumer, naming the file", async () => {
    const ds = await ImageFolder.open(join(root, "cls"));
    const err = await epoch(ds, 2, 0).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DataError);
    expect((err as DataError).path).toBe(join(root, "cls", "a", "bad.png"));
  });
});
