/**
 * One rule for `returnAttention` in every model: `true` is every layer in order, a list picks
 * layers in the order asked (negative from the end), and a bad index is an error naming the model.
 */
import { manualSeed, randint, randn, setBackend, type Tensor, tidy } from "@tessera/core";
import { beforeAll, describe, expect, it } from "vitest";
import { attentionLayers } from "../src/attention-tools.js";
import { TransformerAutoencoder } from "../src/autoencoder.js";
import { MiniViTSegmentation } from "../src/dense-heads.js";
import { MiniViT } from "../src/mini-vit.js";
import { TextTransformerClassifier } from "../src/text-classifier.js";
import { TransformerCNN } from "../src/transformer-cnn.js";
import { VisionTransformer } from "../src/vit.js";
import { maxAbsDiff } from "./support/train.js";
import "./support/backends.js";

/** Layers left on the fused path may round differently from those that computed their weights. */
const ATOL = 1e-5;

interface Case {
  model: string;
  /** The test's name when `model` alone is ambiguous. */
  label?: string;
  depth: number;
  /** Builds the model (eval mode, seeded) and returns the maps for a request. */
  build: () => { maps: (which: true | readonly number[]) => Tensor[]; dispose: () => void };
}

const miniViT = { imgSize: 8, patchSize: 4, inChannels: 3, dim: 16, heads: 2, depth: 3, mlpDim: 32 };

const CASES: Case[] = [
  ...(["seed", "timm"] as const).map(
    (layout): Case => ({
      model: "VisionTransformer",
      label: `VisionTransformer (${layout})`,
      depth: 3,
      build: () => {
        const m = new VisionTransformer({
          layout,
          imgSize: 8,
          patchSize: 4,
          embedDim: 16,
          depth: 3,
          numHeads: 2,
          mlpDim: 32,
          numClasses: 3,
        }).eval();
        const x = randn([2, 3, 8, 8]);
        return { maps: (w) => m.forward(x, { returnAttention: w }).attention, dispose: () => m.dispose() };
      },
    }),
  ),
  {
    model: "MiniViT",
    depth: 3,
    build: () => {
      const m = new MiniViT(miniViT).eval();
      const x = randn([2, 3, 8, 8]);
      return { maps: (w) => m.forward(x, { returnAttention: w }).attention, dispose: () => m.dispose() };
    },
  },
  {
    model: "MiniViTSegmentation",
    depth: 3,
    build: () => {
      const m = new MiniViTSegmentation({ ...miniViT, numClasses: 4 }).eval();
      const x = randn([2, 3, 8, 8]);
      return { maps: (w) => m.forward(x, { returnAttention: w }).attention, dispose: () => m.dispose() };
    },
  },
  {
    model: "TransformerCNN",
    depth: 3,
    build: () => {
      const m = new TransformerCNN({
        input: "sequence",
        inFeatures: 4,
        maxLen: 8,
        dim: 16,
        numHeads: 2,
        dimFeedforward: 32,
        depth: 3,
        dropout: 0,
      }).eval();
      const x = randn([2, 6, 4]);
      return { maps: (w) => m.getAttentionMaps(x, w), dispose: () => m.dispose() };
    },
  },
  ...(["encoder", "decoder"] as const).map(
    (half): Case => ({
      model: `TransformerAutoencoder ${half}`,
      depth: 3,
      build: () => {
        const m = new TransformerAutoencoder({
          inputSize: [8, 8],
          tokenizer: "patch",
          patchSize: 4,
          latent: 16,
          heads: 2,
          encoderLayers: 3,
          decoderLayers: 3,
        }).eval();
        const x = randn([2, 1, 8, 8]);
        // A plain list asks both halves, so the encoder's error would come first: ask the decoder alone.
        const ask = (w: true | readonly number[]) => (half === "encoder" ? w : { decoder: w });
        return {
          maps: (w) => m.forward(x, { returnAttention: ask(w) }).attention![half],
          dispose: () => m.dispose(),
        };
      },
    }),
  ),
  {
    model: "TextTransformerClassifier",
    depth: 1,
    build: () => {
      const m = new TextTransformerClassifier({
        vocabSize: 20,
        maxlen: 6,
        embedDim: 8,
        numHeads: 2,
        ffDim: 16,
        hiddenDim: 4,
        numClasses: 2,
      }).eval();
      const ids = randint(1, 20, [2, 6], { dtype: "int32" });
      return {
        maps: (w) =>
          w === true
            ? [m.forward(ids, { returnAttention: true }).attention]
            : m.forward(ids, { returnAttention: w }).attention,
        dispose: () => m.dispose(),
      };
    },
  },
];

