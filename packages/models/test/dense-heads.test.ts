import {
  amin,
  avgPool2d,
  cat,
  crossEntropy,
  full,
  interpolate,
  manualSeed,
  memory,
  rand,
  randint,
  randn,
  type Tensor,
  tensor,
  tidy,
} from "@tessera/core";
import { AdamW, type Module } from "@tessera/nn";
import { describe, expect, it } from "vitest";
import {
  DenseHead,
  DepthHead,
  MiniViTDepth,
  MiniViTSegmentation,
  SegmentationHead,
} from "../src/dense-heads.js";
import type { MiniViTOptions } from "../src/mini-vit.js";
import { TEST_BACKENDS } from "./support/backends.js";
import { MODEL_CASES } from "./support/model-cases.js";
import { runModelCase } from "./support/torch-model.js";
import { maxAbsDiff } from "./support/train.js";

/** A small backbone for fast tests: 8×8 RGB, 2×2 patch grid, D 16, 1 layer. */
const TINY: MiniViTOptions = {
  imgSize: 8,
  patchSize: 4,
  inChannels: 3,
  dim: 16,
  heads: 2,
  depth: 1,
  mlpDim: 32,
};

/**
 * Takes `steps` AdamW steps of `lossOf` on `m` (inputs made once by `data`) and returns the
 * losses; checks that the live tensor count stays flat from the third step on.
 */
function train(m: Module, data: () => Tensor[], lossOf: (t: Tensor[]) => Tensor, steps: number, lr: number) {
  const opt = new AdamW(m.parameters(), { lr });
  const batch = tidy(data);
  const losses: number[] = [];
  let live = 0;
  for (let step = 0; step < steps; step++) {
    losses.push(
      tidy(() => {
        opt.zeroGrad();
        const loss = lossOf(batch);
        loss.backward();
        opt.step();
        return loss.itemSync();
      }),
    );
    if (step === 1) live = memory().numTensors;
    if (step > 1) expect(memory().numTensors).toBe(live);
  }
  opt.dispose();
  for (const t of batch) t.dispose();
  return losses;
}

