import { Generator, manualSeed, randn, setBackend, tidy } from "@tessera/core";
import { AdamW } from "@tessera/nn";
import { describe, expect, it } from "vitest";
import { createAutoencoder, patchifyImage } from "../src/index.js";
import { TEST_BACKENDS } from "./support/backends.js";
import { train } from "./support/train.js";

const small = () =>
  createAutoencoder({
    inputSize: [20, 28],
    tokenizer: "patch",
    patchSize: 4,
    latent: 32,
    heads: 4,
    encoderLayers: 2,
    decoderLayers: 1,
  });

describe.each(TEST_BACKENDS)("masked-patch pretraining of the patch autoencoder on %s", (backend) => {
  it("the encoder sees only the visible patches", () => {
    setBackend(backend);
    manualSeed(1);
    const ae = small();
    tidy(() => {
      const x = randn([2, 1, 20, 28]);
      // 5×7 = 35 patches; ratio 0.6 keeps floor(35·0.4) = 14.
      const e = ae.encoder.forward(x, { maskRatio: 0.6, generator: new Generator(3), returnAttention: true });
      expect(e.attention![0]!.shape).toEqual([2, 14, 14]);
      expect(e.mask!.shape).toEqual([2, 35]);
      expect(Array.from(e.mask!.sum(-1).dataSync())).toEqual([21, 21]);
    });
    ae.dispose();
  });

  it("the loss is the mean squared error over the hidden patches only", () => {
    setBackend(backend);
    manualSeed(2);
    const ae = small();
    tidy(() => {
      const x = randn([2, 1, 20, 28]);
      const r = ae.maskedReconstruction(x, { maskRatio: 0.5, generator: new Generator(5) });
      const err = patchifyImage(r.reconstruction.sub(x), 4); // sizes are multiples of 4: no padding
      const perPatch = Array.from(err.mul(err).mean(-1).dataSync());
      const mask = Array.from(r.mask.dataSync());
      let sum = 0;
      let count = 0;
      mask.forEach((m, i) => {
        if (m) {
          sum += perPatch[i]!;
          count++;
        }
      });
      expect(count).toBe(2 * (35 - 17));
      expect(r.loss.itemSync()).toBeCloseTo(sum / count, 5);
    });
    ae.dispose();
  });

  it("a few AdamW steps lower the masked loss (fixed masks) with a flat tensor count", () => {
    setBackend(backend);
    manualSeed(3);
    const ae = small();
    const x = randn([4, 1, 20, 28]);
    const opt = new AdamW(ae.parameters(), { lr: 3e-3 });
    const { losses, tensorsAfterFirst, tensorsAtEnd } = train(opt, 12, () => {
      return ae.maskedReconstruction(x, { maskRatio: 0.75, generator: new Generator(9) }).loss;
    });
    expect(tensorsAtEnd).toBe(tensorsAfterFirst);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.8);
    opt.dispose();
    ae.dispose();
    x.dispose();
  });
});

describe("masked-patch pretraining errors", () => {
  it("needs the patch tokenizer and a ratio in [0, 1)", () => {
    const ae = createAutoencoder({ inputSize: 8, latent: 8, heads: 2, encoderLayers: 1, decoderLayers: 1 });
    const x = randn([1, 1, 8, 8]);
    expect(() => ae.maskedReconstruction(x)).toThrow(
      "TransformerAutoencoder.maskedReconstruction: needs tokenizer 'patch'",
    );
    ae.dispose();
    const p = small();
    const y = randn([1, 1, 20, 28]);
    expect(() => p.encoder.forward(y, { maskRatio: 1 })).toThrow(
      "AutoencoderEncoder: maskRatio must be in [0, 1), got 1",
    );
    p.dispose();
    x.dispose();
    y.dispose();
  });
});
