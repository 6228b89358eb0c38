import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DepthFolder, openDepthFolder } from "../src/depth-folder.js";
import { DataError } from "../src/errors.js";
import {
  depth16,
  image,
  tempFolder,
  writePng,
  writeTextAsPng,
  writeTruncatedPng,
} from "./image-folder-support.js";

let root: string;
let cleanup: () => Promise<void>;
const rgb = (w: number, h: number) => image(w, h, 3, (x, y, c) => x + y + c);
const dep = (w: number, h: number) => depth16(w, h, (x, y) => 1000 + x + y);

beforeAll(async () => {
  ({ dir: root, cleanup } = await tempFolder("depth-folder-bad"));
  const s = join(root, "mixed");
  await writePng(join(s, "images", "good.png"), rgb(4, 4));
  await writePng(join(s, "depths", "good.png"), dep(4, 4));
  await writePng(join(s, "images", "size.png"), rgb(4, 4));
  await writePng(join(s, "depths", "size.png"), dep(3, 4)); // wrong width
  await writePng(join(s, "images", "corrupt.png"), rgb(4, 4));
  await writeTruncatedPng(join(s, "depths", "corrupt.png"), dep(4, 4));
  await writePng(join(s, "images", "color.png"), rgb(4, 4));
  await writePng(join(s, "depths", "color.png"), rgb(4, 4)); // an RGB "depth"
  const m = join(root, "missing");
  await writePng(join(m, "images", "a.png"), rgb(2, 2));
  await writePng(join(m, "depths", "a.png"), dep(2, 2));
  await writePng(join(m, "images", "b.jpg.png"), rgb(2, 2)); // stem "b.jpg": no depth
  await writePng(join(m, "depths", "c.png"), dep(2, 2)); // no image
  await writePng(join(root, "nodepths", "images", "a.png"), rgb(2, 2));
  await mkdir(join(root, "emptyboth", "images"), { recursive: true });
  await mkdir(join(root, "emptyboth", "depths"), { recursive: true });
  await writePng(join(root, "dup", "images", "a.png"), rgb(2, 2));
  await writeTextAsPng(join(root, "dup", "images", "a.jpg"));
  await writePng(join(root, "dup", "depths", "a.png"), dep(2, 2));
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

describe("DepthFolder bad files", () => {
  it("names both files of a pair whose sizes differ", async () => {
    const ds = await DepthFolder.open(join(root, "mixed"));
    const i = ds.pairs.findIndex((p) => p.stem === "size");
    const e = await errorOf(ds.get(i));
    expect(e.message).toContain(join(root, "mixed", "images", "size.png"));
    expect(e.message).toContain(join(root, "mixed", "depths", "size.png"));
    expect(e.message).toMatch(/4×4 differs .* \(3×4\)/);
  });

  it("names a truncated depth PNG and an RGB depth map when they are loaded", async () => {
    const ds = await DepthFolder.open(join(root, "mixed"));
    const corrupt = await errorOf(ds.get(ds.pairs.findIndex((p) => p.stem === "corrupt")));
    expect(corrupt.path).toBe(join(root, "mixed", "depths", "corrupt.png"));
    const color = await errorOf(ds.get(ds.pairs.findIndex((p) => p.stem === "color")));
    expect(color.path).toBe(join(root, "mixed", "depths", "color.png"));
    expect(color.message).toMatch(/1-channel gray PNG .* has 3 channels/);
  });

  it("skips and reports bad pairs with onBadFile skip", async () => {
    const ds = await DepthFolder.open(join(root, "mixed"), { onBadFile: "skip" });
    expect(ds.pairs.map((p) => p.stem)).toEqual(["good"]);
    expect(ds.badFiles.map((b) => b.path.slice(root.length + 1)).sort()).toEqual([
      "mixed/images/color.png",
      "mixed/images/corrupt.png",
      "mixed/images/size.png",
    ]);
    const bySize = ds.badFiles.find((b) => b.path.endsWith("size.png"));
    expect(bySize?.reason).toContain(join(root, "mixed", "depths", "size.png"));
    const report = ds.report();
    expect(report).toMatch(/1 image\/depth pairs/);
    expect(report).toMatch(/Skipped 3 bad files/);
    const copy = await openDepthFolder(JSON.parse(JSON.stringify(ds.workerSpec().args)));
    expect(copy.pairs).toEqual(ds.pairs);
  });

  it("lists stems missing on either side, or skips them", async () => {
    const e = await errorOf(DepthFolder.open(join(root, "missing")));
    expect(e.message).toContain(
      `${join(root, "missing", "images", "b.jpg.png")}: no depth map ${join("depths", "b.jpg.png")}`,
    );
    expect(e.message).toContain(`${join(root, "missing", "depths", "c.png")}: no image`);
    const ds = await DepthFolder.open(join(root, "missing"), { onBadFile: "skip" });
    expect(ds.pairs.map((p) => p.stem)).toEqual(["a"]);
    expect(ds.badFiles).toHaveLength(2);
  });

  it("says what layout it expects when depths/ is missing or there are no pairs", async () => {
    const e = await errorOf(DepthFolder.open(join(root, "nodepths")));
    expect(e.path).toBe(join(root, "nodepths", "depths"));
    expect(e.message).toMatch(/folder not found; DepthFolder expects <root>\/images/);
    expect((await errorOf(DepthFolder.open(join(root, "emptyboth")))).message).toMatch(
      /no image\/depth pairs/,
    );
  });

  it("refuses to guess between two images with one stem", async () => {
    const e = await errorOf(DepthFolder.open(join(root, "dup")));
    expect(e.message).toMatch(/same name as/);
  });
});
