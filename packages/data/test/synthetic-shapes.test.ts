import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FrameSequenceDataset, generateShapesDataset, ImageFiles, readImage } from "../src/index.js";

const root = await mkdtemp(join(tmpdir(), "tessera-synthetic-shapes-"));
afterAll(() => rm(root, { recursive: true, force: true }));

async function allBytes(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const seq of (await readdir(dir)).sort()) {
    for (const f of (await readdir(join(dir, seq))).sort())
      out.set(`${seq}/${f}`, await readFile(join(dir, seq, f)));
  }
  return out;
}

describe("generateShapesDataset", () => {
  it("writes sequences of grayscale frames as dir/seq_000/frame_000.png at the asked size", async () => {
    const dir = join(root, "layout");
    const { files } = await generateShapesDataset(dir, { sequences: 2, frames: 3, size: 24, seed: 1 });
    expect(files).toBe(6);
    expect((await readdir(dir)).sort()).toEqual(["seq_000", "seq_001"]);
    expect((await readdir(join(dir, "seq_001"))).sort()).toEqual([
      "frame_000.png",
      "frame_001.png",
      "frame_002.png",
    ]);
    const img = await readImage(join(dir, "seq_000", "frame_000.png"));
    expect([img.width, img.height, img.channels, img.bitDepth]).toEqual([24, 24, 1, 8]);
  });

  it("gives identical bytes for the same seed and different frames for another seed", async () => {
    const opts = { sequences: 2, frames: 2, size: 20 };
    await generateShapesDataset(join(root, "a"), { ...opts, seed: 7 });
    await generateShapesDataset(join(root, "b"), { ...opts, seed: 7 });
    await generateShapesDataset(join(root, "c"), { ...opts, seed: 8 });
    const [a, b, c] = await Promise.all(["a", "b", "c"].map((d) => allBytes(join(root, d))));
    expect([...a!.keys()]).toEqual([...b!.keys()]);
    for (const [k, v] of a!) {
      expect(v.equals(b!.get(k)!), k).toBe(true);
      expect(v.equals(c!.get(k)!), k).toBe(false);
    }
  });

  it("moves shapes smoothly: consecutive frames differ, but less than frames far apart", async () => {
    const dir = join(root, "motion");
    await generateShapesDataset(dir, { sequences: 1, frames: 9, size: 48, seed: 3 });
    const frame = async (i: number) => (await readImage(join(dir, "seq_000", `frame_00${i}.png`))).data;
    const meanAbs = (x: ArrayLike<number>, y: ArrayLike<number>) => {
      let s = 0;
      for (let i = 0; i < x.length; i++) s += Math.abs((x[i] as number) - (y[i] as number));
      return s / x.length;
    };
    const [f0, f1, f8] = await Promise.all([frame(0), frame(1), frame(8)]);
    const near = meanAbs(f0, f1);
    const far = meanAbs(f0, f8);
    expect(near).toBeGreaterThan(0);
    expect(far).toBeGreaterThan(near);
    // Shapes are bright on a dark background: some pixels are well above the noise floor.
    expect(Math.max(...f0)).toBeGreaterThan(100);
  });

  it("is read by FrameSequenceDataset (windows per sequence) and ImageFiles (every frame)", async () => {
    const dir = join(root, "datasets");
    await generateShapesDataset(dir, { sequences: 2, frames: 5, size: 16, seed: 0 });
    const windows = await FrameSequenceDataset.open(dir, { seqLen: 3 });
    expect(windows.length).toBe(2 * (5 - 3 + 1));
    const files = await ImageFiles.open(dir);
    expect(files.length).toBe(10);
  });

  it("rejects a size too small to draw in, naming the option", async () => {
    await expect(generateShapesDataset(join(root, "bad"), { size: 2 })).rejects.toThrow(
      /size must be an integer ≥ 8/,
    );
  });
});
