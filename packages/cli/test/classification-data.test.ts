/**
 * Classification data sources: `--data` as an image folder with train/ and test/, or one folder
 * split 90/10 by seed; images are converted to the model's channels and size; a folder of one class
 * or a file is a clear error.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodePng } from "@tessera/data";
import { afterAll, describe, expect, it } from "vitest";
import { loadClassificationData, prepareImage } from "../src/tasks/classification.js";
import type { RunOptions } from "../src/tasks/types.js";

const root = mkdtempSync(join(tmpdir(), "tessera-cls-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function png(path: string, value: number, size = 12): void {
  const data = new Uint8Array(size * size * 3).fill(value);
  writeFileSync(path, encodePng({ width: size, height: size, channels: 3, bitDepth: 8, data }));
}

function folder(dir: string, classes: string[], perClass: number): void {
  for (const [c, name] of classes.entries()) {
    mkdirSync(join(dir, name), { recursive: true });
    for (let i = 0; i < perClass; i++) png(join(dir, name, `${i}.png`), 40 * c + i);
  }
}

const base: RunOptions = {
  epochs: 1,
  batchSize: 4,
  lr: 1e-3,
  weightDecay: 0,
  seed: 3,
  gradCheckpoint: false,
  workers: 0,
};

describe("image folders", () => {
  it("train/ and test/ subfolders give the two splits, RGB at --img-size", async () => {
    const dir = join(root, "split");
    folder(join(dir, "train"), ["cat", "dog"], 3);
    folder(join(dir, "test"), ["cat", "dog"], 2);
    const data = await loadClassificationData({ ...base, data: dir, imgSize: 16 });
    expect(data.classes).toEqual(["cat", "dog"]);
    expect(data.train.length).toBe(6);
    expect(data.test?.length).toBe(4);
    const s = await data.test!.get(0);
    expect([s.image.channels, s.image.height, s.image.width]).toEqual([3, 16, 16]);
    expect(data.input).toMatchObject({ channels: 3, height: 16, width: 16 });
  });

  it("one folder is split 90/10 by the seed, the same for the same seed", async () => {
    const dir = join(root, "one");
    folder(dir, ["a", "b"], 10);
    const d1 = await loadClassificationData({ ...base, data: dir });
    const d2 = await loadClassificationData({ ...base, data: dir });
    expect(d1.train.length).toBe(18);
    expect(d1.test?.length).toBe(2);
    expect((await d1.test!.get(0)).label).toBe((await d2.test!.get(0)).label);
  });

  it("a folder with one class, or a file, is an error that says what --data needs", async () => {
    const dir = join(root, "single");
    folder(dir, ["only"], 3);
    await expect(loadClassificationData({ ...base, data: dir })).rejects.toThrow(/1 class folder/);
    const file = join(root, "file.png");
    png(file, 1);
    await expect(loadClassificationData({ ...base, data: file })).rejects.toThrow(/is not a directory/);
  });
});

describe("prepareImage", () => {
  it("converts channels, resizes to the model's input and normalises like training", () => {
    const img = {
      width: 10,
      height: 10,
      channels: 3 as const,
      bitDepth: 8 as const,
      data: new Uint8Array(300).fill(255),
    };
    const { normalized, display } = prepareImage(img, {
      channels: 1,
      height: 28,
      width: 28,
      mean: [0.5],
      std: [0.25],
    });
    expect([normalized.channels, normalized.height, normalized.width]).toEqual([1, 28, 28]);
    // White is 1.0 after ÷255; (1 − 0.5) / 0.25 = 2.
    expect(normalized.data[0]).toBeCloseTo(2, 5);
    expect(display.data[0]).toBeCloseTo(1, 5);
  });
});
