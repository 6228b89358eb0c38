import path from "node:path";
import { memory } from "@tessera/core";
import { TextVectorizer, type TextVectorizerJSON } from "@tessera/data";
import { afterAll, describe, expect, it } from "vitest";
import { textTask } from "../src/tasks/text.js";
import { writeCorpus } from "./task-fixtures.js";
import { runOptions, tempDir, trainSteps } from "./task-support.js";

const tmp = tempDir("task-text");
afterAll(() => tmp.cleanup());

const corpus = path.join(tmp.dir, "corpus.tsv");
writeCorpus(corpus, 30);

describe("text task", () => {
  it("adapts the vocabulary on the training split only", async () => {
    const data = await textTask.loadData(runOptions({ data: corpus }));
    expect(data.classes).toEqual(["sports", "weather"]);
    expect(data.train.length + data.test!.length).toBe(60);
    expect(data.test!.length).toBe(12); // 20%
    const { config } = textTask.createModel(runOptions(), data);
    const vocab = (config as { vectorizer: { vocabulary: string[] } }).vectorizer.vocabulary;
    // Each line carries its own number, so a test line's number is seen nowhere in training: [UNK].
    const testNumbers: string[] = [];
    for (let i = 0; i < data.test!.length; i++) {
      const { tokens } = await data.test!.get(i);
      expect(tokens.length).toBe(64);
      testNumbers.push(...[...tokens].filter((id) => id === 1).map(String));
    }
    expect(testNumbers.length).toBe(data.test!.length); // exactly one [UNK] (the number) per test text
    expect(vocab.slice(0, 2)).toEqual(["", "[UNK]"]);
  });

  it("trains: loss falls over AdamW steps with a flat tensor count", async () => {
    const data = await textTask.loadData(runOptions({ data: corpus }));
    const { model } = textTask.createModel(runOptions(), data);
    const samples = await Promise.all(Array.from({ length: 16 }, (_, i) => data.train.get(i)));
    const r = trainSteps(textTask, model, samples, 25, 3e-3);
    expect(r.losses.at(-1)!).toBeLessThan(r.losses[0]! * 0.5);
    expect(r.tensorsAtEnd).toBe(r.tensorsAfterFirst);
    // Evaluation on the held-out texts: the two topics share no words, so a trained model separates them.
    model.eval();
    const test = await Promise.all(Array.from({ length: data.test!.length }, (_, i) => data.test!.get(i)));
    const batch = textTask.collate(test);
    const before = memory().numTensors;
    const { loss, metrics } = textTask.evalStep(model, batch);
    expect(memory().numTensors).toBe(before);
    expect(Number.isFinite(loss)).toBe(true);
    expect(metrics.count).toBe(test.length);
    expect(metrics["correct"]! / metrics.count).toBeGreaterThanOrEqual(0.9);
    for (const t of Object.values(batch)) t.dispose();
    model.dispose();
  });

  it("rebuilds a model from its saved config with the saved vectorizer", async () => {
    type Saved = { vectorizer: TextVectorizerJSON };
    const data = await textTask.loadData(runOptions({ data: corpus }));
    const built = textTask.createModel(runOptions(), data);
    // Another seed splits differently, so its training split adapts another vocabulary...
    const other = await textTask.loadData(runOptions({ data: corpus, seed: 5 }));
    const fresh = textTask.createModel(runOptions(), other);
    const freshVocab = (fresh.config as unknown as Saved).vectorizer.vocabulary;
    expect(freshVocab).not.toEqual((built.config as unknown as Saved).vectorizer.vocabulary);
    const before = (await other.train.get(0)).tokens;
    const text = [...before]
      .filter((id) => id !== 0)
      .map((id) => freshVocab[id])
      .join(" ");
    // ...but a model rebuilt from a saved config makes the data use the saved one.
    const rebuilt = textTask.createModel(runOptions(), other, built.config);
    expect(rebuilt.config).toEqual(built.config);
    const after = (await other.train.get(0)).tokens;
    expect([...after]).toEqual([
      ...TextVectorizer.fromJSON((built.config as unknown as Saved).vectorizer).vectorize(text),
    ]);
    for (const m of [built.model, fresh.model, rebuilt.model]) m.dispose();
  });

  it("names the missing file and says what --data takes", async () => {
    const missing = path.join(tmp.dir, "nope.tsv");
    await expect(textTask.loadData(runOptions({ data: missing }))).rejects.toThrow(
      new RegExp(`${missing.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}.*TSV file`),
    );
  });

  it("rejects an unknown preset with the list of presets", async () => {
    await expect(textTask.loadData(runOptions({ data: corpus, preset: "huge" }))).rejects.toThrow(
      /unknown preset 'huge'/,
    );
  });
});
