import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { datasetFromSpec } from "../src/dataset.js";
import { DepthFolder, openDepthFolder } from "../src/depth-folder.js";
import { Rng } from "../src/rng.js";
import { resize } from "../src/transforms.js";
import type { FloatImage } from "../src/types.js";
import { depth16, image, tempFolder, writePng } from "./image-folder-support.js";

let root: string;
let cleanup: () => Promise<void>;
const W = 6;
const H = 4;
// Depth in millimetres: 1000 + 100x + 10y, with the top-left pixel invalid (0).
const mm = (x: number, y: number) => (x === 0 && y === 0 ? 0 : 1000 + 100 * x + 10 * y);

beforeAll(async () => {
  ({ dir: root, cleanup } = await tempFolder("depth-folder"));
  await writePng(
    join(root, "scenes", "images", "0000.png"),
    image(W, H, 3, (x, y, c) => 40 * x + y + c),
  );
  await writePng(join(root, "scenes", "depths", "0000.png"), depth16(W, H, mm));
  await writePng(
    join(root, "scenes", "images", "0001.png"),
    image(W, H, 1, (x, y) => 20 * x + y),
  ); // a gray image
  await writePng(
    join(root, "scenes", "depths", "0001.png"),
    depth16(W, H, (x) => 500 * (x + 1)),
  );
});
afterAll(() => cleanup());

function flipped(img: FloatImage): Float32Array {
  const out = new Float32Array(img.data.length);
  for (let r = 0; r < img.channels * img.height; r++) {
    for (let x = 0; x < img.width; x++)
      out[r * img.width + x] = img.data[r * img.width + img.width - 1 - x] as number;
  }
  return out;
}

describe("DepthFolder", () => {
  it("matches images and depths by stem and turns depth units into metres, keeping 0 as invalid", async () => {
    const ds = await DepthFolder.open(join(root, "scenes"));
    expect(ds.length).toBe(2);
    expect(ds.pairs.map((p) => p.stem)).toEqual(["0000", "0001"]);
    const { image, depth } = await ds.get(0);
    expect([image.channels, image.height, image.width]).toEqual([3, H, W]);
    expect([depth.channels, depth.height, depth.width]).toEqual([1, H, W]);
    expect(depth.data[0]).toBe(0);
    // 1000 + 100·5 + 10·3 mm = 1.53 m; float32 holds it to ~1e-7 relative.
    expect(depth.data[3 * W + 5]).toBeCloseTo(1.53, 6);
    const gray = await ds.get(1);
    expect(gray.image.channels).toBe(1);
    const rgb = await (await DepthFolder.open(join(root, "scenes"), { channels: 3 })).get(1);
    expect(rgb.image.channels).toBe(3);
  });

  it("applies depthScale", async () => {
    const ds = await DepthFolder.open(join(root, "scenes"), { depthScale: 0.01 });
    const { depth } = await ds.get(1);
    expect(depth.data[2]).toBeCloseTo(15, 4); // 1500 units × 0.01 m
  });

  it("resizes image bilinearly and depth by nearest neighbour, so no depth is invented", async () => {
    const ds = await DepthFolder.open(join(root, "scenes"), { size: [8, 9] });
    const { image, depth } = await ds.get(0);
    const raw = await (await DepthFolder.open(join(root, "scenes"))).get(0);
    expect(image).toEqual(resize([8, 9]).apply(raw.image, new Rng(0)));
    expect([depth.height, depth.width]).toEqual([8, 9]);
    const source = new Set(Array.from(raw.depth.data));
    for (const v of depth.data) expect(source.has(v)).toBe(true);
    expect(depth.data[0]).toBe(0); // the invalid corner stays invalid
    const square = await (await DepthFolder.open(join(root, "scenes"), { size: 3 })).get(0);
    expect([square.image.height, square.image.width, square.depth.height, square.depth.width]).toEqual([
      3, 3, 3, 3,
    ]);
  });

  it("flips image and depth together, with the rng given to get", async () => {
    const ds = await DepthFolder.open(join(root, "scenes"), { hflip: 0.5, size: [5, 7] });
    const plain = await (await DepthFolder.open(join(root, "scenes"), { size: [5, 7] })).get(0);
    let flips = 0;
    for (let k = 0; k < 32; k++) {
      const a = await ds.get(0, Rng.derive(11, k, 0));
      const again = await ds.get(0, Rng.derive(11, k, 0));
      expect(again).toEqual(a);
      const imageFlipped = a.image.data.every((v, i) => v === flipped(plain.image)[i]);
      const depthFlipped = a.depth.data.every((v, i) => v === flipped(plain.depth)[i]);
      if (imageFlipped) flips++;
      else expect(a).toEqual(plain);
      expect(depthFlipped).toBe(imageFlipped);
    }
    // 32 fair coin flips: all heads or all tails has probability 2^-31; the streams are fixed anyway.
    expect(flips).toBeGreaterThan(0);
    expect(flips).toBeLessThan(32);
    // Without an rng nothing is flipped.
    expect(await ds.get(0)).toEqual(plain);
  });

  it("is rebuilt from its workerSpec as the same dataset", async () => {
    const ds = await DepthFolder.open(join(root, "scenes"), { hflip: 0.5, size: 4, depthScale: 0.002 });
    const spec = ds.workerSpec();
    expect(spec.factory).toBe("openDepthFolder");
    const copy = await openDepthFolder(JSON.parse(JSON.stringify(spec.args)));
    const viaSpec = await datasetFromSpec<{ image: FloatImage; depth: FloatImage }>(spec);
    for (let i = 0; i < ds.length; i++) {
      const expected = await ds.get(i, Rng.derive(5, 0, i));
      expect(await copy.get(i, Rng.derive(5, 0, i))).toEqual(expected);
      expect(await viaSpec.get(i, Rng.derive(5, 0, i))).toEqual(expected);
    }
  });

  it("rejects options that make no sense, naming them", async () => {
    await expect(DepthFolder.open(join(root, "scenes"), { depthScale: 0 })).rejects.toThrow(
      /depthScale must be a positive/,
    );
    await expect(DepthFolder.open(join(root, "scenes"), { hflip: 2 })).rejects.toThrow(
      /hflip is a probability/,
    );
    await expect(DepthFolder.open(join(root, "scenes"), { size: [0, 3] })).rejects.toThrow(/size must be/);
  });
});
