import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { datasetFromSpec } from "../src/dataset.js";
import { FrameSequenceDataset, type FrameWindow, openFrameSequences } from "../src/frame-sequence.js";
import { image, tempFolder, writePng } from "./image-folder-support.js";

let root: string;
let cleanup: () => Promise<void>;

// Frame k of a sequence has every pixel = k, so a loaded frame tells which file it came from.
const frame = (k: number, size = 3) => image(size, size, 1, () => k);
const ids = (w: FrameWindow) => w.frames.map((f) => Math.round((f.data[0] as number) * 255));

beforeAll(async () => {
  ({ dir: root, cleanup } = await tempFolder("frame-sequence"));
  // seq_10 before seq_2 in plain order; frames 0..11 named without zero padding.
  for (let k = 0; k < 12; k++) await writePng(join(root, "clips", "seq_2", `frame_${k}.png`), frame(k));
  for (let k = 0; k < 5; k++) await writePng(join(root, "clips", "seq_10", `frame_${k}.png`), frame(100 + k));
  for (let k = 0; k < 2; k++) await writePng(join(root, "clips", "seq_30", `f${k}.png`), frame(200 + k)); // too short
  for (let k = 0; k < 4; k++)
    await writePng(
      join(root, "single", `${k}.png`),
      image(4, 2, 3, () => 10 * k),
    );
});
afterAll(() => cleanup());

describe("FrameSequenceDataset", () => {
  it("orders sequences and frames naturally and yields every window of seqLen with the stride", async () => {
    const ds = await FrameSequenceDataset.open(join(root, "clips"), { seqLen: 4, stride: 3 });
    expect(ds.sequences).toEqual(["seq_2", "seq_10", "seq_30"]);
    // seq_2 (12 frames): starts 0, 3, 6 (a window at 9 would need a 13th frame); seq_10 (5 frames): start 0;
    // seq_30 (2 frames) is too short.
    const windows: [string, number, number[]][] = [];
    for (let i = 0; i < ds.length; i++) {
      const w = await ds.get(i);
      windows.push([w.sequence, w.start, ids(w)]);
    }
    expect(windows).toEqual([
      ["seq_2", 0, [0, 1, 2, 3]],
      ["seq_2", 3, [3, 4, 5, 6]],
      ["seq_2", 6, [6, 7, 8, 9]],
      ["seq_10", 0, [100, 101, 102, 103]],
    ]);
  });

  it("with stride 1 gives frames − seqLen + 1 windows per sequence", async () => {
    const ds = await FrameSequenceDataset.open(join(root, "clips"), { seqLen: 5 });
    expect(ds.length).toBe(12 - 5 + 1 + (5 - 5 + 1));
    expect(ids(await ds.get(7))).toEqual([7, 8, 9, 10, 11]);
  });

  it("skips sequences shorter than seqLen and says so in the report", async () => {
    const ds = await FrameSequenceDataset.open(join(root, "clips"), { seqLen: 6, stride: 2 });
    expect(ds.shortSequences).toEqual([
      { sequence: "seq_10", frames: 5 },
      { sequence: "seq_30", frames: 2 },
    ]);
    expect(ds.length).toBe(4); // seq_2: starts 0, 2, 4, 6
    const report = ds.report();
    expect(report).toContain("3 sequences, 4 windows of 6 frames (stride 2)");
    expect(report).toContain("Left out, shorter than 6 frames: seq_10 (5 frames), seq_30 (2 frames).");
  });

  it("fails naming the longest sequence when no sequence is long enough", async () => {
    await expect(FrameSequenceDataset.open(join(root, "clips"), { seqLen: 13 })).rejects.toThrow(
      /no sequence has seqLen = 13 consecutive readable frames \(the longest has 12\)/,
    );
  });

  it("resizes frames and converts channels", async () => {
    const ds = await FrameSequenceDataset.open(join(root, "clips"), { seqLen: 2, size: [5, 4], channels: 3 });
    const w = await ds.get(0);
    for (const f of w.frames) expect([f.channels, f.height, f.width]).toEqual([3, 5, 4]);
    // A constant frame stays constant under bilinear resizing.
    expect(w.frames[1]?.data.every((v) => Math.abs(v - 1 / 255) < 1e-7)).toBe(true);
  });

  it("reads a folder of frames without subfolders as one sequence", async () => {
    const ds = await FrameSequenceDataset.open(join(root, "single"), { seqLen: 3 });
    expect(ds.sequences).toEqual(["single"]);
    expect(ds.length).toBe(2);
    const w = await ds.get(1);
    expect(w.start).toBe(1);
    expect(w.frames[0]?.channels).toBe(1); // default channels 1
  });

  it("is rebuilt from its workerSpec as the same dataset", async () => {
    const ds = await FrameSequenceDataset.open(join(root, "clips"), { seqLen: 3, stride: 2, size: 2 });
    const spec = ds.workerSpec();
    expect(spec.factory).toBe("openFrameSequences");
    const copy = await openFrameSequences(JSON.parse(JSON.stringify(spec.args)));
    const viaSpec = await datasetFromSpec<FrameWindow>(spec);
    expect(copy.length).toBe(ds.length);
    expect(viaSpec.length).toBe(ds.length);
    for (let i = 0; i < ds.length; i++) expect(await viaSpec.get(i)).toEqual(await ds.get(i));
  });

  it("rejects a bad seqLen or stride, naming it", async () => {
    await expect(FrameSequenceDataset.open(join(root, "clips"), { seqLen: 0 })).rejects.toThrow(
      /seqLen must be/,
    );
    await expect(FrameSequenceDataset.open(join(root, "clips"), { seqLen: 2, stride: 1.5 })).rejects.toThrow(
      /stride must be/,
    );
  });
});
