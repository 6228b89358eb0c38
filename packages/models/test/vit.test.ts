/**
 * VisionTransformer: PyTorch parity of the seed's ViT (literal and fixed attention), the options
 * against each other (conv = unfold patches; seed pre-norm/GELU/conv = timm layout), presets'
 * parameter counts, attention maps, input-size changes and training on every backend.
 */
import {
  crossEntropy,
  Generator,
  manualSeed,
  randint,
  randn,
  setBackend,
  type Tensor,
  tidy,
} from "@tessera/core";
import { AdamW, resamplePositionEmbedding } from "@tessera/nn";
import { describe, expect, it } from "vitest";
import {
  countParameters,
  VIT_PRESETS,
  VisionTransformer,
  type VisionTransformerOptions,
  vitPreset,
  vitPresetOptions,
} from "../src/vit.js";
import { TEST_BACKENDS } from "./support/backends.js";
import { MODEL_CASES } from "./support/model-cases.js";
import { runModelCase } from "./support/torch-model.js";
import { train } from "./support/train.js";

const small = (o: VisionTransformerOptions = {}): VisionTransformerOptions => ({
  imgSize: 16,
  patchSize: 4,
  embedDim: 32,
  depth: 2,
  numHeads: 4,
  mlpDim: 64,
  numClasses: 3,
  ...o,
});

function maxAbsDiff(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  const x = a.dataSync();
  const y = b.dataSync();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(Number(x[i]) - Number(y[i])));
  return m;
}

/** Copies `src`'s state into `dst` with keys renamed by `rename` (and reshaped to dst's shapes). */
function copyRenamed(src: VisionTransformer, dst: VisionTransformer, rename: (k: string) => string): void {
  const target = dst.stateDict();
  const sd = new Map<string, Tensor>();
  for (const [k, t] of src.stateDict()) {
    const key = rename(k);
    const shape = target.get(key)?.shape;
    if (!shape) throw new Error(`copyRenamed: ${k} → ${key} is not a key of the target`);
    sd.set(key, t.reshape(shape));
  }
  dst.loadStateDict(sd, { strict: true });
}

describe.each(TEST_BACKENDS)("VisionTransformer on %s", (backend) => {
  for (const name of ["vit_seed_literal", "vit_seed_fixed"]) {
    it(`${name} matches PyTorch (forward y and tokens, gradients, one AdamW step)`, () => {
      const report = runModelCase(name, MODEL_CASES[name]!.spec, backend);
      expect(report.failures).toEqual([]);
      expect(report.checked).toBeGreaterThan(30);
    });
  }

  it("trains a few steps with falling loss in both layouts, leaving no tensors behind", () => {
    setBackend(backend);
    for (const layout of ["seed", "timm"] as const) {
      manualSeed(11);
      const m = new VisionTransformer(small({ layout, dropout: 0.1 }));
      const gen = new Generator(5);
      const x = randn([8, 3, 16, 16], { generator: gen });
      const y = randint(0, 3, [8], { generator: gen });
      const opt = new AdamW(m.parameters(), { lr: 3e-3 });
      const { losses, tensorsAfterFirst, tensorsAtEnd } = train(opt, 8, () => crossEntropy(m.forward(x), y));
      expect(tensorsAtEnd, `${layout}: live tensors after step 1 vs after step 8`).toBe(tensorsAfterFirst);
      expect(losses.at(-1)!, `${layout} losses ${losses.map((v) => v.toFixed(3)).join(" ")}`).toBeLessThan(
        0.6 * losses[0]!,
      );
      opt.dispose();
      m.dispose();
      x.dispose();
      y.dispose();
    }
  });
});

