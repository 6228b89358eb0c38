import { manualSeed, memory, mseLoss, randn, setBackend, type Tensor, tidy } from "@tessera/core";
import { AdamW } from "@tessera/nn";
import { beforeEach, describe, expect, it } from "vitest";
import {
  AUTOENCODER_PRESETS,
  createAutoencoder,
  TransformerAutoencoder,
  type TransformerAutoencoderOptions,
} from "../src/autoencoder.js";
import { TEST_BACKENDS } from "./support/backends.js";
import { MODEL_CASES } from "./support/model-cases.js";
import { runModelCase } from "./support/torch-model.js";

const SMALL = { latent: 32, heads: 4, encoderLayers: 2, decoderLayers: 2 } as const;

function maxAbsDiff(a: Tensor, b: Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

/** Forward + MSE backward on x; returns the loss value. */
function step(ae: TransformerAutoencoder, x: Tensor, opt?: AdamW): number {
  return tidy(() => {
    opt?.zeroGrad();
    const loss = mseLoss(ae.forward(x).reconstruction, x);
    loss.backward();
    opt?.step();
    return loss.itemSync();
  });
}

function trainLosses(opts: TransformerAutoencoderOptions, shape: number[], steps: number): number[] {
  manualSeed(1);
  const ae = new TransformerAutoencoder(opts);
  const x = randn(shape);
  const opt = new AdamW(ae.parameters(), { lr: 2e-3 });
  const losses: number[] = [];
  losses.push(step(ae, x, opt));
  const live = memory().numTensors; // after the first step: gradients and optimizer state exist
  for (let i = 1; i < steps; i++) losses.push(step(ae, x, opt));
  expect(memory().numTensors).toBe(live);
  opt.dispose();
  ae.dispose();
  x.dispose();
  return losses;
}

describe.each(TEST_BACKENDS)("TransformerAutoencoder on %s", (backend) => {
  beforeEach(() => setBackend(backend));

  it("matches PyTorch's autoencoder case (outputs, latent, attention maps, gradients, AdamW step)", () => {
    const r = runModelCase("autoencoder", MODEL_CASES["autoencoder"]!.spec, backend);
    expect(r.failures).toEqual([]);
    expect(r.checked).toBeGreaterThan(100);
  });

  // js: about 0.8 s (201×201) and 2.5 s (152×1280, batch 2: the two projections are 2 × 24.9 M weights)
  it.each([
    [201, 201],
    [152, 1280],
  ])("the tiny preset runs forward and backward at %i×%i (H×W), leaving no tensors behind", (h, w) => {
    manualSeed(0);
    const ae = createAutoencoder({ inputSize: [h, w], preset: "tiny" });
    const x = randn([2, 1, h, w]);
    step(ae, x); // the first backward creates the .grad tensors
    const live = memory().numTensors;
    const out = tidy(() => {
      ae.zeroGrad();
      const o = ae.forward(x);
      mseLoss(o.reconstruction, x).backward();
      return { shape: o.reconstruction.shape, latent: o.latent.shape };
    });
    expect(memory().numTensors).toBe(live);
    expect(out).toEqual({ shape: [2, 1, h, w], latent: [2, 128] });
    for (const [key, p] of ae.namedParameters()) {
      expect(p.grad?.shape, key).toEqual(p.shape);
    }
    expect(Number.isFinite(ae.encoder.proj.weight.grad!.abs().sum().itemSync())).toBe(true);
    expect(ae.encoder.proj.weight.grad!.abs().amax().itemSync()).toBeGreaterThan(0);
    const cfg = ae.getConfig();
    expect(cfg.parameterBreakdown["encoder.proj"]).toBe(h * w * 128 + 128);
    expect(cfg.parameterBreakdown["decoder.out"]).toBe(128 * h * w + h * w);
    ae.dispose();
    x.dispose();
  });

  it("getAttentionMaps returns per-layer maps and their average for both tokenizers", () => {
    manualSeed(0);
    // flat: one token, so every head-averaged map is exactly 1
    const flat = new TransformerAutoencoder({ inputSize: [12, 20], ...SMALL, encoderLayers: 3 });
    const x = randn([2, 1, 12, 20]);
    const fm = flat.getAttentionMaps(x);
    expect(Object.keys(fm)).toEqual(["layer_0", "layer_1", "layer_2", "average"]);
    for (const m of Object.values(fm)) {
      expect(m.shape).toEqual([2, 1, 1]);
      expect([...m.dataSync()]).toEqual([1, 1]);
    }
    // patch: 12×20 padded to 16×24 → a 2×3 grid of 8×8 patches; rows are distributions over the 6 patches
    const patch = new TransformerAutoencoder({
      inputSize: [12, 20],
      ...SMALL,
      tokenizer: "patch",
      patchSize: 8,
    });
    const pm = patch.getAttentionMaps(x);
    expect(Object.keys(pm)).toEqual(["layer_0", "layer_1", "average"]);
    for (const m of Object.values(pm)) {
      expect(m.shape).toEqual([2, 6, 6]);
      for (const s of m.sum(-1).dataSync()) expect(s).toBeCloseTo(1, 5);
    }
    const avg = pm["layer_0"]!.add(pm["layer_1"]!).div(2);
    expect(maxAbsDiff(avg, pm["average"]!)).toBeLessThan(1e-6);
    // cls pooling attends over 1 + N tokens
    const cls = new TransformerAutoencoder({
      inputSize: [12, 20],
      ...SMALL,
      tokenizer: "patch",
      patchSize: 8,
      pool: "cls",
    });
    expect(cls.getAttentionMaps(x)["layer_0"]!.shape).toEqual([2, 7, 7]);
    expect(cls.embedding(x).shape).toEqual([2, 32]);
    for (const t of [...Object.values(fm), ...Object.values(pm), avg, x]) t.dispose();
    for (const m of [flat, patch, cls]) m.dispose();
  });

  it("gradient checkpointing and the unfused path give the same outputs and gradients", () => {
    const opts = {
      inputSize: [16, 24] as [number, number],
      ...SMALL,
      tokenizer: "patch" as const,
      patchSize: 8,
    };
    manualSeed(3);
    const base = new TransformerAutoencoder(opts);
    const ckpt = new TransformerAutoencoder({ ...opts, gradientCheckpointing: true });
    const unfused = new TransformerAutoencoder({ ...opts, useFlashAttention: false });
    ckpt.loadStateDict(base.stateDict());
    unfused.loadStateDict(base.stateDict());
    const x = randn([2, 1, 16, 24]);
    const losses = [base, ckpt, unfused].map((m) => step(m, x));
    expect(losses[1]).toBe(losses[0]);
    expect(losses[2]).toBeCloseTo(losses[0]!, 6);
    const named = [...base.namedParameters()];
    for (const other of [ckpt, unfused]) {
      const otherParams = new Map(other.namedParameters());
      for (const [key, p] of named) {
        expect(maxAbsDiff(p.grad!, otherParams.get(key)!.grad!), key).toBeLessThan(1e-6);
      }
    }
    for (const m of [base, ckpt, unfused]) m.dispose();
    x.dispose();
  });

  it("the patch tokenizer runs at another width and non-multiple sizes through resampled 2-D positions", () => {
    manualSeed(0);
    const ae = new TransformerAutoencoder({
      inputSize: [16, 32],
      ...SMALL,
      tokenizer: "patch",
      patchSize: 8,
    });
    expect(ae.encoder.pos.shape).toEqual([1, 8, 32]); // 2×4 grid
    const wide = randn([1, 1, 16, 56]); // 2×7 grid
    const odd = randn([1, 1, 13, 30]); // padded to 16×32
    const o = ae.forward(wide, { returnAttention: true });
    expect(o.reconstruction.shape).toEqual([1, 1, 16, 56]);
    expect(o.attention!.encoder[0]!.shape).toEqual([1, 14, 14]);
    expect(o.attention!.decoder[0]!.shape).toEqual([1, 14, 14]);
    expect(ae.forward(odd).reconstruction.shape).toEqual([1, 1, 13, 30]);
    const flat = new TransformerAutoencoder({ inputSize: [16, 32], ...SMALL });
    expect(() => flat.forward(wide)).toThrow(
      "TransformerAutoencoder: x must be [B, 1, 16, 32], got [1, 1, 16, 56]",
    );
    for (const t of [wide, odd, o.reconstruction, o.latent, ...o.attention!.encoder, ...o.attention!.decoder])
      t.dispose();
    ae.dispose();
    flat.dispose();
  });

  it.each(["flat", "patch"] as const)("trains a few steps with falling loss (%s tokenizer)", (tokenizer) => {
    const losses = trainLosses({ inputSize: [16, 16], ...SMALL, tokenizer, patchSize: 4 }, [4, 1, 16, 16], 8);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.8);
  });
});