describe("dense heads", () => {
  for (const backend of TEST_BACKENDS) {
    it(`MiniViTDepth matches PyTorch's depth_vit (L1 loss, gradients, one AdamW step) on ${backend}`, () => {
      const report = runModelCase("depth_vit", MODEL_CASES["depth_vit"]!.spec, backend);
      expect(report.failures).toEqual([]);
      expect(report.checked).toBeGreaterThan(50);
    });
  }

  it("MiniViTDepth has the reference's keys: the backbone's and depth_head.{0,2,4}, no mlp_head", () => {
    const m = new MiniViTDepth(TINY);
    const keys = [...m.stateDict().keys()];
    expect(keys.filter((k) => k.startsWith("depth_head."))).toEqual([
      "depth_head.0.weight",
      "depth_head.0.bias",
      "depth_head.2.weight",
      "depth_head.2.bias",
      "depth_head.4.weight",
      "depth_head.4.bias",
    ]);
    expect(keys.slice(0, 4)).toEqual([
      "cls_token",
      "pos_embed",
      "patch_embed.proj.weight",
      "patch_embed.proj.bias",
    ]);
    expect(keys.some((k) => k.startsWith("mlp_head"))).toBe(false);
    expect(m.stateDict().get("depth_head.0.weight")!.shape).toEqual([16, 8, 2, 2]);
    expect(m.stateDict().get("depth_head.4.weight")!.shape).toEqual([1, 4, 1, 1]);
    m.dispose();
  });

  it("DenseHead maps patch tokens on a rectangular grid to the requested size", () => {
    tidy(() => {
      const head = new SegmentationHead(16, 5);
      expect(head.forward(randn([2, 6, 16]), [2, 3], [9, 13]).shape).toEqual([2, 5, 9, 13]);
      expect(new DepthHead(16).forward(randn([1, 6, 16]), [3, 2], [12, 8]).shape).toEqual([1, 1, 12, 8]);
      expect(() => head.forward(randn([2, 5, 16]), [2, 3], [8, 12])).toThrow(
        "SegmentationHead: expected patch tokens [B,6,16] for a 2×3 grid, got [2,5,16]",
      );
      expect(() => new DenseHead(2, { outChannels: 1 })).toThrow(
        "DenseHead: dim must be an integer >= 4, got 2",
      );
      head.dispose();
    });
  });

  it("MiniViTDepth and MiniViTSegmentation return their encoder's attention maps on request", () => {
    tidy(() => {
      manualSeed(2);
      const depth = new MiniViTDepth({ ...TINY, imgSize: [8, 12] });
      const x = randn([2, 3, 8, 12]);
      const r = depth.forward(x, { returnAttention: true });
      expect(r.output.shape).toEqual([2, 1, 8, 12]);
      expect(r.attention.map((a) => a.shape)).toEqual([[2, 2, 7, 7]]);
      expect(maxAbsDiff(r.output, depth.forward(x))).toBeLessThan(1e-6);
      const seg = new MiniViTSegmentation({ ...TINY, numClasses: 4 });
      const s = seg.forward(randn([2, 3, 8, 8]), { returnAttention: [0] });
      expect(s.output.shape).toEqual([2, 4, 8, 8]);
      expect(s.attention).toHaveLength(1);
      depth.dispose();
      seg.dispose();
    });
  });

  it("the scale-invariant depth model predicts positive depths and its loss ignores a global scale (λ = 1)", () => {
    tidy(() => {
      manualSeed(4);
      const m = new MiniViTDepth({ ...TINY, loss: "scale-invariant", lambda: 1 });
      expect(m.outputActivation).toBe("softplus");
      const pred = m.forward(randn([2, 3, 8, 8]));
      expect(amin(pred).itemSync()).toBeGreaterThan(0);
      const target = rand([2, 1, 8, 8]).add(0.5);
      expect(m.loss(pred.mul(7.5), target).itemSync()).toBeCloseTo(m.loss(pred, target).itemSync(), 4);
      expect(() => new MiniViTDepth({ ...TINY }).loss(pred, target, target.gt(0))).toThrow(
        "MiniViTDepth: a mask is only supported with the 'scale-invariant' loss",
      );
      m.dispose();
    });
  });

  for (const backend of TEST_BACKENDS) {
    it(`MiniViTDepth trains a few steps with falling L1 and scale-invariant losses on ${backend}`, () => {
      for (const loss of ["l1", "scale-invariant"] as const) {
        manualSeed(9);
        const m = new MiniViTDepth({ ...TINY, loss });
        m.to(backend);
        // synthetic depth: a vertical ramp scaled by the image's mean brightness
        const losses = train(
          m,
          () => {
            const x = rand([8, 3, 8, 8], { backend });
            const rows = Array.from({ length: 8 }, (_, i) => 0.5 + i / 8);
            const ramp = tensor(rows, { shape: [1, 1, 8, 1], backend }); // [1,1,8,1] broadcast over columns
            const depth = x.mean([1, 2, 3], true).add(0.5).mul(ramp); // [8,1,8,1], depths in [0.5, 2]
            return [x, depth.expand(8, 1, 8, 8).contiguous()];
          },
          ([x, target]) => m.loss(m.forward(x!), target!),
          20,
          1e-2,
        );
        expect(losses.every(Number.isFinite)).toBe(true);
        expect(losses[losses.length - 1]!).toBeLessThan(losses[0]! * 0.5);
        m.dispose();
      }
    });

    it(`MiniViTSegmentation trains a few steps with falling cross entropy on ${backend}`, () => {
      manualSeed(13);
      const m = new MiniViTSegmentation({ ...TINY, numClasses: 3 });
      m.to(backend);
      // synthetic labels: class of a pixel = the channel with the largest mean over its 4×4 patch
      const losses = train(
        m,
        () => {
          const x = randn([6, 3, 8, 8], { backend });
          const patchMeans = interpolate(avgPool2d(x, 4), { size: 8, mode: "nearest" }); // [6,3,8,8]
          return [x, patchMeans.argmax(1)]; // [6,8,8] int32
        },
        ([x, labels]) => m.loss(m.forward(x!), labels!),
        20,
        1e-2,
      );
      expect(losses[losses.length - 1]!).toBeLessThan(losses[0]! * 0.5);
      m.dispose();
    });
  }

  it("segmentation cross entropy skips pixels labelled ignoreIndex", () => {
    tidy(() => {
      manualSeed(6);
      const m = new MiniViTSegmentation({ ...TINY, numClasses: 3, ignoreIndex: 255 });
      const logits = m.forward(randn([1, 3, 8, 8]));
      const labels = randint(0, 3, [1, 8, 8]);
      // ignoring the bottom half leaves the mean over the top half
      const half = cat([labels.slice(1, 0, 4), full([1, 4, 8], 255, { dtype: "int32" })], 1);
      const top = crossEntropy(logits.slice(2, 0, 4), labels.slice(1, 0, 4));
      expect(m.loss(logits, half).itemSync()).toBeCloseTo(top.itemSync(), 5);
      m.dispose();
    });
  });
});