describe("VisionTransformer options", () => {
  setBackend("js");

  it("seedCompat attention runs across the batch, so the logits do not depend on the image", () => {
    manualSeed(1);
    const m = new VisionTransformer(small({ seedCompat: true })).eval();
    const fixed = new VisionTransformer(small()).eval();
    copyRenamed(m, fixed, (k) => k);
    tidy(() => {
      const x = randn([3, 3, 16, 16]);
      const y = m.forward(x);
      expect(maxAbsDiff(y.select(0, 0), y.select(0, 2))).toBeLessThan(1e-6);
      const yf = fixed.forward(x);
      expect(maxAbsDiff(yf.select(0, 0), yf.select(0, 2))).toBeGreaterThan(1e-3);
      // the bug's maps are [N+1, heads, B, B]: position-wise attention between images
      expect(m.forward(x, { returnAttention: [0] }).attention[0]!.shape).toEqual([17, 4, 3, 3]);
    });
    m.dispose();
    fixed.dispose();
  });

  it("the conv patch embedding equals the seed's unfold recipe", () => {
    manualSeed(2);
    const unfold = new VisionTransformer(small({ imgSize: [18, 13] })).eval(); // remainders dropped by both
    const conv = new VisionTransformer(small({ imgSize: [18, 13], patchEmbedding: "conv" })).eval();
    copyRenamed(unfold, conv, (k) => k);
    tidy(() => {
      const x = randn([2, 3, 18, 13]);
      expect(maxAbsDiff(unfold.forwardFeatures(x), conv.forwardFeatures(x))).toBeLessThan(1e-5);
    });
    unfold.dispose();
    conv.dispose();
  });

  it("the seed layout with normFirst, GELU and conv patches computes what the timm layout computes", () => {
    manualSeed(3);
    const opts = small({ normFirst: true, activation: "gelu", patchEmbedding: "conv", eps: 1e-6 });
    const seed = new VisionTransformer(opts).eval();
    const timm = new VisionTransformer(small({ layout: "timm" })).eval();
    const rename = (k: string) =>
      k
        .replace("positional_encoding", "pos_embed")
        .replace("patch_embedding", "patch_embed.proj")
        .replace("transformer_layers", "blocks")
        .replace("multi_head_attn.in_proj_", "attn.qkv.")
        .replace("multi_head_attn.out_proj", "attn.proj")
        .replace("ff.0", "mlp.fc1")
        .replace("ff.3", "mlp.fc2")
        .replace("mlp_head.0", "norm")
        .replace("mlp_head.1", "head");
    copyRenamed(seed, timm, rename);
    tidy(() => {
      const x = randn([2, 3, 16, 16]);
      expect(maxAbsDiff(seed.forward(x), timm.forward(x))).toBeLessThan(1e-5);
    });
    seed.dispose();
    timm.dispose();
  });

  it("presets have the literature's parameter counts (ViT-B/16 at 224, 1000 classes = 86,567,656)", () => {
    const counts = Object.fromEntries(
      Object.keys(VIT_PRESETS).map((k) => [
        k,
        countParameters(vitPresetOptions(k as keyof typeof VIT_PRESETS)),
      ]),
    );
    // timm's model cards: Ti/16 5.72M, S/16 22.05M, S/32 22.88M, B/16 86.57M, B/32 88.22M, L/16 304.33M, L/32 306.54M
    expect(counts).toEqual({
      vit_ti16: 5_717_416,
      vit_ti32: 6_131_560,
      vit_s16: 22_050_664,
      vit_s32: 22_878_952,
      vit_b16: 86_567_656,
      vit_b32: 88_224_232,
      vit_l16: 304_326_632,
      vit_l32: 306_535_400,
    });
    // the seed layout has the same count (mlp_head.0 in place of norm, in_proj in place of qkv)
    expect(countParameters(vitPresetOptions("vit_b16", { layout: "seed" }))).toBe(86_567_656);
  });

  it("countParameters equals numParameters for small configurations", () => {
    for (const o of [
      small(),
      small({ layout: "timm" }),
      small({ layout: "timm", qkvBias: false, numClasses: 0, imgSize: [16, 24] }),
      small({ patchEmbedding: "conv", mlpRatio: 3, mlpDim: undefined, inChannels: 1 }),
      vitPresetOptions("vit_ti16", { imgSize: 32, depth: 1 }),
    ]) {
      const m = new VisionTransformer(o);
      expect(countParameters(o), JSON.stringify(o)).toBe(m.numParameters());
      m.dispose();
    }
    const p = vitPreset("vit_ti32", { imgSize: 64, numClasses: 7 });
    expect(p.numParameters()).toBe(
      countParameters(vitPresetOptions("vit_ti32", { imgSize: 64, numClasses: 7 })),
    );
    p.dispose();
  });

  it("returnAttention gives each chosen layer's softmax maps and leaves the logits unchanged", () => {
    for (const layout of ["seed", "timm"] as const) {
      manualSeed(4);
      const m = new VisionTransformer(small({ layout, depth: 3, imgSize: [16, 12] })).eval();
      tidy(() => {
        const x = randn([2, 3, 16, 12]);
        const plain = m.forward(x);
        const all = m.forward(x, { returnAttention: true });
        expect(all.attention.map((a) => a.shape)).toEqual([
          [2, 4, 13, 13],
          [2, 4, 13, 13],
          [2, 4, 13, 13],
        ]);
        expect(maxAbsDiff(plain, all.logits)).toBeLessThan(1e-6);
        const rows = all.attention[1]!.sum(-1);
        expect(maxAbsDiff(rows, rows.mul(0).add(1))).toBeLessThan(1e-5);
        const chosen = m.forward(x, { returnAttention: [-1, 0] });
        expect(maxAbsDiff(chosen.attention[0]!, all.attention[2]!)).toBe(0);
        expect(maxAbsDiff(chosen.attention[1]!, all.attention[0]!)).toBe(0);
      });
      expect(() => m.forward(randn([1, 3, 16, 12]), { returnAttention: [3] })).toThrow(
        /asks for layer 3, but the layers are 0..2/,
      );
      m.dispose();
    }
  });

  it("a model trained at 28×28 runs at 32×32 after setInputSize, and the same size is the identity", () => {
    manualSeed(6);
    const m = new VisionTransformer(small({ imgSize: 28, inChannels: 1, layout: "timm" }));
    const gen = new Generator(8);
    const x28 = randn([4, 1, 28, 28], { generator: gen });
    const y = randint(0, 3, [4], { generator: gen });
    const opt = new AdamW(m.parameters(), { lr: 1e-3 });
    for (let s = 0; s < 3; s++) {
      tidy(() => {
        opt.zeroGrad();
        crossEntropy(m.forward(x28), y).backward();
        opt.step();
      });
    }
    opt.dispose();
    m.eval();
    const before = m.forward(x28);
    const pe = m.posEmbed;
    m.setInputSize(28);
    expect(maxAbsDiff(before, m.forward(x28))).toBe(0);
    const expected = resamplePositionEmbedding(m.posEmbed, 7, [8, 8], { numPrefixTokens: 1 });
    expect(() => m.forward(randn([1, 1, 32, 32]))).toThrow(
      /x \[1, 1, 32, 32\] gives a 8×8 patch grid \(patch 4\) but the position embedding is for 7×7.*setInputSize/,
    );
    m.setInputSize(32);
    expect(m.posEmbed).toBe(pe); // the same parameter object, new data
    expect(m.posEmbed.shape).toEqual([1, 65, 32]);
    expect(maxAbsDiff(m.posEmbed, expected)).toBe(0);
    const out = m.forward(randn([2, 1, 32, 32]));
    expect(out.shape).toEqual([2, 3]);
    expect(Number.isFinite(out.sum().itemSync())).toBe(true);
    // non-square: [28, 40] → a 7×10 grid
    m.setInputSize([28, 40]);
    expect(m.posEmbed.shape).toEqual([1, 71, 32]);
    expect(m.forward(randn([1, 1, 28, 40])).shape).toEqual([1, 3]);
    for (const t of [before, expected, out, x28, y]) t.dispose();
    m.dispose();
  });

  it("dynamicImgSize resamples per forward exactly as setInputSize does", () => {
    manualSeed(7);
    const dyn = new VisionTransformer(small({ dynamicImgSize: true })).eval();
    const fixed = new VisionTransformer(small()).eval();
    copyRenamed(dyn, fixed, (k) => k);
    fixed.setInputSize([20, 24]);
    tidy(() => {
      const x = randn([2, 3, 20, 24]);
      expect(maxAbsDiff(dyn.forward(x), fixed.forward(x))).toBe(0);
    });
    dyn.dispose();
    fixed.dispose();
  });

  it("errors name the model, the argument and the shapes", () => {
    expect(() => new VisionTransformer({ embedDim: 30, numHeads: 4 })).toThrow(
      "VisionTransformer: embedDim 30 must be divisible by numHeads 4",
    );
    expect(() => new VisionTransformer({ layout: "timm", seedCompat: true })).toThrow(/seed-layout options/);
    expect(() => new VisionTransformer({ imgSize: 8, patchSize: 16 })).toThrow(/imgSize \[8,8\]/);
    const m = new VisionTransformer(small());
    expect(() => m.forward(randn([2, 1, 16, 16]))).toThrow(
      "VisionTransformer: x must be [B, 3, H, W], got [2, 1, 16, 16]",
    );
    expect(() => vitPreset("vit_h14" as never)).toThrow(/unknown preset 'vit_h14'/);
    m.dispose();
  });
});