describe("TransformerAutoencoder configuration", () => {
  it("getConfig reports the true parameter count, dominated by the H·W projections in the seed form", () => {
    const ae = createAutoencoder({ inputSize: 201, preset: "tiny" });
    const cfg = ae.getConfig();
    expect(cfg.numParameters).toBe(ae.numParameters());
    expect(Object.values(cfg.parameterBreakdown).reduce((a, b) => a + b, 0)).toBe(cfg.numParameters);
    const proj = cfg.parameterBreakdown["encoder.proj"]! + cfg.parameterBreakdown["decoder.out"]!;
    expect(proj / cfg.numParameters).toBeGreaterThan(0.85);
    expect(cfg).toMatchObject({
      latent: 128,
      heads: 4,
      encoderLayers: 3,
      decoderLayers: 3,
      tokenizer: "flat",
    });
    ae.dispose();
    const patch = createAutoencoder({ inputSize: 201, preset: "tiny", tokenizer: "patch" });
    expect(patch.getConfig().parameterBreakdown["encoder.proj"]).toBe(16 * 16 * 128 + 128);
    patch.dispose();
  });

  it("presets set latent, heads and depth; explicit sizes override them", () => {
    expect(AUTOENCODER_PRESETS.tiny).toEqual({ latent: 128, heads: 4, encoderLayers: 3, decoderLayers: 3 });
    for (const name of ["tiny", "small"] as const) {
      const p = AUTOENCODER_PRESETS[name];
      const ae = createAutoencoder({ inputSize: 4, preset: name });
      expect(ae.getConfig()).toMatchObject(p);
      expect(ae.encoder.blocks.length).toBe(p.encoderLayers);
      ae.dispose();
    }
    expect(() => createAutoencoder({ inputSize: 8, tokenizer: "patch", latent: 30, heads: 3 })).toThrow(
      "TransformerAutoencoder: the patch tokenizer needs latent % 4 == 0 (2-D sin-cos), got 30",
    );
    expect(() => createAutoencoder({ inputSize: [8, 0] })).toThrow("inputSize must be positive integers");
    const ae = createAutoencoder({ inputSize: 4, preset: "small", latent: 64 });
    expect(ae.getConfig()).toMatchObject({ latent: 64, heads: 8, encoderLayers: 4 });
    ae.dispose();
  });
});
