import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { datasetFromSpec } from "../src/dataset.js";
import {
  findImageFiles,
  ImageFiles,
  ImageFolder,
  naturalCompare,
  openImageFiles,
  openImageFolder,
} from "../src/image-folder.js";
import { Rng } from "../src/rng.js";
import { compose, randomCrop, randomHorizontalFlip } from "../src/transforms.js";
import type { LabeledImage } from "../src/types.js";
import { image, tempFolder, writePng } from "./image-folder-support.js";

let root: string;
let cleanup: () => Promise<void>;

// Pixel value encodes which file it came from, so a sample can be traced to its file.
const gray = (v: number) => image(4, 3, 1, (x) => v + x);
const rgb = (v: number) => image(4, 3, 3, (x, _y, c) => v + 10 * c + x);

beforeAll(async () => {
  ({ dir: root, cleanup } = await tempFolder("image-folder"));
  await writePng(join(root, "pets", "dog", "b.png"), gray(100));
  await writePng(join(root, "pets", "dog", "a.PNG"), gray(90)); // upper-case extension
  await writePng(join(root, "pets", "cat", "1.png"), rgb(20));
  await writePng(join(root, "pets", "cat", "nested", "2.png"), rgb(40)); // below a class folder: still that class
  await writePng(join(root, "pets", "cat", "._1.png"), gray(0)); // macOS fork: hidden, ignored
  await writeFile(join(root, "pets", "cat", "notes.txt"), "not an image");
  await writePng(join(root, "pets", "Zebra", "z.png"), gray(5));
  for (const name of ["frame_10.png", "frame_2.png", "frame_1.png"])
    await writePng(join(root, "flat", "s", name), gray(1));
  await writePng(join(root, "flat", "top.png"), gray(2));
});
afterAll(() => cleanup());

