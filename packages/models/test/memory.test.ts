import { noGrad } from "@tessera/autograd";
import {
  cat,
  crossEntropy,
  memory,
  randint,
  randn,
  resetPeakMemory,
  setBackend,
  type Tensor,
  tidy,
  zeros,
} from "@tessera/core";
import {
  AdamW,
  Conv2d,
  LayerNorm,
  Linear,
  Module,
  ModuleList,
  TransformerEncoder,
  TransformerEncoderLayer,
} from "@tessera/nn";
import { describe, expect, it } from "vitest";
import { Block } from "../src/blocks.js";
import { estimateMemory, findRepeatedBlocks, formatMemoryEstimate } from "../src/memory.js";
import "./support/backends.js";

/**
 * The estimate against the real peak of AdamW training steps on backend-js: a tiny ViT
 * (conv patches, cls token, positions, pre-norm Blocks, LayerNorm + Linear head).
 * Tolerance: the estimate's total (a sum of parts, an upper bound) is within 25% of the peak.
 */
const TOLERANCE = 0.25;

class TinyViT extends Module {
  readonly patchEmbed: Conv2d;
  readonly clsToken: Tensor;
  readonly posEmbed: Tensor;
  readonly blocks: ModuleList<Block>;
  readonly norm: LayerNorm;
  readonly head: Linear;

  constructor(
    readonly dim = 32,
    depth = 4,
    readonly checkpointed = false,
  ) {
    super();
    // [B,1,16,16] → patches [B,D,4,4] → tokens [B,17,D]
    this.patchEmbed = this.registerModule("patch_embed", new Conv2d(1, dim, 4, { stride: 4 }));
    this.clsToken = this.registerParameter("cls_token", zeros([1, 1, dim]));
    this.posEmbed = this.registerParameter("pos_embed", randn([1, 17, dim]).mul(0.02));
    this.blocks = this.registerModule(
      "blocks",
      new ModuleList(Array.from({ length: depth }, () => new Block(dim, 4))),
    );
    this.norm = this.registerModule("norm", new LayerNorm(dim));
    this.head = this.registerModule("head", new Linear(dim, 10));
  }

  override forward(x: Tensor): Tensor {
    return tidy(() => {
      const b = x.shape[0]!;
      const p = this.patchEmbed.forward(x).flatten(2).transpose(1, 2); // [B,16,D]
      let h = cat([this.clsToken.expand([b, 1, this.dim]), p], 1).add(this.posEmbed); // [B,17,D]
      for (const blk of this.blocks) h = blk.forward(h, { checkpoint: this.checkpointed }).output;
      return this.head.forward(this.norm.forward(h).select(1, 0)); // [B,10]
    });
  }
}

/** Peak bytes of two AdamW steps (the first allocates the moments), above what was live before the model. */
function measuredPeak(batch: number, checkpointed: boolean): number {
  const before = memory().numBytes;
  const model = new TinyViT(32, 4, checkpointed);
  const opt = new AdamW([...model.parameters()], { lr: 1e-3 });
  const target = randint(0, 10, [batch], { dtype: "int32" });
  const x = randn([batch, 1, 16, 16]);
  const extra = target.storage.bytes;
  resetPeakMemory();
  for (let step = 0; step < 2; step++) {
    opt.zeroGrad();
    const loss = tidy(() => crossEntropy(model.forward(x), target));
    loss.backward();
    loss.dispose();
    opt.step();
  }
  const peak = memory().peakBytes - before - extra;
  x.dispose();
  target.dispose();
  opt.dispose();
  model.dispose();
  return peak;
}

