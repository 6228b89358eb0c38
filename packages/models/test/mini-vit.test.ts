import { cat, crossEntropy, manualSeed, memory, randint, randn, sum, type Tensor, tidy } from "@tessera/core";
import { AdamW } from "@tessera/nn";
import { describe, expect, it } from "vitest";
import { MINI_VIT_PRESETS, MiniViT, type MiniViTOptions, PatchEmbedding } from "../src/mini-vit.js";
import { TEST_BACKENDS } from "./support/backends.js";
import { MODEL_CASES } from "./support/model-cases.js";
import { runModelCase } from "./support/torch-model.js";
import { maxAbsDiff } from "./support/train.js";

/** A small MiniViT for fast tests: 8×8 RGB, 2×2 patch grid, D 16, 2 layers. */
const TINY: MiniViTOptions = {
  imgSize: 8,
  patchSize: 4,
  inChannels: 3,
  dim: 16,
  heads: 2,
  depth: 2,
  mlpDim: 32,
};

describe("MiniViT", () => {
  for (const backend of TEST_BACKENDS) {
    it(`matches PyTorch's minivit (forward, gradients, one AdamW step) on ${backend}`, () => {
      const report = runModelCase("minivit", MODEL_CASES["minivit"]!.spec, backend);
      expect(report.failures).toEqual([]);
      expect(report.checked).toBeGreaterThan(50);
    });
  }

  it("has the PyTorch reference's state-dict keys, in PyTorch's order", () => {
    const m = new MiniViT({ ...TINY, depth: 1 });
    const layer = [
      "self_attn.in_proj_weight",
      "self_attn.in_proj_bias",
      "self_attn.out_proj.weight",
      "self_attn.out_proj.bias",
      "linear1.weight",
      "linear1.bias",
      "linear2.weight",
      "linear2.bias",
      "norm1.weight",
      "norm1.bias",
      "norm2.weight",
      "norm2.bias",
    ].map((k) => `transformer.layers.0.${k}`);
    expect([...m.stateDict().keys()]).toEqual([
      "cls_token",
      "pos_embed",
      "patch_embed.proj.weight",
      "patch_embed.proj.bias",
      ...layer,
      "mlp_head.0.weight",
      "mlp_head.0.bias",
      "mlp_head.1.weight",
      "mlp_head.1.bias",
    ]);
    m.dispose();
  });

  it("presets have PyTorch's parameter counts (seed 576,586; fashion-mnist 1,199,882)", () => {
    const seed = new MiniViT({ preset: "seed" });
    const fm = new MiniViT({ preset: "fashion-mnist" });
    expect(seed.numParameters()).toBe(576586);
    expect(fm.numParameters()).toBe(1199882);
    expect(fm.config).toMatchObject({
      imgSize: [28, 28],
      patchSize: 4,
      inChannels: 1,
      dim: 128,
      depth: 6,
      mlpDim: 512,
    });
    expect(fm.numPatches).toBe(49);
    expect(MINI_VIT_PRESETS["fashion-mnist"].heads).toBe(4);
    // explicit options override the preset
    const wide = new MiniViT({ preset: "fashion-mnist", depth: 1, numClasses: 3 });
    expect(wide.config.depth).toBe(1);
    expect(wide.config.numClasses).toBe(3);
    for (const m of [seed, fm, wide]) m.dispose();
  });

  it("PatchEmbedding orders tokens row-major over the patch grid", () => {
    tidy(() => {
      manualSeed(3);
      const embed = new PatchEmbedding(2, 4, 2);
      const x = randn([1, 2, 4, 6]);
      const t = embed.forward(x); // [1, 6, 4]
      expect(t.shape).toEqual([1, 6, 4]);
      // token r·3 + c is the patch at grid row r, column c
      const patch = x.slice(2, 2, 4).slice(3, 4, 6); // row 1, column 2 → token 5
      const direct = embed.proj.forward(patch).flatten(1); // [1, 4]
      expect(maxAbsDiff(t.select(1, 5), direct)).toBeLessThan(1e-6);
      embed.dispose();
    });
  });

  it("normFirst gives pre-norm layers with the same state-dict keys, and other outputs from the same weights", () => {
    tidy(() => {
      manualSeed(3);
      const post = new MiniViT(TINY);
      const pre = new MiniViT({ ...TINY, normFirst: true });
      expect([...pre.stateDict().keys()]).toEqual([...post.stateDict().keys()]);
      pre.loadStateDict(post.stateDict());
      expect([...pre.transformer.layers].map((l) => l.normFirst)).toEqual([true, true]);
      const x = randn([2, 3, 8, 8]);
      // Same weights, different placement of the norms: the logits must differ (post-norm ends in a LayerNorm).
      expect(maxAbsDiff(pre.forward(x), post.forward(x))).toBeGreaterThan(1e-3);
      pre.dispose();
      post.dispose();
    });
  });

  it("supports rectangular images (imgSize [H, W])", () => {
    tidy(() => {
      const m = new MiniViT({ ...TINY, imgSize: [8, 12] });
      expect(m.grid).toEqual([2, 3]);
      expect(m.posEmbed.shape).toEqual([1, 7, 16]);
      expect(m.features(randn([2, 3, 8, 12])).shape).toEqual([2, 7, 16]);
      m.dispose();
    });
  });

  it("the class token is one shared parameter: its gradient is the sum of the per-image gradients", () => {
    tidy(() => {
      manualSeed(11);
      const m = new MiniViT(TINY);
      const x = randn([2, 3, 8, 8]);
      const gradOf = (input: Tensor) => {
        m.zeroGrad();
        const o = m.forward(input); // [b, K]
        sum(o.mul(o)).backward();
        return m.clsToken.grad!.clone();
      };
      const both = gradOf(x);
      const g0 = gradOf(x.slice(0, 0, 1));
      const g1 = gradOf(x.slice(0, 1, 2));
      expect(both.shape).toEqual([1, 1, 16]);
      expect(maxAbsDiff(both, g0.add(g1))).toBeLessThan(1e-5);
      m.zeroGrad();
      m.dispose();
    });
  });

  it("returnAttention gives per-layer, per-head maps whose rows sum to one, without changing the logits", () => {
    tidy(() => {
      manualSeed(5);
      const m = new MiniViT(TINY);
      const x = randn([2, 3, 8, 8]);
      const plain = m.forward(x);
      const { logits, attention } = m.forward(x, { returnAttention: true });
      expect(maxAbsDiff(plain, logits)).toBeLessThan(1e-6);
      expect(attention.map((a) => a.shape)).toEqual([
        [2, 2, 5, 5],
        [2, 2, 5, 5],
      ]);
      const rows = sum(attention[1]!, -1).dataSync();
      for (const r of rows) expect(r).toBeCloseTo(1, 5);
      const chosen = m.forward(x, { returnAttention: [1] });
      expect(chosen.attention).toHaveLength(1);
      expect(maxAbsDiff(chosen.attention[0]!, attention[1]!)).toBeLessThan(1e-6);
      expect(maxAbsDiff(chosen.logits, plain)).toBeLessThan(1e-6);
      m.dispose();
    });
  });

  it("errors name the model, the argument and the shapes", () => {
    const m = new MiniViT(TINY);
    tidy(() => {
      expect(() => m.forward(randn([2, 3, 16, 16]))).toThrow(
        "MiniViT: expected images [B,3,8,8], got [2,3,16,16]",
      );
      expect(() => m.forward(randn([2, 3, 8, 8]), { returnAttention: [2] })).toThrow(
        "MiniViT: returnAttention asks for layer 2, but the layers are 0..1 (or -2..-1 from the end)",
      );
    });
    m.dispose();
    expect(() => new MiniViT({ dim: 30, heads: 4 })).toThrow("MiniViT: dim 30 must be divisible by heads 4");
    expect(() => new MiniViT({ imgSize: 4, patchSize: 8 })).toThrow(
      "MiniViT: imgSize [4,4] must be integers",
    );
    // @ts-expect-error an unknown preset
    expect(() => new MiniViT({ preset: "imagenet" })).toThrow('MiniViT: unknown preset "imagenet"');
  });

  for (const backend of TEST_BACKENDS) {
    it(`trains a few steps with falling loss and a flat tensor count on ${backend}`, () => {
      manualSeed(7);
      const m = new MiniViT({ ...TINY, numClasses: 3 });
      m.to(backend);
      const opt = new AdamW(m.parameters(), { lr: 3e-3 });
      // a tiny task: class = which third of the channels is brightest, 12 fixed images
      const [x, y] = tidy(() => {
        const labels = randint(0, 3, [12], { backend });
        const imgs = randn([12, 3, 8, 8], { backend }).mul(0.5);
        const bright = cat(
          [0, 1, 2].map((c) => labels.eq(c).cast("float32").reshape(12, 1, 1, 1)),
          1,
        );
        return [imgs.add(bright.mul(1.5)), labels];
      });
      const losses: number[] = [];
      let live = 0;
      for (let step = 0; step < 12; step++) {
        const l = tidy(() => {
          opt.zeroGrad();
          const loss = crossEntropy(m.forward(x), y);
          loss.backward();
          opt.step();
          return loss.itemSync();
        });
        losses.push(l);
        if (step === 1) live = memory().numTensors;
        if (step > 1) expect(memory().numTensors).toBe(live);
      }
      expect(losses[losses.length - 1]!).toBeLessThan(losses[0]! * 0.5);
      opt.dispose();
      m.dispose();
      x.dispose();
      y.dispose();
    });
  }
});
