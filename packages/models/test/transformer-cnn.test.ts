import { arange, manualSeed, randint, randn, type Tensor, tidy } from "@tessera/core";
import { AdamW, sinusoidalEncoding1d } from "@tessera/nn";
import { describe, expect, it } from "vitest";
import {
  sparseAttentionMask,
  TRANSFORMER_CNN_PRESETS,
  TransformerCNN,
  type TransformerCNNOptions,
} from "../src/transformer-cnn.js";
import { TEST_BACKENDS } from "./support/backends.js";
import { MODEL_CASES } from "./support/model-cases.js";
import { runModelCase } from "./support/torch-model.js";
import { train } from "./support/train.js";

/** The fixtures' config holds the TypeScript option names (plus `batch`). */
/** A sequence model whose token i is input step i (no cls, no positions unless asked). */
const seqModel = (o: TransformerCNNOptions) =>
  new TransformerCNN({
    input: "sequence",
    inFeatures: 4,
    maxLen: 16,
    dim: 16,
    numHeads: 2,
    dimFeedforward: 32,
    dropout: 0,
    positional: "none",
    ...o,
  });

/** Which output tokens change (max |Δ| > 1e-4) and which stay (≤ 1e-6) when step `p` of x [1,T,F] is perturbed. */
function reach(m: TransformerCNN, x: Tensor, p: number): { changed: number[]; unclear: number[] } {
  const d = tidy(() => {
    const t = x.shape[1]!;
    const onehot = arange(0, t).eq(p).cast("float32").reshape(1, t, 1);
    const y = x.add(onehot.mul(randn([1, 1, x.shape[2]!]).mul(3)));
    return m.forwardFeatures(x).sub(m.forwardFeatures(y)).abs().amax(-1).reshape(-1);
  });
  const diffs = [...d.dataSync()];
  d.dispose();
  const changed: number[] = [];
  const unclear: number[] = [];
  diffs.forEach((v, i) => {
    if (v > 1e-4) changed.push(i);
    else if (v > 1e-6) unclear.push(i);
  });
  return { changed, unclear };
}