describe("estimateMemory", () => {
  setBackend("js");

  it("counts parameters, gradients and optimizer states exactly", () => {
    const model = new TinyViT(32, 2);
    const n = model.numParameters();
    const adam = estimateMemory(model, { inputShape: [1, 16, 16], batch: 4, optimizer: "adamw" });
    expect(adam.parameterCount).toBe(n);
    expect(adam.parameters).toBe(4 * n);
    expect(adam.gradients).toBe(4 * n);
    expect(adam.optimizerStates).toBe(8 * n);
    const mom = estimateMemory(model, { inputShape: [1, 16, 16], optimizer: "sgd-momentum" });
    expect(mom.optimizerStates).toBe(4 * n);
    expect(estimateMemory(model, { inputShape: [1, 16, 16], optimizer: "sgd" }).optimizerStates).toBe(0);
    const mixed = estimateMemory(model, { inputShape: [1, 16, 16], batch: 4, precision: "mixed" });
    expect([mixed.parameters, mixed.gradients, mixed.optimizerStates]).toEqual([6 * n, 2 * n, 8 * n]);
    expect(mixed.activations).toBeCloseTo(adam.activations / 2, -1);
    const bf16 = estimateMemory(model, { inputShape: [1, 16, 16], precision: "bf16" });
    expect([bf16.parameters, bf16.gradients, bf16.optimizerStates]).toEqual([2 * n, 2 * n, 4 * n]);
    model.dispose();
  });

  it("counts only trainable parameters' gradients and states, and none for inference", () => {
    const model = new TinyViT(32, 2);
    for (const p of model.head.parameters()) p.requiresGrad = false;
    const n = model.numParameters();
    const trainable = model.numParameters({ trainableOnly: true });
    const e = estimateMemory(model, { inputShape: [1, 16, 16], optimizer: "adam" });
    expect(e.parameters).toBe(4 * n);
    expect(e.gradients).toBe(4 * trainable);
    expect(e.optimizerStates).toBe(8 * trainable);
    const inf = estimateMemory(model, { inputShape: [1, 16, 16], batch: 32, training: false });
    const train = estimateMemory(model, { inputShape: [1, 16, 16], batch: 32 });
    expect(inf.gradients + inf.optimizerStates).toBe(0);
    expect(inf.activations).toBeLessThan(train.activations);
    // The inference estimate against a real forward under noGrad at batch 32.
    const x = randn([32, 1, 16, 16]);
    const before = memory().numBytes - x.storage.bytes;
    resetPeakMemory();
    noGrad(() => tidy(() => void model.forward(x)));
    const actual = memory().peakBytes - before;
    x.dispose();
    expect(Math.abs(inf.total / actual - 1)).toBeLessThanOrEqual(TOLERANCE);
    model.dispose();
  });

  it("scales activations linearly with the batch and leaves the model's gradients and tensors as they were", () => {
    const model = new TinyViT(32, 2);
    const live = memory().numTensors;
    const e8 = estimateMemory(model, { inputShape: [1, 16, 16], batch: 8 });
    const e16 = estimateMemory(model, { inputShape: [1, 16, 16], batch: 16 });
    expect(e16.activations - e8.activations).toBe(8 * e8.activationFit.perBatch);
    expect(e8.activationFit.perBatch).toBeGreaterThan(0);
    expect(memory().numTensors).toBe(live);
    expect([...model.parameters()].every((p) => p.grad === null)).toBe(true);
    model.dispose();
  });

  it.each([false, true])(
    "is within 25%% of the peak of real AdamW steps on backend-js (checkpointing %s)",
    (ckpt) => {
      const batch = 32;
      const actual = measuredPeak(batch, ckpt);
      const model = new TinyViT(32, 4);
      const est = estimateMemory(model, {
        inputShape: [1, 16, 16],
        batch,
        optimizer: "adamw",
        gradientCheckpointing: ckpt,
      });
      model.dispose();
      const ratio = est.total / actual;
      console.log(
        `checkpointing ${ckpt}: estimate ${est.total} B, measured ${actual} B, ratio ${ratio.toFixed(3)}`,
      );
      console.log(formatMemoryEstimate(est));
      expect(Math.abs(ratio - 1)).toBeLessThanOrEqual(TOLERANCE);
    },
  );

  it("checkpointing lowers the activations of a deep model", () => {
    const model = new TinyViT(32, 6);
    expect(findRepeatedBlocks(model)).toHaveLength(6);
    const full = estimateMemory(model, { inputShape: [1, 16, 16], batch: 32 });
    const ckpt = estimateMemory(model, { inputShape: [1, 16, 16], batch: 32, gradientCheckpointing: true });
    expect(ckpt.activations).toBeLessThan(full.activations * 0.6);
    model.dispose();
  });

  it("checkpoints nn TransformerEncoder layers too (the generic path), lowering the activations", () => {
    const layer = new TransformerEncoderLayer(32, 4, { dimFeedforward: 64, dropout: 0, batchFirst: true });
    const encoder = new TransformerEncoder(layer, 4);
    layer.dispose();
    const full = estimateMemory(encoder, { inputShape: [17, 32], batch: 16 });
    const ckpt = estimateMemory(encoder, { inputShape: [17, 32], batch: 16, gradientCheckpointing: true });
    expect(ckpt.activations).toBeLessThan(full.activations * 0.6);
    expect(ckpt.activations).toBeGreaterThan(0);
    encoder.dispose();
  });

  it("names the model and the argument in its errors", () => {
    const model = new Linear(4, 2);
    expect(() => estimateMemory(model, {})).toThrow(/Linear.*inputShape/);
    expect(() => estimateMemory(model, { inputShape: [4], batch: 0 })).toThrow(/batch/);
    expect(() => estimateMemory(model, { inputShape: [4], gradientCheckpointing: true })).toThrow(
      /Linear.*repeated blocks/,
    );
    model.dispose();
  });
});
