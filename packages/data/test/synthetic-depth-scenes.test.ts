import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DepthFolder, generateDepthDataset, MAX_DEPTH_M, readImage } from "../src/index.js";

const root = await mkdtemp(join(tmpdir(), "tessera-synthetic-depth-"));
afterAll(() => rm(root, { recursive: true, force: true }));

describe("generateDepthDataset", () => {
  it("writes RGB images and 16-bit millimetre depths with matching names and sizes", async () => {
    const dir = join(root, "layout");
    const { files } = await generateDepthDataset(dir, { count: 3, size: 16, seed: 0 });
    expect(files).toBe(6);
    expect((await readdir(join(dir, "images"))).sort()).toEqual(["0000.png", "0001.png", "0002.png"]);
    expect((await readdir(join(dir, "depths"))).sort()).toEqual(["0000.png", "0001.png", "0002.png"]);
    const img = await readImage(join(dir, "images", "0001.png"));
    const depth = await readImage(join(dir, "depths", "0001.png"));
    expect([img.width, img.height, img.channels, img.bitDepth]).toEqual([16, 16, 3, 8]);
    expect([depth.width, depth.height, depth.channels, depth.bitDepth]).toEqual([16, 16, 1, 16]);
  });

  it("has valid depth below the horizon, 0 (invalid) in the sky, all within the range limit", async () => {
    const dir = join(root, "values");
    await generateDepthDataset(dir, { count: 4, size: 32, seed: 5 });
    for (const name of await readdir(join(dir, "depths"))) {
      const d = (await readImage(join(dir, "depths", name))).data;
      // Top row looks at the sky (camera pitch ≤ 0.4 rad, half field of view ≥ 25°), bottom row at the
      // ground or an object close by.
      expect(d[0], name).toBe(0);
      const bottom = d[31 * 32 + 16] as number;
      expect(bottom, name).toBeGreaterThan(0);
      expect(bottom, name).toBeLessThan(MAX_DEPTH_M * 1000);
      expect(Math.max(...d)).toBeLessThanOrEqual(MAX_DEPTH_M * 1000);
    }
  });

  it("gives identical bytes for the same seed and different scenes for another seed", async () => {
    const opts = { count: 2, size: 16 };
    await generateDepthDataset(join(root, "a"), { ...opts, seed: 3 });
    await generateDepthDataset(join(root, "b"), { ...opts, seed: 3 });
    await generateDepthDataset(join(root, "c"), { ...opts, seed: 4 });
    for (const sub of ["images", "depths"]) {
      for (const name of ["0000.png", "0001.png"]) {
        const [a, b, c] = await Promise.all(["a", "b", "c"].map((d) => readFile(join(root, d, sub, name))));
        expect(a!.equals(b!), `${sub}/${name}`).toBe(true);
        expect(a!.equals(c!), `${sub}/${name}`).toBe(false);
      }
    }
  });

  it("is read by DepthFolder with depth in metres", async () => {
    const dir = join(root, "folder");
    await generateDepthDataset(dir, { count: 2, size: 16, seed: 1 });
    const ds = await DepthFolder.open(dir);
    expect(ds.length).toBe(2);
    const { image, depth } = await ds.get(0);
    expect([image.channels, image.height, image.width]).toEqual([3, 16, 16]);
    let maxMetres = 0;
    for (const v of depth.data) maxMetres = Math.max(maxMetres, v);
    // Stored in millimetres, read with the default 0.001 m/unit: metres within the range limit.
    expect(maxMetres).toBeGreaterThan(0.5);
    expect(maxMetres).toBeLessThanOrEqual(MAX_DEPTH_M);
  });
});