describe("returnAttention", () => {
  beforeAll(() => {
    setBackend("js");
  });

  for (const c of CASES) {
    it(`${c.label ?? c.model}: a list gives its layers' maps in the order asked, equal to those of true`, () => {
      manualSeed(11);
      const { maps, dispose } = c.build();
      tidy(() => {
        const all = maps(true);
        expect(all).toHaveLength(c.depth);
        // Depth 1 has one layer: [-1] and [0] each ask for it ([-1, 0] would ask twice).
        const requests = c.depth > 1 ? [[-1, 0]] : [[-1], [0]];
        for (const which of requests) {
          const chosen = maps(which);
          expect(chosen).toHaveLength(which.length);
          which.forEach((l, k) => {
            const layer = l < 0 ? l + c.depth : l;
            expect(maxAbsDiff(chosen[k]!, all[layer]!), `layer ${l}`).toBeLessThanOrEqual(ATOL);
          });
        }
      });
      expect(() => maps([c.depth])).toThrow(
        `${c.model}: returnAttention asks for layer ${c.depth}, but the layers are 0..${c.depth - 1}`,
      );
      expect(() => maps([-c.depth - 1])).toThrow(
        `${c.model}: returnAttention asks for layer ${-c.depth - 1}`,
      );
      dispose();
    });
  }

  it("TransformerAutoencoder: a list asks both halves by the same indices, { encoder, decoder } each alone", () => {
    manualSeed(12);
    const m = new TransformerAutoencoder({
      inputSize: [8, 8],
      tokenizer: "patch",
      patchSize: 4,
      latent: 16,
      heads: 2,
      encoderLayers: 2,
      decoderLayers: 3,
    }).eval();
    tidy(() => {
      const x = randn([2, 1, 8, 8]);
      const all = m.forward(x, { returnAttention: true }).attention!;
      const both = m.forward(x, { returnAttention: [-1, 0] }).attention!;
      const pairs = [
        [both.encoder[0]!, all.encoder[1]!],
        [both.encoder[1]!, all.encoder[0]!],
        [both.decoder[0]!, all.decoder[2]!],
        [both.decoder[1]!, all.decoder[0]!],
      ] as const;
      for (const [got, want] of pairs) expect(maxAbsDiff(got, want)).toBeLessThanOrEqual(ATOL);
      const some = m.forward(x, { returnAttention: { decoder: [2, -3] } }).attention!;
      expect(some.encoder).toEqual([]);
      expect(some.decoder).toHaveLength(2);
      expect(maxAbsDiff(some.decoder[0]!, all.decoder[2]!)).toBeLessThanOrEqual(ATOL);
      expect(maxAbsDiff(some.decoder[1]!, all.decoder[0]!)).toBeLessThanOrEqual(ATOL);
      expect(() => m.forward(x, { returnAttention: [2] })).toThrow(
        "TransformerAutoencoder encoder: returnAttention asks for layer 2, but the layers are 0..1",
      );
      expect(m.forward(x).attention).toBeNull();
    });
    m.dispose();
  });
});

describe("attentionLayers", () => {
  it("true is every layer in order, false and undefined none, a list its layers in the order asked", () => {
    expect(attentionLayers("M", true, 3)).toEqual([0, 1, 2]);
    expect(attentionLayers("M", false, 3)).toEqual([]);
    expect(attentionLayers("M", undefined, 3)).toEqual([]);
    expect(attentionLayers("M", [], 3)).toEqual([]);
    expect(attentionLayers("M", [-1, 0, -2], 3)).toEqual([2, 0, 1]);
    expect(attentionLayers("M", [0], 1)).toEqual([0]);
    expect(attentionLayers("M", [-1], 1)).toEqual([0]);
  });

  it("an index out of range, not an integer or asked twice is an error naming the model", () => {
    expect(() => attentionLayers("M", [3], 3)).toThrow(
      "M: returnAttention asks for layer 3, but the layers are 0..2 (or -3..-1 from the end)",
    );
    expect(() => attentionLayers("M", [-4], 3)).toThrow("M: returnAttention asks for layer -4");
    expect(() => attentionLayers("M", [0.5], 3)).toThrow("M: returnAttention asks for layer 0.5");
    expect(() => attentionLayers("M", [Number.NaN], 3)).toThrow("M: returnAttention asks for layer NaN");
    expect(() => attentionLayers("M", [-1, 0], 1)).toThrow(
      "M: returnAttention asks for layer 0 twice (as -1 and 0)",
    );
    expect(() => attentionLayers("M", [0], 0)).toThrow(
      "M: returnAttention asks for layer 0, but it has no layers",
    );
    // @ts-expect-error a bare index instead of a list
    expect(() => attentionLayers("M", 1, 3)).toThrow("M: returnAttention must be true, false or a list");
  });
});
