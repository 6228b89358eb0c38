import fs from "node:fs";
import path from "node:path";
import { memory } from "@tessera/core";
import { readImage } from "@tessera/data";
import type { AutoencoderLSTM } from "@tessera/models";
import { load, save } from "@tessera/nn";
import { afterAll, describe, expect, it } from "vitest";
import { CONFIG_FILE, WEIGHTS_FILE } from "../src/checkpoint.js";
import { autoencoderTask } from "../src/tasks/autoencoder.js";
import { autoencoderLstmTask, type FrameWindow } from "../src/tasks/autoencoder-lstm.js";
import { writeMovingSquares } from "./task-fixtures.js";
import { runOptions, tempDir, trainSteps } from "./task-support.js";

const tmp = tempDir("task-autoencoder-lstm");
afterAll(() => tmp.cleanup());

const SIZE = 20;
const frames = path.join(tmp.dir, "frames");
await writeMovingSquares(frames, 3, 12, SIZE); // 3 × (12 − 8 + 1) = 15 windows of 8

/** An autoencoder run directory as `tessera train autoencoder` leaves it: config.json + weights. */
async function writeAutoencoderRun(dir: string): Promise<void> {
  const opts = runOptions({ data: frames, imgSize: SIZE });
  const data = await autoencoderTask.loadData(opts);
  const { model, config } = autoencoderTask.createModel(opts, data);
  fs.mkdirSync(dir, { recursive: true });
  await save(model, path.join(dir, WEIGHTS_FILE));
  const run = {
    format: "tessera-run-v1",
    task: "autoencoder",
    model: config,
    options: opts,
    data: data.describe,
  };
  fs.writeFileSync(path.join(dir, CONFIG_FILE), JSON.stringify(run));
  model.dispose();
}

const aeRun = path.join(tmp.dir, "runs", "autoencoder");
await writeAutoencoderRun(aeRun);
const opts = runOptions({ data: frames, init: aeRun });

async function samples(
  ds: { length: number; get(i: number): FrameWindow | Promise<FrameWindow> },
  n: number,
) {
  return Promise.all(Array.from({ length: Math.min(n, ds.length) }, (_, i) => ds.get(i)));
}

describe("autoencoder-lstm task", () => {
  it("makes windows of 8 frames at the autoencoder's size; the last windows are the test set", async () => {
    const data = await autoencoderLstmTask.loadData(opts);
    expect(data.train.length + data.test!.length).toBe(15);
    expect(data.test!.length).toBe(2);
    const last = await data.test!.get(data.test!.length - 1);
    expect(last.frames.length).toBe(8);
    expect([last.frames[0]!.height, last.frames[0]!.width]).toEqual([SIZE, SIZE]);
    expect(last.sequence).toBe("seq_2");
  });

  it("defaults --data to the frames the autoencoder was trained on", async () => {
    const data = await autoencoderLstmTask.loadData({ ...opts, data: undefined });
    expect(data.describe).toMatchObject({ data: path.resolve(frames), windows: 15 });
  });

  it("starts from the trained encoder, frozen, and trains the LSTM: loss falls, tensor count flat", async () => {
    const data = await autoencoderLstmTask.loadData(opts);
    const { model, config } = autoencoderLstmTask.createModel(opts, data);
    const m = model as AutoencoderLSTM;
    // The encoder's weights are the run's, and no gradient reaches them.
    const { tensors } = await load(path.join(aeRun, WEIGHTS_FILE));
    const w = tensors.get("encoder.proj.weight")!;
    expect([...m.encoder.stateDict().get("proj.weight")!.dataSync()]).toEqual([...w.dataSync()]);
    for (const t of tensors.values()) t.dispose();
    expect([...m.encoder.parameters()].every((p) => !p.requiresGrad)).toBe(true);
    const r = trainSteps(autoencoderLstmTask, model, await samples(data.train, 6), 30, 3e-3);
    expect(r.losses.at(-1)!).toBeLessThan(r.losses[0]! * 0.5);
    expect(r.tensorsAtEnd).toBe(r.tensorsAfterFirst);
    // The saved config rebuilds the same model without the autoencoder run.
    const again = autoencoderLstmTask.createModel(runOptions(), data, config);
    expect([...again.model.stateDict().keys()]).toEqual([...model.stateDict().keys()]);
    again.model.dispose();
    model.dispose();
  });

  it("reports the copy-the-current-frame baseline beside its own error", async () => {
    const data = await autoencoderLstmTask.loadData(opts);
    const { model } = autoencoderLstmTask.createModel(opts, data);
    const batch = autoencoderLstmTask.collate(await samples(data.test!, 2));
    const before = memory().numTensors;
    const { loss, metrics } = autoencoderLstmTask.evalStep(model, batch);
    expect(memory().numTensors).toBe(before);
    expect(metrics.count).toBe(2);
    expect(metrics["mse"]! / 2).toBeCloseTo(loss, 5);
    expect(metrics["copy_mse"]!).toBeGreaterThan(0); // the square moves, so consecutive frames differ
    for (const t of Object.values(batch)) t.dispose();
    model.dispose();
  });

  it("draws next-frame.png with the autoencoder's decoder", async () => {
    const data = await autoencoderLstmTask.loadData(opts);
    const { model } = autoencoderLstmTask.createModel(opts, data);
    const out = path.join(tmp.dir, "plots");
    fs.mkdirSync(out);
    const before = memory().numTensors;
    const files = await autoencoderLstmTask.plots!(model, data, out);
    expect(memory().numTensors).toBe(before);
    expect(files).toEqual([path.join(out, "next-frame.png")]);
    expect((await readImage(files[0]!)).width).toBeGreaterThan(7 * SIZE); // 7 next frames per row
    model.dispose();
  });

  it("without --init, says to train the autoencoder first and how", async () => {
    await expect(autoencoderLstmTask.loadData({ ...opts, init: undefined })).rejects.toThrow(
      /needs a trained autoencoder: --init/,
    );
    await expect(autoencoderLstmTask.loadData({ ...opts, init: undefined })).rejects.toMatchObject({
      hint: expect.stringContaining("tessera train autoencoder --out runs/autoencoder"),
    });
    await expect(autoencoderLstmTask.loadData({ ...opts, init: path.join(tmp.dir, "nope") })).rejects.toThrow(
      /--init .*nope does not exist/,
    );
  });

  it("refuses a run of another task as --init", async () => {
    const other = path.join(tmp.dir, "runs", "text");
    fs.mkdirSync(other, { recursive: true });
    fs.copyFileSync(path.join(aeRun, WEIGHTS_FILE), path.join(other, WEIGHTS_FILE));
    const config = JSON.parse(fs.readFileSync(path.join(aeRun, CONFIG_FILE), "utf8"));
    fs.writeFileSync(path.join(other, CONFIG_FILE), JSON.stringify({ ...config, task: "text" }));
    await expect(autoencoderLstmTask.loadData({ ...opts, init: other })).rejects.toThrow(
      /is a 'text' run, not an autoencoder's/,
    );
  });
});
