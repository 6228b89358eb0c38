/**
 * The PyTorch model golden cases, one spec each: how to build the model from the fixture's `config`
 * and which outputs its forward gives. The model tests run them on every test backend
 * (runModelCase), and scripts/gpu runs the same specs on 'cuda' on a GPU machine.
 */
import type { Tensor } from "@tessera/core";
import { l1Loss } from "@tessera/core";
import { TransformerAutoencoder } from "../../src/autoencoder.js";
import { AutoencoderLSTM } from "../../src/autoencoder-lstm.js";
import { MiniViTDepth } from "../../src/dense-heads.js";
import { MiniViT, type MiniViTOptions } from "../../src/mini-vit.js";
import { TextTransformerClassifier } from "../../src/text-classifier.js";
import { TransformerCNN, type TransformerCNNOptions } from "../../src/transformer-cnn.js";
import { VisionTransformer } from "../../src/vit.js";
import type { ModelCase } from "./torch-model.js";

/** MiniViT's constructor kwargs in the reference (the fixture's `config`) as options. */
export const miniVitFromConfig = (c: Record<string, unknown>): MiniViTOptions => ({
  imgSize: c.img as number,
  patchSize: c.patch as number,
  inChannels: c.in_ch as number,
  dim: c.dim as number,
  heads: c.heads as number,
  depth: c.depth as number,
});

export const transformerCnnFromConfig = (c: Record<string, unknown>): TransformerCNN => {
  const { batch: _batch, ...opts } = c;
  return new TransformerCNN(opts as TransformerCNNOptions);
};

export const textClassifierFromConfig = (c: Record<string, unknown>): TextTransformerClassifier =>
  new TextTransformerClassifier({
    vocabSize: c.vocab as number,
    maxlen: c.maxlen as number,
    embedDim: c.embed as number,
    numHeads: c.heads as number,
    ffDim: c.ff as number,
    hiddenDim: c.hidden as number,
    numClasses: c.classes as number,
  });

const vitCase: ModelCase<VisionTransformer> = {
  build: (c) =>
    new VisionTransformer({
      imgSize: c.img as number,
      patchSize: c.patch as number,
      inChannels: c.channels as number,
      embedDim: c.d_model as number,
      numHeads: c.heads as number,
      depth: c.layers as number,
      mlpDim: c.mlp as number,
      numClasses: c.classes as number,
      seedCompat: !c.batch_first,
    }),
  forward: (m, { x }) => {
    const tokens = m.forwardFeatures(x!);
    return { y: m.forwardHead(tokens), tokens };
  },
};

/**
 * Every model case by fixture name, with the number of checks it must make (`checked`: exact, or
 * `minChecked`), so a case that silently compares nothing fails.
 */
export const MODEL_CASES: Record<string, { spec: ModelCase; checked?: number; minChecked?: number }> = {
  minivit: {
    spec: {
      build: (c) => new MiniViT({ ...miniVitFromConfig(c), numClasses: c.classes as number }),
      forward: (m, x) => ({ y: (m as MiniViT).forward(x.x!) }),
    },
    minChecked: 51,
  },
  vit_seed_literal: { spec: vitCase as ModelCase, minChecked: 31 },
  vit_seed_fixed: { spec: vitCase as ModelCase, minChecked: 31 },
  depth_vit: {
    spec: {
      build: (c) => new MiniViTDepth(miniVitFromConfig(c)),
      forward: (m, x) => {
        const y = (m as MiniViTDepth).forward(x.x!);
        return { y, loss: (m as MiniViTDepth).loss(y, x.target!) };
      },
      loss: (out, inputs) => l1Loss(out.y!, inputs.target!),
    },
    minChecked: 51,
  },
  text_classifier: {
    spec: {
      build: textClassifierFromConfig,
      forward: (m, x) => ({ y: (m as TextTransformerClassifier).forward(x.x!) }),
    },
    checked: 37, // y, 18 gradients, 18 parameters after the step
  },
  transformer_cnn_hybrid: {
    spec: {
      build: transformerCnnFromConfig,
      forward: (m, x) => ({ y: (m as TransformerCNN).forward(x.x!) }),
      stateOutputs: { running_mean_0: "stem.1.running_mean" },
    },
    checked: 2 + 2 * 46, // y, the BN running mean, then 46 gradients and 46 parameters after the step
  },
  transformer_cnn_sequence: {
    spec: {
      build: transformerCnnFromConfig,
      forward: (m, x) => ({ y: (m as TransformerCNN).forward(x.x!) }),
    },
    checked: 1 + 2 * 36, // y, 36 gradients, 36 stepped parameters
  },
  autoencoder: {
    spec: {
      build: (c) =>
        new TransformerAutoencoder({
          inputSize: [c.h as number, c.w as number],
          latent: c.latent as number,
          heads: c.heads as number,
          encoderLayers: c.enc_layers as number,
          decoderLayers: c.dec_layers as number,
        }),
      forward: (m, { x }) => {
        const o = (m as TransformerAutoencoder).forward(x!, { returnAttention: true });
        const out: Record<string, Tensor> = { y: o.reconstruction, latent: o.latent };
        for (const [i, a] of o.attention!.encoder.entries()) out[`attn.encoder.${i}`] = a;
        for (const [i, a] of o.attention!.decoder.entries()) out[`attn.decoder.${i}`] = a;
        return out;
      },
    },
    minChecked: 101,
  },
  vit_lstm: {
    spec: {
      build: (c) =>
        new AutoencoderLSTM({
          inputSize: [c.h as number, c.w as number],
          latent: c.latent as number,
          heads: c.heads as number,
          encoderLayers: c.enc_layers as number,
          hidden: c.hidden as number,
        }),
      forward: (m, { x }) => ({ y: (m as AutoencoderLSTM).forward(x!) }),
    },
    minChecked: 41,
  },
};

/** Whether a case's report made as many checks as it must. */
export function enoughChecks(name: string, checked: number): boolean {
  const c = MODEL_CASES[name]!;
  return c.checked !== undefined ? checked === c.checked : checked >= (c.minChecked ?? 1);
}