describe("TransformerCNN", () => {
  for (const backend of TEST_BACKENDS) {
    it(`matches the PyTorch reference 'hybrid' (conv stem + BN in training, cls, learned positions, local mask, LSTM) on ${backend}`, () => {
      const r = runModelCase("transformer_cnn_hybrid", MODEL_CASES.transformer_cnn_hybrid!.spec, backend);
      expect(r.failures).toEqual([]);
      // y, the BN running mean, then 46 gradients and 46 parameters after the step.
      expect(r.checked).toBe(2 + 2 * 46);
    });
    it(`matches the PyTorch reference 'sequence' (Linear tokens, sinusoidal, strided mask, GRU replacing, regression) on ${backend}`, () => {
      const r = runModelCase("transformer_cnn_sequence", MODEL_CASES.transformer_cnn_sequence!.spec, backend);
      expect(r.failures).toEqual([]);
      expect(r.checked).toBe(1 + 2 * 36); // y, 36 gradients, 36 stepped parameters
    });
  }

  it("has PyTorch's keys: own parameters, stem Sequential indices, encoder layers, recurrent layers, head", () => {
    const m = new TransformerCNN({
      stemChannels: [8],
      imageSize: 8,
      patchSize: 2,
      dim: 16,
      depth: 1,
      numHeads: 2,
      pool: "cls",
      positional: "learnable",
      recurrent: "gru",
    });
    expect([...m.stateDict().keys()]).toEqual([
      "cls_token",
      "pos_embed",
      "stem.0.weight",
      "stem.0.bias",
      "stem.1.weight",
      "stem.1.bias",
      "stem.1.running_mean",
      "stem.1.running_var",
      "stem.1.num_batches_tracked",
      "embed.weight",
      "embed.bias",
      "blocks.0.self_attn.in_proj_weight",
      "blocks.0.self_attn.in_proj_bias",
      "blocks.0.self_attn.out_proj.weight",
      "blocks.0.self_attn.out_proj.bias",
      "blocks.0.linear1.weight",
      "blocks.0.linear1.bias",
      "blocks.0.linear2.weight",
      "blocks.0.linear2.bias",
      "blocks.0.norm1.weight",
      "blocks.0.norm1.bias",
      "blocks.0.norm2.weight",
      "blocks.0.norm2.bias",
      "recurrent.0.weight_ih_l0",
      "recurrent.0.weight_hh_l0",
      "recurrent.0.bias_ih_l0",
      "recurrent.0.bias_hh_l0",
      "head.weight",
      "head.bias",
    ]);
    expect(m.getParameter("pos_embed")!.shape).toEqual([1, 1 + 4, 16]); // 8 → pool 4 → patch 2 → 2×2
    m.dispose();
  });

  it("sparseAttentionMask: local is a band, strided adds every stride-th diagonal, cls is global", () => {
    const local = sparseAttentionMask(4, { kind: "local", window: 1 })!;
    expect(local.arraySync()).toEqual([
      [false, false, true, true],
      [false, false, false, true],
      [true, false, false, false],
      [true, true, false, false],
    ]);
    const strided = sparseAttentionMask(6, { kind: "strided", window: 0, stride: 3, prefix: 1 })!;
    const allowed = (strided.arraySync() as boolean[][]).map((r) => r.map((b) => (b ? 0 : 1)).join(""));
    expect(allowed).toEqual(["111111", "110010", "101001", "100100", "110010", "101001"]);
    expect(sparseAttentionMask(4, { kind: "full" })).toBeNull();
    local.dispose();
    strided.dispose();
  });

  it("local attention: after 2 layers of window 1, perturbing step 6 changes exactly tokens 4..8", () => {
    manualSeed(10);
    const m = seqModel({ depth: 2, attention: "local", window: 1 });
    m.eval();
    const x = randn([1, 16, 4]);
    expect(reach(m, x, 6)).toEqual({ changed: [4, 5, 6, 7, 8], unclear: [] });
    const full = seqModel({ depth: 2 });
    full.eval();
    expect(reach(full, x, 6).changed).toHaveLength(16);
    x.dispose();
    m.dispose();
    full.dispose();
  });

  it("strided attention: in one layer step 6 reaches |i−6| ≤ 1 and (i−6) mod 4 = 0", () => {
    manualSeed(11);
    const m = seqModel({ depth: 1, attention: "strided", window: 1, stride: 4 });
    m.eval();
    const x = randn([1, 16, 4]);
    expect(reach(m, x, 6)).toEqual({ changed: [2, 5, 6, 7, 10, 14], unclear: [] });
    x.dispose();
    m.dispose();
  });

  it("the cls token sees every token under a local mask, and the tokens see it", () => {
    manualSeed(12);
    const m = seqModel({ depth: 1, attention: "local", window: 1, pool: "cls" });
    m.eval();
    const x = randn([1, 16, 4]);
    // Feature index = step + 1 (cls first): step 12 reaches the cls token and steps 11..13.
    expect(reach(m, x, 12)).toEqual({ changed: [0, 12, 13, 14], unclear: [] });
    x.dispose();
    m.dispose();
  });

  it("an LSTM after the block carries a perturbation forward past the window, never backward", () => {
    manualSeed(13);
    const m = seqModel({ depth: 1, attention: "local", window: 1, recurrent: "lstm" });
    m.eval();
    const x = randn([1, 16, 4]);
    expect(reach(m, x, 6)).toEqual({ changed: [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], unclear: [] });
    x.dispose();
    m.dispose();
  });

  it("recurrentMode 'replace' outputs the GRU's states (|h| < 1); 'residual' adds them to the block output", () => {
    manualSeed(14);
    const replace = seqModel({ depth: 1, recurrent: "gru", recurrentMode: "replace" });
    const residual = seqModel({ depth: 1, recurrent: "gru", recurrentMode: "residual" });
    residual.loadStateDict(replace.stateDict());
    for (const m of [replace, residual]) m.eval();
    const x = randn([2, 16, 4]);
    const [a, b, block] = tidy(() => {
      const t = replace.tokenize(x);
      return [replace.forwardFeatures(x), residual.forwardFeatures(x), replace.blocks.at(0).forward(t)];
    });
    expect(Math.max(...[...a.abs().dataSync()])).toBeLessThan(1);
    const diff = tidy(() => b.sub(block).sub(a).abs().amax());
    expect(diff.itemSync()).toBeLessThan(1e-5);
    for (const t of [x, a, b, block, diff]) t.dispose();
    replace.dispose();
    residual.dispose();
  });

  it("without positions the encoder is permutation-equivariant; sinusoidal positions break that", () => {
    manualSeed(15);
    const x = randn([1, 16, 4]);
    const rev = x.flip(1);
    const gap = (m: TransformerCNN) =>
      tidy(() => m.forwardFeatures(x).flip(1).sub(m.forwardFeatures(rev)).abs().amax()).itemSync();
    const none = seqModel({ depth: 1 });
    const sin = seqModel({ depth: 1, positional: "sinusoidal" });
    sin.loadStateDict(none.stateDict());
    for (const m of [none, sin]) m.eval();
    expect(gap(none)).toBeLessThan(1e-5);
    expect(gap(sin)).toBeGreaterThan(1e-2);
    // The fixed table is a non-persistent buffer equal to sinusoidalEncoding1d.
    expect([...sin.stateDict().keys()].some((k) => k.includes("pe"))).toBe(false);
    const table = sinusoidalEncoding1d(16, 16);
    expect([...sin.getBuffer("pe")!.dataSync()]).toEqual([...table.dataSync()]);
    for (const t of [x, rev, table]) t.dispose();
    none.dispose();
    sin.dispose();
  });

  it("patching makes one token per p×p patch that depends only on that patch's pixels", () => {
    manualSeed(16);
    const m = new TransformerCNN({
      imageSize: [8, 12],
      patchSize: 4,
      dim: 16,
      numHeads: 2,
      positional: "none",
    });
    expect(m.numTokens).toBe(2 * 3);
    m.eval();
    const x = randn([1, 3, 8, 12]);
    const d = tidy(() => {
      const bump = arange(0, 12).ge(4).logicalAnd(arange(0, 12).lt(8)).cast("float32"); // columns 4..7
      const y = x.add(bump.reshape(1, 1, 1, 12).mul(arange(0, 8).lt(4).cast("float32").reshape(1, 1, 8, 1)));
      return m.tokenize(x).sub(m.tokenize(y)).abs().amax(-1).reshape(-1);
    });
    expect([...d.dataSync()].map((v) => v > 1e-6)).toEqual([false, true, false, false, false, false]);
    for (const t of [x, d]) t.dispose();
    m.dispose();
  });

  it("the conv stem halves the map per pooled stage and its BatchNorm tracks statistics in training", () => {
    const m = new TransformerCNN({ ...TRANSFORMER_CNN_PRESETS.hybridTiny, dropout: 0 });
    expect(m.numTokens).toBe(8 * 8);
    const noPool = new TransformerCNN({
      stemChannels: [4],
      stemPool: false,
      patchSize: 2,
      imageSize: 8,
      dim: 16,
    });
    expect(noPool.numTokens).toBe(16);
    const x = randn([2, 3, 32, 32]);
    const y = m.forward(x);
    expect(y.shape).toEqual([2, 10]);
    expect(m.stateDict().get("stem.1.num_batches_tracked")!.itemSync()).toBe(1);
    expect(
      Math.max(...[...m.stateDict().get("stem.1.running_mean")!.dataSync()].map(Math.abs)),
    ).toBeGreaterThan(0);
    for (const t of [x, y]) t.dispose();
    m.dispose();
    noPool.dispose();
  });

  it("dropout is active in training only", () => {
    manualSeed(17);
    const m = seqModel({ depth: 1, dropout: 0.5 });
    const x = randn([2, 16, 4]);
    const [a, b] = [m.forward(x), m.forward(x)];
    expect([...a.dataSync()]).not.toEqual([...b.dataSync()]);
    m.eval();
    const [c, d] = [m.forward(x), m.forward(x)];
    expect([...c.dataSync()]).toEqual([...d.dataSync()]);
    for (const t of [x, a, b, c, d]) t.dispose();
    m.dispose();
  });

  it("getAttentionMaps gives per-layer [B,H,N,N] weights, zero outside the local window, without changing the features", () => {
    manualSeed(18);
    const m = seqModel({ depth: 2, attention: "local", window: 2 });
    m.eval();
    const x = randn([2, 10, 4]);
    const maps = m.getAttentionMaps(x);
    expect(maps.map((t) => t.shape)).toEqual([
      [2, 2, 10, 10],
      [2, 2, 10, 10],
    ]);
    const w = maps[1]!.arraySync() as number[][][][];
    for (let i = 0; i < 10; i++)
      for (let j = 0; j < 10; j++) {
        if (Math.abs(i - j) > 2) expect(w[1]![1]![i]![j]).toBe(0);
        else expect(w[1]![1]![i]![j]).toBeGreaterThan(0);
      }
    // The path with weights gives the same features as the fused one.
    const gap = tidy(() => {
      const r = m.forwardFeatures(x, { returnAttention: true });
      return r.features.sub(m.forwardFeatures(x)).abs().amax();
    });
    expect(gap.itemSync()).toBeLessThan(1e-5);
    for (const t of [x, gap, ...maps]) t.dispose();
    m.dispose();
  });

  it("every preset builds and maps its input to the head's size", () => {
    const counts: Record<string, number> = {};
    for (const [name, preset] of Object.entries(TRANSFORMER_CNN_PRESETS)) {
      const m = new TransformerCNN({ ...preset, inFeatures: 6, maxLen: 20 });
      m.eval();
      const x = name === "sequence" ? randn([2, 20, 6]) : randn([2, 3, 32, 32]);
      const y = m.forward(x);
      expect(y.shape).toEqual([2, name === "sequence" ? 1 : 10]);
      counts[name] = m.numParameters();
      for (const t of [x, y]) t.dispose();
      m.dispose();
    }
    // The counts docs/models.md quotes (sequence: inFeatures 6, maxLen 20, one regression output).
    expect(counts).toEqual({
      hybridTiny: 107914,
      hybridSmall: 559114,
      patchSmall: 537482,
      recurrentSmall: 1087498,
      sparseSmall: 559114,
      sequence: 101761,
    });
  });

  it("errors name the model, the argument and the shapes", () => {
    const m = new TransformerCNN({ imageSize: 16, dim: 16, numHeads: 2 });
    const x = randn([2, 3, 15, 16]);
    expect(() => m.forward(x)).toThrow("TransformerCNN: expected images [B, 3, 16, 16], got [2,3,15,16]");
    expect(() => new TransformerCNN({ dim: 30, numHeads: 4 })).toThrow(
      /dim 30 must be divisible by numHeads 4/,
    );
    expect(() => new TransformerCNN({ input: "sequence" })).toThrow(/needs inFeatures/);
    expect(() => new TransformerCNN({ imageSize: 8, stemChannels: [4, 4, 4], patchSize: 2 })).toThrow(
      /8×8 gives a 1×1 map after the stem, smaller than patchSize 2/,
    );
    const s = seqModel({});
    const long = randn([1, 17, 4]);
    expect(() => s.forward(long)).toThrow("expected a sequence [B, T ≤ 16, 4], got [1,17,4]");
    for (const t of [x, long]) t.dispose();
    m.dispose();
    s.dispose();
  });

  for (const backend of TEST_BACKENDS) {
    it(`trains a classifier (hybrid stem, cls, local mask, LSTM) a few steps with falling loss and flat tensor count on ${backend}`, () => {
      manualSeed(20);
      const m = new TransformerCNN({
        imageSize: 8,
        inChannels: 1,
        stemChannels: [8],
        patchSize: 1,
        dim: 16,
        depth: 1,
        numHeads: 2,
        dimFeedforward: 32,
        dropout: 0,
        pool: "cls",
        attention: "local",
        recurrent: "lstm",
        numClasses: 2,
      }).to(backend) as TransformerCNN;
      // Class 1 images are brighter on the left half.
      const labels = randint(0, 2, [16], { dtype: "int32", backend });
      const x = tidy(() => {
        const left = arange(0, 8, 1, { backend }).lt(4).cast("float32").reshape(1, 1, 1, 8);
        return randn([16, 1, 8, 8], { backend }).add(
          left.mul(labels.cast("float32").reshape(16, 1, 1, 1)).mul(2),
        );
      });
      trainAndCheck(m, x, labels);
    });

    it(`trains a regressor (sequence, sinusoidal, strided mask, GRU) a few steps with falling loss and flat tensor count on ${backend}`, () => {
      manualSeed(21);
      const m = seqModel({
        depth: 1,
        positional: "sinusoidal",
        attention: "strided",
        window: 1,
        stride: 3,
        recurrent: "gru",
        task: "regression",
        numOutputs: 2,
      }).to(backend) as TransformerCNN;
      const x = randn([16, 12, 4], { backend });
      const target = tidy(() => x.mean(1).slice(1, 0, 2).mul(3)); // [16, 2]
      trainAndCheck(m, x, target);
    });
  }
});

function trainAndCheck(m: TransformerCNN, x: Tensor, target: Tensor): void {
  const opt = new AdamW(m.parameters(), { lr: 1e-2 });
  const run = train(opt, 15, () => m.loss(m.forward(x), target));
  expect(run.tensorsAtEnd).toBe(run.tensorsAfterFirst);
  expect(run.losses.at(-1)!).toBeLessThan(run.losses[0]! * 0.6);
  opt.dispose();
  for (const t of [x, target]) t.dispose();
  m.dispose();
}
