import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateTextCorpus, TEXT_CORPUS_CLASSES, TextClassificationDataset } from "../src/index.js";

const root = await mkdtemp(join(tmpdir(), "tessera-synthetic-text-"));
afterAll(() => rm(root, { recursive: true, force: true }));

function rows(tsv: string): [string, string][] {
  return tsv
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => l.split("\t") as [string, string]);
}

describe("generateTextCorpus", () => {
  it("writes perClass label<TAB>sentence lines for each of the four classes", async () => {
    const path = join(root, "corpus.tsv");
    const { sentences } = await generateTextCorpus(path, { perClass: 30, seed: 0 });
    expect(sentences).toBe(120);
    const lines = rows(await readFile(path, "utf8"));
    expect(lines.length).toBe(120);
    for (const c of TEXT_CORPUS_CLASSES) expect(lines.filter(([l]) => l === c).length).toBe(30);
    for (const [, s] of lines) expect(s).toMatch(/^[a-z ]+$/);
    // Classes are interleaved, not in blocks: a file-order split still sees every class.
    expect(new Set(lines.slice(0, 20).map(([l]) => l)).size).toBeGreaterThan(1);
  });

  it("gives identical bytes for the same seed and a different corpus for another seed", async () => {
    await generateTextCorpus(join(root, "a.tsv"), { perClass: 10, seed: 2 });
    await generateTextCorpus(join(root, "b.tsv"), { perClass: 10, seed: 2 });
    await generateTextCorpus(join(root, "c.tsv"), { perClass: 10, seed: 3 });
    const [a, b, c] = await Promise.all(["a", "b", "c"].map((n) => readFile(join(root, `${n}.tsv`))));
    expect(a!.equals(b!)).toBe(true);
    expect(a!.equals(c!)).toBe(false);
  });

  it("shares words between classes, so single words do not give the label away", async () => {
    const path = join(root, "shared.tsv");
    await generateTextCorpus(path, { perClass: 200, seed: 1 });
    const classesOf = new Map<string, Set<string>>();
    for (const [label, s] of rows(await readFile(path, "utf8"))) {
      for (const w of s.split(" ")) {
        if (!classesOf.has(w)) classesOf.set(w, new Set());
        classesOf.get(w)!.add(label);
      }
    }
    for (const w of ["hot", "record", "cloud", "batter", "server", "chips", "season"]) {
      expect(classesOf.get(w)?.size ?? 0, w).toBeGreaterThanOrEqual(2);
    }
  });

  it("is read by TextClassificationDataset with the four classes", async () => {
    const path = join(root, "load.tsv");
    await generateTextCorpus(path, { perClass: 5, seed: 0 });
    const ds = await TextClassificationDataset.load(path, { maxLen: 16 });
    expect(ds.length).toBe(20);
    expect([...ds.classes].sort()).toEqual([...TEXT_CORPUS_CLASSES].sort());
  });
});
