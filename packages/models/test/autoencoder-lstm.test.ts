import { manualSeed, memory, mseLoss, randn, setBackend, tidy } from "@tessera/core";
import { AdamW } from "@tessera/nn";
import { beforeEach, describe, expect, it } from "vitest";
import { TransformerAutoencoder } from "../src/autoencoder.js";
import { AutoencoderLSTM } from "../src/autoencoder-lstm.js";
import { TEST_BACKENDS } from "./support/backends.js";
import { MODEL_CASES } from "./support/model-cases.js";
import { runModelCase } from "./support/torch-model.js";

describe.each(TEST_BACKENDS)("AutoencoderLSTM on %s", (backend) => {
  it("matches PyTorch's vit_lstm case (output, gradients, AdamW step)", () => {
    const r = runModelCase("vit_lstm", MODEL_CASES["vit_lstm"]!.spec, backend);
    expect(r.failures).toEqual([]);
    expect(r.checked).toBeGreaterThan(40);
  });
});

const SMALL = {
  inputSize: [12, 12] as [number, number],
  latent: 16,
  heads: 2,
  encoderLayers: 2,
  decoderLayers: 1,
};

describe.each(TEST_BACKENDS)("AutoencoderLSTM training on %s", (backend) => {
  beforeEach(() => setBackend(backend));

  it("trains a few steps with falling loss and a flat tensor count", () => {
    manualSeed(2);
    const m = new AutoencoderLSTM({ ...SMALL, hidden: 12 });
    const frames = randn([4, 3, 1, 12, 12]);
    const target = randn([4, 1]);
    const opt = new AdamW(m.parameters(), { lr: 5e-3 });
    const step = () =>
      tidy(() => {
        opt.zeroGrad();
        const loss = mseLoss(m.forward(frames), target);
        loss.backward();
        opt.step();
        return loss.itemSync();
      });
    const losses = [step()];
    const live = memory().numTensors;
    for (let i = 0; i < 9; i++) losses.push(step());
    expect(memory().numTensors).toBe(live);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.7);
    for (const t of [frames, target]) t.dispose();
    opt.dispose();
    m.dispose();
  });

  it("a frozen pretrained encoder keeps its weights while the LSTM and head learn a sequence", () => {
    manualSeed(4);
    const ae = new TransformerAutoencoder({ ...SMALL, tokenizer: "patch", patchSize: 4 });
    const m = AutoencoderLSTM.fromAutoencoder(ae, { hidden: 8, outputs: 2, sequenceOutput: true });
    expect(m.encoder).toBe(ae.encoder);
    expect([...m.stateDict().keys()].filter((k) => k.startsWith("encoder."))).toEqual(
      [...ae.stateDict().keys()].filter((k) => k.startsWith("encoder.")),
    );
    const before = ae.encoder.proj.weight.dataSync().slice();
    const frames = randn([2, 5, 1, 12, 12]);
    const target = randn([2, 5, 2]);
    const opt = new AdamW(m.parameters(), { lr: 1e-2 });
    const losses: number[] = [];
    for (let i = 0; i < 6; i++) {
      losses.push(
        tidy(() => {
          opt.zeroGrad();
          const y = m.forward(frames);
          expect(y.shape).toEqual([2, 5, 2]);
          const loss = mseLoss(y, target);
          loss.backward();
          opt.step();
          return loss.itemSync();
        }),
      );
    }
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
    expect(ae.encoder.proj.weight.grad).toBeNull();
    expect([...ae.encoder.proj.weight.dataSync()]).toEqual([...before]);
    expect(m.fc.weight.grad).not.toBeNull();
    expect(() => new AutoencoderLSTM(SMALL).forward(randn([2, 5, 1, 12, 13]))).toThrow(
      "AutoencoderLSTM: frames must be [B, T, 1, 12, 12], got [2, 5, 1, 12, 13]",
    );
    for (const t of [frames, target]) t.dispose();
    opt.dispose();
    m.dispose(); // frees the shared encoder too
    ae.decoder.dispose();
  });
});
