import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataError } from "../src/errors.js";
import { TextClassificationDataset, TextVectorizer } from "../src/text.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tessera-text-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("TextClassificationDataset", () => {
  it("reads a TSV file: labels sorted into classes, comments and blank lines skipped, tokens padded to maxLen", async () => {
    const path = join(dir, "train.tsv");
    await writeFile(
      path,
      "# label\ttext\nsports\tThe team won\r\nweather\tRain today\n\ntech\tNew phone, new chip\nsports\tA late goal\n",
    );
    const ds = await TextClassificationDataset.load(path, { maxLen: 5 });
    expect(ds.length).toBe(4);
    expect(ds.classes).toEqual(["sports", "tech", "weather"]);
    expect(Array.from(ds.labels)).toEqual([0, 2, 1, 0]);
    expect(ds.texts[1]).toBe("Rain today");
    const s = ds.get(0);
    expect(s.tokens.length).toBe(5);
    expect(Array.from(s.tokens.slice(3))).toEqual([0, 0]);
    expect(ds.vectorizer.vocabulary()[2]).toBe("new"); // "new" is the only token seen twice
  });

  it("reuses a training vectorizer and class list for a test split", async () => {
    const trainPath = join(dir, "a.tsv");
    const testPath = join(dir, "b.tsv");
    await writeFile(trainPath, "pos\tgood good film\nneg\tbad film\n");
    await writeFile(testPath, "pos\tgood plot\n");
    const train = await TextClassificationDataset.load(trainPath, { maxLen: 3 });
    const test = await TextClassificationDataset.load(testPath, {
      vectorizer: train.vectorizer,
      classes: train.classes,
    });
    expect(test.classes).toEqual(["neg", "pos"]);
    expect(test.get(0).label).toBe(1);
    expect(Array.from(test.get(0).tokens)).toEqual([2, 1, 0]); // "plot" unseen in training → 1
  });

  it("reads a folder of class folders with one .txt file per text", async () => {
    const root = join(dir, "folder");
    await mkdir(join(root, "neg"), { recursive: true });
    await mkdir(join(root, "pos"), { recursive: true });
    await writeFile(join(root, "pos", "1.txt"), "Loved it");
    await writeFile(join(root, "neg", "1.txt"), "Hated it");
    await writeFile(join(root, "neg", "notes.md"), "ignored");
    const ds = await TextClassificationDataset.load(root, { maxLen: 4 });
    expect(ds.classes).toEqual(["neg", "pos"]);
    expect(ds.texts).toEqual(["Hated it", "Loved it"]);
    expect(Array.from(ds.labels)).toEqual([0, 1]);
  });

  it("names file:line of a TSV line without a tab", async () => {
    const path = join(dir, "bad.tsv");
    await writeFile(path, "# ok\nsports\tfine\nthis line has no tab\n");
    const err = await TextClassificationDataset.load(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as DataError).message).toContain(`${path}:3`);
    expect((err as DataError).message).toMatch(/label<TAB>text/);
  });

  it("names the file and line of a label outside the given classes", async () => {
    const path = join(dir, "unknown.tsv");
    await writeFile(path, "a\tx\nzzz\ty\n");
    await expect(TextClassificationDataset.load(path, { classes: ["a", "b"] })).rejects.toThrow(`${path}:2`);
  });

  it("says what it expected for a missing path, an empty file and a folder without class folders", async () => {
    await expect(TextClassificationDataset.load(join(dir, "nope.tsv"))).rejects.toThrow(
      /not found; pass a TSV file/,
    );
    const empty = join(dir, "empty.tsv");
    await writeFile(empty, "# only a comment\n\n");
    await expect(TextClassificationDataset.load(empty)).rejects.toThrow(/no labelled lines/);
    const flat = join(dir, "flat");
    await mkdir(flat);
    await writeFile(join(flat, "x.txt"), "hello");
    await expect(TextClassificationDataset.load(flat)).rejects.toThrow(/no class subfolders/);
  });

  it("adapts a given vectorizer that has no vocabulary yet", async () => {
    const path = join(dir, "c.tsv");
    await writeFile(path, "x\talpha beta\n");
    const v = new TextVectorizer({ outputSequenceLength: 2 });
    const ds = await TextClassificationDataset.load(path, { vectorizer: v });
    expect(ds.vectorizer).toBe(v);
    expect(v.vocabulary()).toEqual(["", "[UNK]", "alpha", "beta"]);
  });
});
