import fs from "node:fs";
import path from "node:path";
import { memory } from "@tessera/core";
import { readImage } from "@tessera/data";
import type { TransformerAutoencoder } from "@tessera/models";
import { afterAll, describe, expect, it } from "vitest";
import { autoencoderTask, type ImageSample } from "../src/tasks/autoencoder.js";
import { writeMovingSquares } from "./task-fixtures.js";
import { runOptions, tempDir, trainSteps } from "./task-support.js";

const tmp = tempDir("task-autoencoder");
afterAll(() => tmp.cleanup());

const SIZE = 24;
const root = path.join(tmp.dir, "frames");
await writeMovingSquares(root, 3, 10, SIZE); // 30 images in nested folders
const opts = runOptions({ data: root, imgSize: SIZE });

async function samples(
  ds: { length: number; get(i: number): ImageSample | Promise<ImageSample> },
  n: number,
) {
  return Promise.all(Array.from({ length: Math.min(n, ds.length) }, (_, i) => ds.get(i)));
}

describe("autoencoder task", () => {
  it("finds the images recursively and holds out 10%", async () => {
    const data = await autoencoderTask.loadData(opts);
    expect(data.train.length).toBe(27);
    expect(data.test!.length).toBe(3);
    const { image } = await data.train.get(0);
    expect([image.channels, image.height, image.width]).toEqual([1, SIZE, SIZE]);
  });

  it("resizes to --img-size", async () => {
    const data = await autoencoderTask.loadData({ ...opts, imgSize: 16 });
    const { image } = await data.test!.get(0);
    expect([image.height, image.width]).toEqual([16, 16]);
  });

  for (const preset of ["tiny", "tiny-patch"]) {
    it(`trains with preset ${preset}: reconstruction error falls with a flat tensor count`, async () => {
      const data = await autoencoderTask.loadData({ ...opts, preset });
      const { model, config } = autoencoderTask.createModel({ ...opts, preset }, data);
      expect((model as TransformerAutoencoder).encoder.config.tokenizer).toBe(
        preset.endsWith("patch") ? "patch" : "flat",
      );
      const r = trainSteps(autoencoderTask, model, await samples(data.train, 8), 25, 1e-3);
      expect(r.losses.at(-1)!).toBeLessThan(r.losses[0]! * 0.5);
      expect(r.tensorsAtEnd).toBe(r.tensorsAfterFirst);
      // The saved config rebuilds the same architecture.
      const again = autoencoderTask.createModel(opts, data, config);
      expect([...again.model.stateDict().keys()]).toEqual([...model.stateDict().keys()]);
      again.model.dispose();
      model.dispose();
    });
  }

  it("reports per-image mse and psnr, consistent with the loss", async () => {
    const data = await autoencoderTask.loadData(opts);
    const { model } = autoencoderTask.createModel(opts, data);
    const batch = autoencoderTask.collate(await samples(data.test!, 3));
    const before = memory().numTensors;
    const { loss, metrics } = autoencoderTask.evalStep(model, batch);
    expect(memory().numTensors).toBe(before);
    expect(metrics.count).toBe(3);
    // The loss is the mean of the per-image errors; their sum is reported.
    expect(metrics["mse"]! / 3).toBeCloseTo(loss, 6);
    // One image: its PSNR is −10·log10(its mse) (pixels in [0, 1], so the peak is 1).
    const one = autoencoderTask.collate(await samples(data.test!, 1));
    const single = autoencoderTask.evalStep(model, one).metrics;
    expect(single["psnr"]!).toBeCloseTo(-10 * Math.log10(single["mse"]!), 5);
    for (const t of Object.values(one)) t.dispose();
    for (const t of Object.values(batch)) t.dispose();
    model.dispose();
  });

  it("passes --grad-checkpoint to the model and keeps the loss", async () => {
    const data = await autoencoderTask.loadData(opts);
    const plain = autoencoderTask.createModel(opts, data);
    const ckpt = autoencoderTask.createModel({ ...opts, gradCheckpoint: true }, data);
    expect((ckpt.model as TransformerAutoencoder).encoder.config.gradientCheckpointing).toBe(true);
    ckpt.model.loadStateDict(plain.model.stateDict());
    const batch = autoencoderTask.collate(await samples(data.train, 4));
    const a = autoencoderTask.trainStep(plain.model, batch);
    const b = autoencoderTask.trainStep(ckpt.model, batch);
    expect(b.loss.itemSync()).toBeCloseTo(a.loss.itemSync(), 6);
    a.loss.dispose();
    b.loss.dispose();
    for (const t of Object.values(batch)) t.dispose();
    plain.model.dispose();
    ckpt.model.dispose();
  });

  it("draws reconstructions.png, and attention.png for the patch tokenizer", async () => {
    for (const preset of ["tiny", "tiny-patch"]) {
      const data = await autoencoderTask.loadData({ ...opts, preset });
      const { model } = autoencoderTask.createModel({ ...opts, preset }, data);
      const out = path.join(tmp.dir, `plots-${preset}`);
      fs.mkdirSync(out);
      const before = memory().numTensors;
      const files = await autoencoderTask.plots!(model, data, out);
      expect(memory().numTensors).toBe(before);
      const want = ["reconstructions.png", ...(preset === "tiny-patch" ? ["attention.png"] : [])];
      expect(files).toEqual(want.map((f) => path.join(out, f)));
      const grid = await readImage(files[0]!);
      expect(grid.width).toBeGreaterThan(3 * SIZE); // three test images side by side
      model.dispose();
    }
  });

  it("names a missing --data folder and an unknown preset", async () => {
    const missing = path.join(tmp.dir, "missing");
    await expect(autoencoderTask.loadData({ ...opts, data: missing })).rejects.toThrow(
      /missing.*folder of PNG\/JPEG/,
    );
    expect(() => autoencoderTask.createModel({ ...opts, preset: "huge" }, null as never)).toThrow(
      /unknown preset 'huge'.*tiny, small/,
    );
  });
});
