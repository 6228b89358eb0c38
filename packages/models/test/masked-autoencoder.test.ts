/**
 * MaskedAutoencoder: the encoder sees exactly ⌊N·(1−r)⌋ visible tokens (and they are the right ones),
 * the loss ignores visible patches, masks come from core's seeded generator (the same on every
 * backend), grayscale inputs of the autoencoder's sizes run forward/backward, and training lowers
 * the loss with a flat tensor count.
 */

import {
  assign,
  Generator,
  manualSeed,
  memory,
  rand,
  randn,
  setBackend,
  type Tensor,
  tidy,
} from "@tessera/core";
import { AdamW } from "@tessera/nn";
import { describe, expect, it } from "vitest";
import {
  MaskedAutoencoder,
  type MaskedAutoencoderOptions,
  patchifyImage,
  unpatchifyImage,
} from "../src/masked-autoencoder.js";
import { TEST_BACKENDS } from "./support/backends.js";

const small: MaskedAutoencoderOptions = {
  imageSize: [21, 19], // not multiples of the patch: a 6×5 grid after padding, N = 30
  patchSize: 4,
  inChannels: 1,
  embedDim: 32,
  depth: 2,
  numHeads: 4,
  decoderEmbedDim: 16,
  decoderDepth: 1,
  decoderNumHeads: 2,
};
const arr = (t: Tensor) => Array.from(t.dataSync() as Float32Array);

describe("MaskedAutoencoder", () => {
  it("has MAE's state-dict keys (models_mae.py)", () => {
    setBackend("js");
    manualSeed(0);
    const mae = new MaskedAutoencoder({ ...small, depth: 1 });
    const keys = [...mae.stateDict().keys()];
    for (const k of [
      "cls_token",
      "pos_embed",
      "mask_token",
      "decoder_pos_embed",
      "patch_embed.proj.weight",
      "blocks.0.attn.qkv.weight",
      "norm.weight",
      "decoder_embed.weight",
      "decoder_blocks.0.mlp.fc2.bias",
      "decoder_norm.bias",
      "decoder_pred.weight",
    ]) {
      expect(keys).toContain(k);
    }
    // Fixed sin-cos positions are buffers: in the state dict, not trained.
    expect([...mae.namedParameters()].map(([k]) => k)).not.toContain("pos_embed");
    mae.dispose();
  });

  it("the encoder sees exactly ⌊N·(1−r)⌋ patch tokens per sample, for several ratios", () => {
    setBackend("js");
    manualSeed(1);
    const mae = new MaskedAutoencoder(small);
    const x = randn([3, 1, 21, 19]);
    for (const r of [0.75, 0.5, 0.9, 0.2]) {
      tidy(() => {
        const { latent, mask, idsRestore } = mae.forwardEncoder(x, { maskRatio: r });
        const keep = Math.floor(30 * (1 - r));
        expect(latent.shape).toEqual([3, 1 + keep, 32]);
        expect(arr(mask.sum(1))).toEqual([30 - keep, 30 - keep, 30 - keep]);
        // idsRestore is a permutation of 0..N−1 in every row.
        for (const row of idsRestore.arraySync() as number[][])
          expect([...row].sort((a, b) => a - b)).toEqual([...Array(30).keys()]);
      });
    }
    expect(mae.forwardFeatures(x).shape).toEqual([3, 31, 32]);
    mae.dispose();
    x.dispose();
  });

  it("the encoded tokens are those of the visible patches, in shuffled order", () => {
    setBackend("js");
    manualSeed(2);
    // Without blocks each token is encoded on its own, so masked encoding = a subset of the full one.
    const mae = new MaskedAutoencoder({ ...small, depth: 0 });
    const x = randn([2, 1, 21, 19]);
    tidy(() => {
      const full = mae.forwardFeatures(x).arraySync() as number[][][];
      const { latent, mask, idsRestore } = mae.forwardEncoder(x);
      const lat = latent.arraySync() as number[][][];
      const m = mask.arraySync() as number[][];
      const ids = idsRestore.arraySync() as number[][];
      for (let b = 0; b < 2; b++) {
        for (let i = 0; i < 30; i++) {
          if (m[b]![i] === 1) expect(ids[b]![i]).toBeGreaterThanOrEqual(7);
          else expect(lat[b]![1 + ids[b]![i]!]).toEqual(full[b]![1 + i]);
        }
      }
    });
    mae.dispose();
    x.dispose();
  });

  it("masks are per sample, fresh per call and reproducible from a seeded generator", () => {
    setBackend("js");
    manualSeed(3);
    const mae = new MaskedAutoencoder(small);
    const x = randn([2, 1, 21, 19]);
    tidy(() => {
      const a = arr(mae.forwardEncoder(x, { generator: new Generator(42) }).mask);
      const b = arr(mae.forwardEncoder(x, { generator: new Generator(42) }).mask);
      const c = arr(mae.forwardEncoder(x).mask);
      const d = arr(mae.forwardEncoder(x).mask);
      expect(b).toEqual(a);
      expect(a.slice(0, 30)).not.toEqual(a.slice(30));
      expect(c).not.toEqual(d);
    });
    mae.dispose();
    x.dispose();
  });

  it("the loss ignores visible patches: changing a visible patch's pixels leaves it unchanged, a masked one changes it", () => {
    setBackend("js");
    manualSeed(4);
    for (const normPixLoss of [false, true]) {
      const mae = new MaskedAutoencoder({ ...small, normPixLoss });
      tidy(() => {
        const x = randn([2, 1, 21, 19]);
        const { pred, mask, loss } = mae.forward(x);
        const m = mask.arraySync() as number[][];
        const visible = m[0]!.indexOf(0);
        const masked = m[0]!.indexOf(1);
        const perturbed = (patch: number) => {
          const patches = mae.patchify(x);
          const bump = randn([4 * 4], { generator: new Generator(patch) }).mul(5);
          assign(patches.select(0, 0).select(0, patch), patches.select(0, 0).select(0, patch).add(bump));
          return mae.forwardLoss(mae.unpatchify(patches), pred, mask).itemSync();
        };
        const l0 = loss.itemSync();
        expect(perturbed(visible)).toBe(l0);
        expect(Math.abs(perturbed(masked) - l0)).toBeGreaterThan(1e-3);
        // And the gradient reaching the prediction of a visible patch is exactly zero.
        const p = pred.detach();
        p.requiresGrad = true;
        mae.forwardLoss(x, p, mask).backward();
        expect(arr(p.grad!.select(0, 0).select(0, visible)).every((v) => v === 0)).toBe(true);
      });
      mae.dispose();
    }
  });

  it("normPixLoss makes the loss invariant to an affine change of the image's pixel values", () => {
    setBackend("js");
    manualSeed(5);
    // A whole number of patches: zero padding would not follow the affine change.
    const mae = new MaskedAutoencoder({ ...small, imageSize: 20, normPixLoss: true });
    tidy(() => {
      const img = randn([2, 1, 20, 20]);
      const { pred, mask } = mae.forward(img);
      const a = mae.forwardLoss(img, pred, mask).itemSync();
      const b = mae.forwardLoss(img.mul(3).add(1), pred, mask).itemSync();
      expect(Math.abs(a - b) / a).toBeLessThan(1e-4);
    });
    mae.dispose();
  });

  it("patchifyImage and unpatchifyImage are inverse (MAE's row, column, channel layout)", () => {
    setBackend("js");
    tidy(() => {
      const x = randn([2, 3, 8, 12], { generator: new Generator(6) });
      const p = patchifyImage(x, 4);
      expect(p.shape).toEqual([2, 6, 48]);
      // Patch 1 (row 0, column 1), pixel (0, 0), channel 2 is x[:, 2, 0, 4].
      expect(arr(p.select(1, 1).select(1, 2))).toEqual(arr(x.select(1, 2).select(1, 0).select(1, 4)));
      expect(arr(unpatchifyImage(p, 4, [2, 3], 3))).toEqual(arr(x));
    });
  });

  it("runs forward and backward on grayscale 201×201 and 1280×152 inputs (the autoencoder's sizes)", () => {
    setBackend("js");
    manualSeed(7);
    for (const imageSize of [201, [1280, 152]] as const) {
      const mae = new MaskedAutoencoder({
        ...small,
        imageSize,
        patchSize: 16,
        embedDim: 16,
        depth: 1,
        decoderDepth: 1,
      });
      tidy(() => {
        const [H, W] = typeof imageSize === "number" ? [imageSize, imageSize] : imageSize;
        const { loss, pred } = mae.forward(rand([1, 1, H, W]));
        const n = Math.ceil(H / 16) * Math.ceil(W / 16);
        expect(pred.shape).toEqual([1, n, 256]);
        loss.backward();
        expect(Number.isFinite(mae.patchProj.weight.grad!.abs().sum().itemSync())).toBe(true);
        expect(mae.unpatchify(pred).shape).toEqual([1, 1, H, W]);
      });
      mae.dispose();
    }
  });
});

