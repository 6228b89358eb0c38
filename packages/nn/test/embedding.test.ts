import { memory, randint, sum, tensor, tidy } from "@tessera/core";
import { describe, expect, it } from "vitest";
import { Embedding } from "../src/index.js";
import { TEST_BACKENDS } from "./support/backends.js";
import { type ModuleCase, moduleCase, runModuleCase } from "./support/torch-module.js";

const embedding = moduleCase<Embedding>({
  build: (c) =>
    new Embedding(c.num_embeddings as number, c.embedding_dim as number, {
      paddingIdx: c.padding_idx as number | undefined,
    }),
  forward: (m, x) => ({ y: m.forward(x.index!) }),
});
const CASES: Record<string, ModuleCase> = { embedding, embedding_padding_idx: embedding };

describe.each(TEST_BACKENDS)("Embedding on %s", (backend) => {
  for (const [name, spec] of Object.entries(CASES)) {
    it(`${name} matches torch (forward and weight gradient)`, () => {
      const r = runModuleCase(name, spec, backend);
      expect(r.failures).toEqual([]);
      expect(r.checked).toBe(2);
    });
  }

  it("the padding row gets no gradient even when it is looked up", () => {
    const m = new Embedding(5, 3, { paddingIdx: -1 }).to(backend); // row 4
    const idx = tensor(new Int32Array([4, 1, 4, 1, 0]), { shape: [5], backend });
    tidy(() => sum(m.forward(idx)).backward());
    const g = m.weight.grad!.arraySync() as number[][];
    expect(g[4]).toEqual([0, 0, 0]);
    expect(g[1]).toEqual([2, 2, 2]);
    expect(g[0]).toEqual([1, 1, 1]);
    idx.dispose();
    m.dispose();
  });

  it("forward + backward leaves the live tensor count flat", () => {
    const m = new Embedding(20, 4, { paddingIdx: 0 }).to(backend);
    const before = memory().numTensors;
    for (let step = 0; step < 3; step++) {
      tidy(() => sum(m.forward(randint(0, 20, [3, 5], { backend }))).backward());
      m.zeroGrad();
    }
    expect(memory().numTensors).toBe(before);
    m.dispose();
  });
});

describe("Embedding", () => {
  it("zeroes the padding row at init, counting a negative paddingIdx from the end", () => {
    const m = new Embedding(6, 4, { paddingIdx: -2 });
    expect(m.paddingIdx).toBe(4);
    const w = m.weight.arraySync() as number[][];
    expect(w[4]).toEqual([0, 0, 0, 0]);
    expect(w.filter((r) => r.every((v) => v === 0))).toHaveLength(1);
    expect(String(m)).toBe("Embedding(6, 4, padding_idx=4)");
    expect([...m.stateDict().keys()]).toEqual(["weight"]);
    m.dispose();
  });

  it("fromPretrained shares the table's memory, freezes it by default and keeps the padding row", () => {
    const table = tensor([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    const frozen = Embedding.fromPretrained(table, { paddingIdx: 1 });
    expect(frozen.weight.requiresGrad).toBe(false);
    expect(frozen.paddingIdx).toBe(1);
    expect(frozen.weight.arraySync()).toEqual(table.arraySync());
    const y = frozen.forward(tensor(new Int32Array([2, 1]), { shape: [2] }));
    expect(y.arraySync()).toEqual([
      [5, 6],
      [3, 4],
    ]);
    const trainable = Embedding.fromPretrained(table, { freeze: false });
    expect(trainable.weight.requiresGrad).toBe(true);
    expect(trainable.weight.storage).toBe(table.storage);
    frozen.dispose();
    trainable.dispose();
    expect(table.isDisposed).toBe(false);
    expect(table.arraySync()).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    y.dispose();
    table.dispose();
  });

  it("rejects bad sizes, paddingIdx, tables and index dtypes with messages naming them", () => {
    expect(() => new Embedding(-1, 3)).toThrow(
      /Embedding: numEmbeddings must be a non-negative integer, got -1/,
    );
    expect(() => new Embedding(5, 3, { paddingIdx: 5 })).toThrow(
      /paddingIdx must be an integer within \[-5, 5\)/,
    );
    expect(() => new Embedding(5, 3, { paddingIdx: -6 })).toThrow(/got -6/);
    const v = tensor([1, 2, 3]);
    expect(() => Embedding.fromPretrained(v)).toThrow(/fromPretrained: embeddings must be 2-D .* got \[3\]/);
    v.dispose();
    const m = new Embedding(5, 3);
    const f = tensor([1, 2]);
    expect(() => m.forward(f)).toThrow(/Embedding: indices must be int32, got float32 \(shape \[2\]\)/);
    f.dispose();
    m.dispose();
  });
});
