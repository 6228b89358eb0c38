import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataError } from "../src/errors.js";
import { ImageFiles, ImageFolder, openImageFolder } from "../src/image-folder.js";
import { image, tempFolder, writePng, writeTextAsPng, writeTruncatedPng } from "./image-folder-support.js";

let root: string;
let cleanup: () => Promise<void>;
const good = () => image(5, 4, 3, (x, y, c) => 10 * x + y + c);

beforeAll(async () => {
  ({ dir: root, cleanup } = await tempFolder("image-folder-bad"));
  // "mixed": one good image per class plus a truncated PNG and a text file named .png.
  await writePng(join(root, "mixed", "a", "0.png"), good());
  await writeTruncatedPng(join(root, "mixed", "a", "1.png"), good());
  await writePng(join(root, "mixed", "b", "0.png"), good());
  await writeTextAsPng(join(root, "mixed", "b", "1.png"));
  await mkdir(join(root, "empty"));
  await writePng(join(root, "loose", "x.png"), good());
  await writePng(join(root, "hollow", "a", "0.png"), good());
  await mkdir(join(root, "hollow", "b"));
  await writeTextAsPng(join(root, "allbad", "a", "0.png"));
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

describe("ImageFolder bad files", () => {
  it("names a truncated PNG when it is loaded (onBadFile throw)", async () => {
    const ds = await ImageFolder.open(join(root, "mixed"));
    expect(ds.length).toBe(4);
    const e = await errorOf(ds.get(1));
    expect(e.path).toBe(join(root, "mixed", "a", "1.png"));
    expect(e.message).toContain(join(root, "mixed", "a", "1.png"));
  });

  it("names a text file with a .png name and says it is not an image", async () => {
    const ds = await ImageFolder.open(join(root, "mixed"));
    const e = await errorOf(ds.get(3));
    expect(e.path).toBe(join(root, "mixed", "b", "1.png"));
    expect(e.message).toMatch(/not a PNG or JPEG/);
  });

  it("skips and reports bad files with onBadFile skip", async () => {
    const ds = await ImageFolder.open(join(root, "mixed"), { onBadFile: "skip" });
    expect(ds.length).toBe(2);
    expect(ds.samples.map((s) => s.label)).toEqual([0, 1]);
    expect(ds.badFiles.map((b) => b.path)).toEqual([
      join(root, "mixed", "a", "1.png"),
      join(root, "mixed", "b", "1.png"),
    ]);
    for (const b of ds.badFiles) {
      expect(b.reason.length).toBeGreaterThan(0);
      expect(b.reason.startsWith(b.path)).toBe(false); // the path is not repeated inside the reason
    }
    const report = ds.report();
    expect(report).toContain("2 images in 2 classes (a 1, b 1)");
    expect(report).toContain("Skipped 2 bad files");
    expect(report).toContain(join(root, "mixed", "b", "1.png"));
    expect(report).toMatch(/Fix or delete them/);
    // Every remaining sample loads.
    for (let i = 0; i < ds.length; i++) expect((await ds.get(i)).image.channels).toBe(3);
  });

  it("gives a worker the bad-file list so it indexes the same samples", async () => {
    const ds = await ImageFolder.open(join(root, "mixed"), { onBadFile: "skip" });
    const copy = await openImageFolder(JSON.parse(JSON.stringify(ds.workerSpec().args)));
    expect(copy.samples).toEqual(ds.samples);
    expect(copy.badFiles).toEqual(ds.badFiles);
  });

  it("says what layout it expects for a missing folder, an empty one, and images without class folders", async () => {
    expect((await errorOf(ImageFolder.open(join(root, "nope")))).message).toMatch(
      /folder not found; ImageFolder expects/,
    );
    expect((await errorOf(ImageFolder.open(join(root, "empty")))).message).toMatch(
      /no class subfolders.*Found 0 image files/,
    );
    const loose = await errorOf(ImageFolder.open(join(root, "loose")));
    expect(loose.message).toMatch(/Found 1 image file directly in the folder/);
    expect(loose.message).toMatch(/use ImageFiles/);
  });

  it("names a class folder without images, or keeps the class with no samples when skipping", async () => {
    const e = await errorOf(ImageFolder.open(join(root, "hollow")));
    expect(e.message).toContain(join(root, "hollow", "b"));
    const ds = await ImageFolder.open(join(root, "hollow"), { onBadFile: "skip" });
    expect(ds.classes).toEqual(["a", "b"]);
    expect(ds.classCounts()).toEqual([1, 0]);
    expect(ds.badFiles).toEqual([
      { path: join(root, "hollow", "b"), reason: "no images (extensions png, jpg, jpeg)" },
    ]);
  });

  it("fails with the bad files listed when nothing readable is left", async () => {
    const e = await errorOf(ImageFolder.open(join(root, "allbad"), { onBadFile: "skip" }));
    expect(e.message).toMatch(/no readable images/);
    expect(e.message).toContain(join(root, "allbad", "a", "0.png"));
  });
});

describe("ImageFiles bad files", () => {
  it("skips and reports bad files, and names an empty folder", async () => {
    const ds = await ImageFiles.open(join(root, "mixed"), { onBadFile: "skip" });
    expect(ds.length).toBe(2);
    expect(ds.report()).toMatch(/ImageFiles .*: 2 images\. Skipped 2 bad files/);
    expect((await errorOf(ImageFiles.open(join(root, "empty")))).message).toMatch(/no image files/);
    const thrown = await ImageFiles.open(join(root, "mixed"));
    expect((await errorOf(thrown.get(1))).path).toBe(join(root, "mixed", "a", "1.png"));
  });
});
