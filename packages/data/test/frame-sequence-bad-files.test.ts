import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataError } from "../src/errors.js";
import { FrameSequenceDataset, type FrameWindow, openFrameSequences } from "../src/frame-sequence.js";
import { image, tempFolder, writePng, writeTextAsPng, writeTruncatedPng } from "./image-folder-support.js";

let root: string;
let cleanup: () => Promise<void>;
const frame = (k: number, size = 3) => image(size, size, 1, () => k);
const ids = (w: FrameWindow) => w.frames.map((f) => Math.round((f.data[0] as number) * 255));

beforeAll(async () => {
  ({ dir: root, cleanup } = await tempFolder("frame-sequence-bad"));
  // "broken": frame 3 is truncated, splitting the sequence into frames 0-2 and 4-8.
  for (let k = 0; k < 9; k++) {
    const p = join(root, "broken", "a", `${k}.png`);
    if (k === 3) await writeTruncatedPng(p, frame(k));
    else await writePng(p, frame(k));
  }
  // "sizes": frame 2 is 4×4 among 3×3 frames.
  for (let k = 0; k < 5; k++) await writePng(join(root, "sizes", "a", `${k}.png`), frame(k, k === 2 ? 4 : 3));
  await writeTextAsPng(join(root, "text", "a", "0.png"));
  await writeTextAsPng(join(root, "text", "a", "1.png"));
  await mkdir(join(root, "empty"));
});
afterAll(() => cleanup());

async function errorOf(p: Promise<unknown>): Promise<DataError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DataError);
  return e as DataError;
}

describe("FrameSequenceDataset bad files", () => {
  it("names a truncated frame when a window with it is loaded", async () => {
    const ds = await FrameSequenceDataset.open(join(root, "broken"), { seqLen: 3 });
    expect(ds.length).toBe(7);
    await ds.get(0); // frames 0-2 are fine
    expect((await errorOf(ds.get(1))).path).toBe(join(root, "broken", "a", "3.png"));
  });

  it("with skip, leaves a bad frame out of every window and reports it and the short stretch it leaves", async () => {
    const ds = await FrameSequenceDataset.open(join(root, "broken"), { seqLen: 4, onBadFile: "skip" });
    const got: [number, number[]][] = [];
    for (let i = 0; i < ds.length; i++) {
      const w = await ds.get(i);
      got.push([w.start, ids(w)]);
    }
    // Frames 0-2 are too few for a window of 4; 4-8 give two.
    expect(got).toEqual([
      [4, [4, 5, 6, 7]],
      [5, [5, 6, 7, 8]],
    ]);
    expect(ds.shortSequences).toEqual([{ sequence: "a", frames: 3 }]);
    expect(ds.report()).toContain("Left out, shorter than 4 frames: a (3 frames).");
    expect(ds.badFiles.map((b) => b.path)).toEqual([join(root, "broken", "a", "3.png")]);
    expect(ds.report()).toMatch(/Skipped 1 bad file: .*3\.png/);
    const copy = await openFrameSequences(JSON.parse(JSON.stringify(ds.workerSpec().args)));
    expect(copy.length).toBe(ds.length);
    expect(copy.shortSequences).toEqual(ds.shortSequences);
    expect(await copy.get(1)).toEqual(await ds.get(1));
  });

  it("names both frames when a sequence mixes sizes", async () => {
    const ds = await FrameSequenceDataset.open(join(root, "sizes"), { seqLen: 3 });
    const e = await errorOf(ds.get(0));
    expect(e.path).toBe(join(root, "sizes", "a", "2.png"));
    expect(e.message).toContain(join(root, "sizes", "a", "0.png"));
    expect(e.message).toMatch(/4×4 differs .* \(3×3\); all frames of a sequence must be the same size/);
  });

  it("with skip, treats a frame of another size as bad; with size, resizes it instead", async () => {
    const skipped = await FrameSequenceDataset.open(join(root, "sizes"), { seqLen: 2, onBadFile: "skip" });
    expect(skipped.badFiles).toHaveLength(1);
    expect(skipped.badFiles[0]?.reason).toMatch(/size 4×4 differs from the sequence's first frame/);
    expect(skipped.length).toBe(2); // 0-1 and 3-4
    const resized = await FrameSequenceDataset.open(join(root, "sizes"), { seqLen: 3, size: 3 });
    for (const f of (await resized.get(0)).frames) expect([f.height, f.width]).toEqual([3, 3]);
  });

  it("says what it expected for an empty folder and a folder of unreadable frames", async () => {
    expect((await errorOf(FrameSequenceDataset.open(join(root, "empty"), { seqLen: 1 }))).message).toMatch(
      /no frames found; FrameSequenceDataset expects <root>\/<sequence>\/<frame>\.png/,
    );
    const e = await errorOf(FrameSequenceDataset.open(join(root, "text"), { seqLen: 1, onBadFile: "skip" }));
    expect(e.message).toMatch(/the longest has 0/);
    expect(e.message).toMatch(/Skipped 2 bad files/);
  });
});