describe("ImageFolder", () => {
  it("takes classes from the sorted subfolder names and labels each image by its folder", async () => {
    const ds = await ImageFolder.open(join(root, "pets"));
    // Code-point order, like Python's sorted(): upper case first.
    expect(ds.classes).toEqual(["Zebra", "cat", "dog"]);
    expect(ds.samples.map((s) => [s.path.slice(root.length + 6), s.label])).toEqual([
      ["Zebra/z.png", 0],
      ["cat/1.png", 1],
      ["cat/nested/2.png", 1],
      ["dog/a.PNG", 2],
      ["dog/b.png", 2],
    ]);
    expect(ds.length).toBe(5);
    expect(ds.classCounts()).toEqual([1, 2, 2]);
    const s = await ds.get(3);
    expect(s.label).toBe(2);
    expect(s.image.channels).toBe(1);
    expect(s.image.data[1]).toBeCloseTo(91 / 255, 6);
  });

  it("reads only the given extensions", async () => {
    const ds = await ImageFolder.open(join(root, "pets"), { extensions: [".PNG"] });
    expect(ds.length).toBe(5);
    await expect(ImageFolder.open(join(root, "pets"), { extensions: ["jpg"] })).rejects.toThrow(
      /without images \(extensions jpg\)/,
    );
  });

  it("converts gray to RGB and RGB to gray with channels", async () => {
    const ds3 = await ImageFolder.open(join(root, "pets"), { channels: 3 });
    const g = (await ds3.get(0)).image; // gray z.png, value 5 + x
    expect(g.channels).toBe(3);
    expect(g.data[12 + 2]).toBeCloseTo(7 / 255, 6); // green plane = the gray value
    const ds1 = await ImageFolder.open(join(root, "pets"), { channels: 1 });
    const c = (await ds1.get(1)).image; // rgb 1.png: R = 20 + x, G = 30 + x, B = 40 + x
    expect(c.channels).toBe(1);
    // ITU-R 601 luma of (20, 30, 40); 1e-6 covers float32 rounding of the weighted sum.
    expect(c.data[0]).toBeCloseTo((0.299 * 20 + 0.587 * 30 + 0.114 * 40) / 255, 6);
  });

  it("applies the transform with the rng given to get, reproducibly", async () => {
    const transform = compose([randomCrop(2), randomHorizontalFlip(0.5)]);
    const ds = await ImageFolder.open(join(root, "pets"), { transform, channels: 1 });
    const plain = await ImageFolder.open(join(root, "pets"), { channels: 1 });
    for (let i = 0; i < ds.length; i++) {
      const a = await ds.get(i, Rng.derive(7, 0, i));
      const b = await ds.get(i, Rng.derive(7, 0, i));
      const expected = transform.apply((await plain.get(i)).image, Rng.derive(7, 0, i));
      expect(a.image).toEqual(b.image);
      expect(a.image).toEqual(expected);
      expect([a.image.height, a.image.width]).toEqual([2, 2]);
    }
    // Without an rng, get is still deterministic.
    expect((await ds.get(2)).image).toEqual((await ds.get(2)).image);
  });

  it("is rebuilt from its workerSpec as the same dataset", async () => {
    const transform = randomHorizontalFlip(0.5);
    const ds = await ImageFolder.open(join(root, "pets"), { transform, channels: 3 });
    const spec = ds.workerSpec();
    expect(spec.factory).toBe("openImageFolder");
    expect(spec.module).toMatch(/^file:.*\/index\.js$/);
    const args = JSON.parse(JSON.stringify(spec.args));
    expect(args.transform).toEqual(transform.spec);
    const copy = await openImageFolder(args);
    expect(copy.samples).toEqual(ds.samples);
    expect(copy.classes).toEqual(ds.classes);
    for (let i = 0; i < ds.length; i++) {
      expect(await copy.get(i, Rng.derive(3, 1, i))).toEqual(await ds.get(i, Rng.derive(3, 1, i)));
    }
    // The way a worker thread does it: import spec.module, call spec.factory.
    const viaSpec = await datasetFromSpec<LabeledImage>(spec);
    expect(viaSpec.length).toBe(ds.length);
    expect(await viaSpec.get(4, Rng.derive(1, 2, 4))).toEqual(await ds.get(4, Rng.derive(1, 2, 4)));
  });
});

describe("ImageFiles", () => {
  it("finds every image below the folder in natural order", async () => {
    const ds = await ImageFiles.open(join(root, "flat"));
    expect(ds.paths.map((p) => p.slice(root.length + 6))).toEqual([
      "s/frame_1.png",
      "s/frame_2.png",
      "s/frame_10.png",
      "top.png",
    ]);
    const s = await ds.get(3);
    expect(s.path).toBe(join(root, "flat", "top.png"));
    expect(s.image.data[0]).toBeCloseTo(2 / 255, 6);
    const copy = await openImageFiles(JSON.parse(JSON.stringify(ds.workerSpec().args)));
    expect(copy.paths).toEqual(ds.paths);
  });
});

describe("naturalCompare", () => {
  it("orders digit runs by value and is a total order", () => {
    const names = ["f10", "f2", "f1", "f02", "g", "f", "f1a", "f1b", "f001"];
    expect([...names].sort(naturalCompare)).toEqual([
      "f",
      "f001",
      "f1",
      "f1a",
      "f1b",
      "f02",
      "f2",
      "f10",
      "g",
    ]);
    for (const a of names) {
      for (const b of names) {
        // Antisymmetric, and zero only for the same name.
        expect(Math.sign(naturalCompare(a, b)) + Math.sign(naturalCompare(b, a))).toBe(0);
        expect(naturalCompare(a, b) === 0).toBe(a === b);
      }
    }
  });

  it("sorts findImageFiles' results without recursion by default", async () => {
    const files = await findImageFiles(join(root, "flat"));
    expect(files).toEqual([join(root, "flat", "top.png")]);
  });
});