describe.each(TEST_BACKENDS)("MaskedAutoencoder training on %s", (backend) => {
  it("a few AdamW steps lower the masked loss (fixed evaluation masks) with a flat tensor count", () => {
    setBackend(backend);
    manualSeed(8);
    const mae = new MaskedAutoencoder(small);
    // Smooth images (a few low-frequency blobs) so masked patches are predictable from visible ones.
    const x = tidy(() => {
      const base = rand([4, 1, 3, 3], { generator: new Generator(9) });
      return base
        .reshape(4, 1, 3, 1, 3, 1)
        .expand(4, 1, 3, 7, 3, 7)
        .reshape(4, 1, 21, 21)
        .narrow(3, 0, 19)
        .contiguous();
    });
    const evalLoss = () => tidy(() => mae.forward(x, { generator: new Generator(100) }).loss.itemSync());
    const opt = new AdamW(mae.parameters(), { lr: 3e-3, weightDecay: 0 });
    const first = evalLoss();
    let afterStep1 = 0;
    for (let s = 0; s < 12; s++) {
      tidy(() => {
        opt.zeroGrad();
        mae.forward(x).loss.backward();
        opt.step();
      });
      if (s === 0) afterStep1 = memory().numTensors;
    }
    expect(memory().numTensors).toBe(afterStep1);
    const last = evalLoss();
    expect(last).toBeLessThan(first * 0.7);
    opt.dispose();
    mae.dispose();
    x.dispose();
  });

  it("the same seeded generator draws the same masks on every backend", () => {
    setBackend(backend);
    manualSeed(10);
    const mae = new MaskedAutoencoder(small);
    const mask = tidy(() =>
      arr(mae.forwardEncoder(randn([2, 1, 21, 19]), { generator: new Generator(77) }).mask),
    );
    setBackend("js");
    manualSeed(10);
    const ref = new MaskedAutoencoder(small);
    const refMask = tidy(() =>
      arr(ref.forwardEncoder(randn([2, 1, 21, 19]), { generator: new Generator(77) }).mask),
    );
    expect(mask).toEqual(refMask);
    mae.dispose();
    ref.dispose();
  });
});
