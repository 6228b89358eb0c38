import "@tessera/backend-js";
import { memory, randn, withBackend } from "@tessera/core";
import { describe, expect, it } from "vitest";
import {
  benchViT,
  MODEL_OPS,
  miniVitStepWorkload,
  modelCompute,
  vitInferenceWorkload,
} from "../src/model-workloads.js";
import { WORKLOADS } from "../src/workloads.js";

describe("model workloads", () => {
  it("pnpm bench times the MiniViT step at batch 128 and ViT-B/16 inference at batch 8", () => {
    const ops = WORKLOADS.filter((w) => (MODEL_OPS as readonly string[]).includes(w.op));
    const mini = ops.find((w) => w.op === "miniVitStep")!;
    const vit = ops.find((w) => w.op === "vitInference")!;
    expect(mini.shapes.x).toEqual([128, 1, 28, 28]);
    expect(mini.model).toMatchObject({
      patchSize: 4,
      dim: 128,
      depth: 6,
      heads: 4,
      mlpDim: 512,
      numClasses: 10,
    });
    expect(vit.shapes.x).toEqual([8, 3, 224, 224]);
    expect(vit.model).toMatchObject({
      patchSize: 16,
      dim: 768,
      depth: 12,
      heads: 12,
      mlpDim: 3072,
      numClasses: 1000,
    });
    expect(vit.label).toContain("ViT-B/16");
  });

  it("counts ViT-B/16's 17.6 GMAC per image and the MiniViT step as three forwards", () => {
    const vit = vitInferenceWorkload(1);
    expect(vit.flops / 2 / 1e9).toBeCloseTo(17.56, 1);
    // MiniViT per image: patch conv 49·16·128 MACs, 6 layers × (50·(4·128² + 2·128·512) + 2·50²·128), head 128·10.
    const perImage =
      2 * (49 * 16 * 128 + 6 * (50 * (4 * 128 * 128 + 2 * 128 * 512) + 2 * 50 * 50 * 128) + 1280);
    expect(miniVitStepWorkload(128).flops).toBe(3 * 128 * perImage);
  });

  it("builds ViT-B/16 in timm's layout with its 86.6M parameters", () => {
    const spec = vitInferenceWorkload(1).model;
    // Only the shapes matter here: a depth-1 model's count extrapolates to 12 blocks.
    const one = benchViT({ ...spec, depth: 1 });
    const two = benchViT({ ...spec, depth: 2 });
    const perBlock = two.numParameters() - one.numParameters();
    expect(one.numParameters() + 11 * perBlock).toBe(86_567_656);
    expect([...one.stateDict().keys()]).toEqual(
      expect.arrayContaining([
        "patch_embed.proj.weight",
        "cls_token",
        "pos_embed",
        "blocks.0.attn.qkv.weight",
        "norm.bias",
        "head.weight",
      ]),
    );
    one.dispose();
    two.dispose();
  });

  it("a MiniViT training step lowers the loss and frees everything it allocated", async () => {
    const w = miniVitStepWorkload(8, { imgSize: 8, dim: 16, depth: 1, heads: 2, mlpDim: 32 });
    const live = memory().numTensors;
    const x = withBackend("js", () => randn(w.shapes.x!));
    const step = modelCompute(w.model, x);
    const losses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const loss = step();
      losses.push((await loss.data())[0]!);
      loss.dispose();
    }
    step.dispose();
    x.dispose();
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
    expect(memory().numTensors).toBe(live);
  });
});
