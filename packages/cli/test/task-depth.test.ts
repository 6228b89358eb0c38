import fs from "node:fs";
import path from "node:path";
import { memory } from "@tessera/core";
import { readImage } from "@tessera/data";
import type { MiniViTDepth } from "@tessera/models";
import { afterAll, describe, expect, it } from "vitest";
import { type DepthSample, depthTask } from "../src/tasks/depth.js";
import { writeScenes } from "./task-fixtures.js";
import { runOptions, tempDir, trainSteps } from "./task-support.js";

const tmp = tempDir("task-depth");
afterAll(() => tmp.cleanup());

const SIZE = 32;

const root = path.join(tmp.dir, "scenes");
await writeScenes(root, 20, SIZE);
const opts = runOptions({ data: root, imgSize: SIZE });

async function samples(
  ds: { length: number; get(i: number): DepthSample | Promise<DepthSample> },
  n: number,
) {
  return Promise.all(Array.from({ length: Math.min(n, ds.length) }, (_, i) => ds.get(i)));
}

describe("depth task", () => {
  it("holds out 10% of the pairs, images RGB and depths in metres", async () => {
    const data = await depthTask.loadData(opts);
    expect(data.train.length).toBe(18);
    expect(data.test!.length).toBe(2);
    const { image, depth } = await data.test!.get(0);
    expect([image.channels, image.height, image.width]).toEqual([3, SIZE, SIZE]);
    expect([depth.channels, depth.height, depth.width]).toEqual([1, SIZE, SIZE]);
    expect(depth.data[0]).toBe(0); // the invalid corner
    expect(depth.data[SIZE * 10 + 10]).toBeGreaterThan(1); // metres, not millimetres
    expect(depth.data[SIZE * 10 + 10]).toBeLessThan(3);
  });

  for (const preset of ["small", "small-l1"]) {
    it(`trains with preset ${preset}: loss falls with a flat tensor count`, async () => {
      const data = await depthTask.loadData({ ...opts, preset });
      const { model } = depthTask.createModel({ ...opts, preset }, data);
      const r = trainSteps(depthTask, model, await samples(data.train, 8), 30, 2e-3);
      expect(r.losses.at(-1)!).toBeLessThan(r.losses[0]! * 0.5);
      expect(r.tensorsAtEnd).toBe(r.tensorsAfterFirst);
      model.dispose();
    });
  }

  it("L1 loss and the metrics count valid pixels only", async () => {
    const l1Opts = { ...opts, preset: "small-l1" };
    const data = await depthTask.loadData(l1Opts);
    const { model } = depthTask.createModel(l1Opts, data);
    const batch = depthTask.collate(await samples(data.train, 3));
    const before = memory().numTensors;
    const { loss, metrics } = depthTask.evalStep(model, batch);
    expect(memory().numTensors).toBe(before);
    // The same figures on the host, skipping the pixels whose depth is 0.
    const pred = (model as MiniViTDepth).forward(batch["image"]!);
    const p = pred.dataSync();
    const t = batch["depth"]!.dataSync();
    pred.dispose();
    const n = SIZE * SIZE;
    let l1 = 0;
    let valid = 0;
    let absRel = 0;
    let rmse = 0;
    for (let b = 0; b < 3; b++) {
      let ar = 0;
      let se = 0;
      let v = 0;
      for (let i = b * n; i < (b + 1) * n; i++) {
        if (t[i]! <= 0) continue;
        const d = p[i]! - t[i]!;
        l1 += Math.abs(d);
        ar += Math.abs(d) / t[i]!;
        se += d * d;
        v++;
      }
      valid += v;
      absRel += ar / v;
      rmse += Math.sqrt(se / v);
    }
    expect(valid).toBe(3 * (n - 16));
    // float32 sums over 3k pixels against float64 ones: a relative 1e-4 covers the rounding.
    expect(loss).toBeCloseTo(l1 / valid, 4);
    expect(metrics.count).toBe(3);
    expect(metrics["abs_rel"]! / absRel).toBeCloseTo(1, 4);
    expect(metrics["rmse"]! / rmse).toBeCloseTo(1, 4);
    for (const x of Object.values(batch)) x.dispose();
    model.dispose();
  });

  it("draws depth.png: image, prediction and ground truth per row", async () => {
    const data = await depthTask.loadData(opts);
    const { model } = depthTask.createModel(opts, data);
    const out = path.join(tmp.dir, "plots");
    fs.mkdirSync(out);
    const before = memory().numTensors;
    const files = await depthTask.plots!(model, data, out);
    expect(memory().numTensors).toBe(before);
    expect(files).toEqual([path.join(out, "depth.png")]);
    const png = await readImage(files[0]!);
    expect(png.channels).toBe(3);
    expect(png.width).toBeGreaterThan(3 * SIZE); // three images side by side
    model.dispose();
  });

  it("names a folder without images/ and depths/ and says what it needs", async () => {
    const empty = path.join(tmp.dir, "empty");
    fs.mkdirSync(empty);
    await expect(depthTask.loadData({ ...opts, data: empty })).rejects.toThrow(/images/);
    await expect(depthTask.loadData({ ...opts, data: path.join(tmp.dir, "missing") })).rejects.toThrow(
      /missing.*images\/ and depths\//,
    );
  });
});
