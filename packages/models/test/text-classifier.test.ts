import { crossEntropy, manualSeed, randint, tensor } from "@tessera/core";
import { AdamW } from "@tessera/nn";
import { describe, expect, it } from "vitest";
import { TEXT_CLASSIFIER_PRESETS, TextTransformerClassifier } from "../src/text-classifier.js";
import { TEST_BACKENDS } from "./support/backends.js";
import { MODEL_CASES } from "./support/model-cases.js";
import { runModelCase } from "./support/torch-model.js";
import { train } from "./support/train.js";

const ids = (rows: number[][]) =>
  tensor(new Int32Array(rows.flat()), { shape: [rows.length, rows[0]!.length] });

describe("TextTransformerClassifier", () => {
  for (const backend of TEST_BACKENDS) {
    it(`matches PyTorch's text_classifier (forward, gradients, one AdamW step) on ${backend}`, () => {
      const report = runModelCase("text_classifier", MODEL_CASES.text_classifier!.spec, backend);
      expect(report.failures).toEqual([]);
      // y, 18 gradients, 18 parameters after the step.
      expect(report.checked).toBe(37);
    });
  }

  it("has the PyTorch reference's state-dict keys", () => {
    const m = new TextTransformerClassifier(TEXT_CLASSIFIER_PRESETS.tiny);
    expect([...m.stateDict().keys()]).toEqual([
      "embedding.token_emb.weight",
      "embedding.pos_emb.weight",
      "transformer_block.att.in_proj_weight",
      "transformer_block.att.in_proj_bias",
      "transformer_block.att.out_proj.weight",
      "transformer_block.att.out_proj.bias",
      "transformer_block.ffn.0.weight",
      "transformer_block.ffn.0.bias",
      "transformer_block.ffn.2.weight",
      "transformer_block.ffn.2.bias",
      "transformer_block.layernorm1.weight",
      "transformer_block.layernorm1.bias",
      "transformer_block.layernorm2.weight",
      "transformer_block.layernorm2.bias",
      "dense1.weight",
      "dense1.bias",
      "dense2.weight",
      "dense2.bias",
    ]);
    m.dispose();
  });

  it("the keras preset has the Keras example's parameter count with torch's head split", () => {
    const m = new TextTransformerClassifier(TEXT_CLASSIFIER_PRESETS.keras);
    // 20000·32 + 200·32 embeddings, MHA 4·32·32+4·32, FFN 32·32+32 twice, 2 LNs, 32·20+20, 20·2+2.
    expect(m.numParameters()).toBe(640000 + 6400 + 4224 + 2112 + 128 + 660 + 42);
    m.dispose();
  });

  it("returnAttention gives per-head weights whose rows sum to one", () => {
    manualSeed(1);
    const m = new TextTransformerClassifier({ ...TEXT_CLASSIFIER_PRESETS.tiny, numHeads: 4 });
    m.eval();
    const x = randint(1, 50, [2, 12], { dtype: "int32" });
    const { logits, attention } = m.forward(x, { returnAttention: true });
    expect(logits.shape).toEqual([2, 2]);
    expect(attention.shape).toEqual([2, 4, 12, 12]);
    const sums = attention.sum(-1).dataSync();
    for (const s of sums) expect(s).toBeCloseTo(1, 5);
    const plain = m.forward(x).dataSync();
    expect([...plain]).toEqual([...logits.dataSync()]);
    for (const t of [x, logits, attention]) t.dispose();
    m.dispose();
  });

  it("maskPadding makes the logits independent of how much padding follows the tokens", () => {
    manualSeed(2);
    const m = new TextTransformerClassifier({ ...TEXT_CLASSIFIER_PRESETS.tiny, maskPadding: true });
    m.eval();
    // Appending padding changes nothing when padding is masked (and does change the unmasked model).
    const short = ids([[5, 9, 7, 3, 11, 0, 0, 0]]);
    const long = ids([[5, 9, 7, 3, 11, 0, 0, 0, 0, 0, 0, 0]]);
    const a = m.forward(short).dataSync();
    const b = m.forward(long).dataSync();
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i]!, 5);
    const unmasked = new TextTransformerClassifier({ ...TEXT_CLASSIFIER_PRESETS.tiny });
    unmasked.loadStateDict(m.stateDict());
    unmasked.eval();
    const c = unmasked.forward(short).dataSync();
    const d = unmasked.forward(long).dataSync();
    expect(Math.max(...[...c].map((v, i) => Math.abs(v - d[i]!)))).toBeGreaterThan(1e-4);
    // A row of padding only stays finite.
    const empty = m.forward(ids([[0, 0, 0, 0]])).dataSync();
    for (const v of empty) expect(Number.isFinite(v)).toBe(true);
    for (const t of [short, long]) t.dispose();
    m.dispose();
    unmasked.dispose();
  });

  it("rejects float ids and sequences longer than maxlen, naming the shapes", () => {
    const m = new TextTransformerClassifier(TEXT_CLASSIFIER_PRESETS.tiny);
    const f = tensor([[1, 2, 3]]);
    expect(() => m.forward(f)).toThrow(/ids must be int32 \[B, L\], got float32 \[1,3\]/);
    const long = randint(0, 50, [1, 13], { dtype: "int32" });
    expect(() => m.forward(long)).toThrow(/L ≤ maxlen 12, got \[1,13\]/);
    expect(() => new TextTransformerClassifier({ embedDim: 30, numHeads: 4 })).toThrow(/embedDim 30/);
    f.dispose();
    long.dispose();
    m.dispose();
  });

  for (const backend of TEST_BACKENDS) {
    it(`trains a few steps to tell whether token 7 appears, with falling loss and flat tensor count, on ${backend}`, () => {
      manualSeed(3);
      const m = new TextTransformerClassifier({ ...TEXT_CLASSIFIER_PRESETS.tiny, dropout: 0 });
      m.to(backend);
      // 32 sequences of ids in 8..49 (no 7); odd rows get a 7 at a row-dependent position.
      const rows: number[][] = [];
      const labels: number[] = [];
      for (let r = 0; r < 32; r++) {
        const row = Array.from({ length: 12 }, (_, j) => 8 + ((r * 13 + j * 7) % 42));
        if (r % 2) row[(r * 5) % 12] = 7;
        rows.push(row);
        labels.push(r % 2);
      }
      const x = ids(rows).to(backend);
      const y = tensor(new Int32Array(labels), { backend });
      const opt = new AdamW(m.parameters(), { lr: 3e-3 });
      const run = train(opt, 30, () => crossEntropy(m.forward(x), y));
      expect(run.tensorsAtEnd).toBe(run.tensorsAfterFirst);
      expect(run.losses.at(-1)!).toBeLessThan(run.losses[0]! * 0.5);
      opt.dispose();
      for (const t of [x, y]) t.dispose();
      m.dispose();
    });
  }
});
