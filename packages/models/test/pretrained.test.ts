/**
 * loadPretrained / freezeBackbone with a tiny timm-format ViT written by PyTorch
 * (scripts/make-timm-vit.py → fixtures/timm_vit_tiny.safetensors; its metadata holds the torch
 * forward of test inputs): strict load, torch's forward reproduced, position embedding resampled
 * for a larger input, and transfer learning with a new 3-class head on a frozen backbone.
 */
import { readFileSync } from "node:fs";
import {
  crossEntropy,
  Generator,
  manualSeed,
  memory,
  randint,
  randn,
  setBackend,
  type Tensor,
  tensor,
  tidy,
} from "@tessera/core";
import { AdamW, loadSync, parseSafetensorsHeader } from "@tessera/nn";
import { describe, expect, it } from "vitest";
import { freezeBackbone, loadPretrained } from "../src/pretrained.js";
import { VisionTransformer } from "../src/vit.js";
import { TEST_BACKENDS } from "./support/backends.js";
import { FIXTURES_DIR } from "./support/torch-model.js";
import { train } from "./support/train.js";

const FILE = `${FIXTURES_DIR}timm_vit_tiny.safetensors`;
const bytes = new Uint8Array(readFileSync(FILE));
const meta = parseSafetensorsHeader(bytes).metadata as Record<string, string>;
const cfg = JSON.parse(meta.config!) as Record<string, number & number[]>;
const tol = JSON.parse(meta.tolerance!) as { rtol: number; atol: number };
const vec = (key: string, shape: number[], backend: string): Tensor =>
  tensor(new Float32Array(JSON.parse(meta[key]!) as number[]), { shape, backend });

const build = (imgSize: readonly [number, number], numClasses = cfg.num_classes) =>
  new VisionTransformer({
    layout: "timm",
    imgSize,
    patchSize: cfg.patch_size,
    inChannels: cfg.in_chans,
    embedDim: cfg.embed_dim,
    depth: cfg.depth,
    numHeads: cfg.num_heads,
    mlpDim: cfg.mlp_dim,
    numClasses,
  }).eval();

/** Every element within atol + rtol·|expected|; the message names the worst element. */
function expectClose(actual: Tensor, expected: Tensor, what: string): void {
  expect(actual.shape).toEqual(expected.shape);
  const a = actual.dataSync();
  const e = expected.dataSync();
  let worst = -1;
  let excess = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(Number(a[i]) - Number(e[i])) - (tol.atol + tol.rtol * Math.abs(Number(e[i])));
    if (d > excess) [worst, excess] = [i, d];
  }
  expect(
    worst,
    `${what}: element ${worst} is ${a[worst]}, torch ${e[worst]} (rtol ${tol.rtol}, atol ${tol.atol})`,
  ).toBe(-1);
}

describe.each(TEST_BACKENDS)("loadPretrained on %s", (backend) => {
  it("a timm-format checkpoint written by PyTorch loads strictly and reproduces torch's forward", async () => {
    setBackend(backend);
    const m = build(cfg.img_size as unknown as [number, number]);
    const before = memory().numTensors;
    const report = await loadPretrained(m, FILE);
    expect(memory().numTensors).toBe(before);
    expect(report.resetKeys).toEqual([]);
    expect(report.resampled).toBeNull();
    expect(report.unexpectedKeys).toEqual([]);
    expect(report.loadedKeys.sort()).toEqual([...m.stateDict().keys()].sort());
    tidy(() => {
      const x = vec("test_x", [2, 3, 16, 24], backend);
      const feats = m.forwardFeatures(x);
      expectClose(feats, vec("test_features", [2, 7, 32], backend), "features");
      expectClose(m.forwardHead(feats), vec("test_logits", [2, 5], backend), "logits");
    });
    m.dispose();
  });

  it("at a larger input the position embedding is resampled (2×3 → 3×4) as timm's bilinear resampling does", async () => {
    setBackend(backend);
    const m = build([24, 32]);
    const report = await loadPretrained(m, FILE);
    expect(report.resampled).toEqual({ key: "pos_embed", fromGrid: [2, 3], toGrid: [3, 4] });
    tidy(() => {
      const y = m.forward(vec("test_x_large", [2, 3, 24, 32], backend));
      expectClose(y, vec("test_logits_large", [2, 5], backend), "logits at 24×32");
    });
    m.dispose();
  });

  it("transfer learning: a new 3-class head on a frozen backbone trains, the backbone stays unchanged", async () => {
    setBackend(backend);
    manualSeed(21);
    const m = build([16, 24]).train();
    const report = await loadPretrained(m, FILE, { numClasses: 3 });
    expect(report.resetKeys).toEqual(["head.weight", "head.bias"]);
    expect(report.unexpectedKeys).toEqual(["head.bias", "head.weight"]); // the file's 5-class head
    expect(m.stateDict().get("head.weight")!.shape).toEqual([3, 32]);
    expect(freezeBackbone(m)).toEqual(["head.weight", "head.bias"]);
    expect(m.numParameters({ trainableOnly: true })).toBe(3 * 32 + 3);
    const backbone = [...m.stateDict()].filter(([k]) => !k.startsWith("head."));
    const snapshot = backbone.map(([k, t]) => [k, Float32Array.from(t.dataSync() as Float32Array)] as const);
    const headBefore = Float32Array.from(m.head.getParameter("weight")!.dataSync() as Float32Array);
    const gen = new Generator(3);
    const x = randn([12, 3, 16, 24], { generator: gen });
    const y = randint(0, 3, [12], { generator: gen });
    const opt = new AdamW(
      [...m.parameters()].filter((p) => p.requiresGrad),
      { lr: 0.05 },
    );
    const { losses, tensorsAfterFirst, tensorsAtEnd } = train(opt, 10, () => crossEntropy(m.forward(x), y));
    expect(tensorsAtEnd).toBe(tensorsAfterFirst);
    expect(losses.at(-1)!, losses.map((v) => v.toFixed(3)).join(" ")).toBeLessThan(0.8 * losses[0]!);
    for (const [k, data] of snapshot) {
      expect(m.stateDict().get(k)!.grad, k).toBeNull();
      expect(Array.from(m.stateDict().get(k)!.dataSync() as Float32Array), k).toEqual(Array.from(data));
    }
    expect(Array.from(m.head.getParameter("weight")!.dataSync() as Float32Array)).not.toEqual(
      Array.from(headBefore),
    );
    opt.dispose();
    for (const t of [x, y]) t.dispose();
    m.dispose();
  });
});

describe("loadPretrained inputs", () => {
  setBackend("js");

  it("a state dict without metadata and a non-square grid needs sourceGrid", async () => {
    const { tensors } = loadSync(FILE, { backend: "js" });
    const m = build([24, 32]);
    await expect(loadPretrained(m, tensors)).rejects.toThrow(
      "loadPretrained: the checkpoint's pos_embed has 6 patch positions, which is not a square grid; pass sourceGrid: [h, w]",
    );
    const withGrid = await loadPretrained(m, tensors, { sourceGrid: [2, 3] });
    expect(withGrid.resampled?.fromGrid).toEqual([2, 3]);
    const fromFile = build([24, 32]);
    await loadPretrained(fromFile, FILE);
    tidy(() => {
      const x = randn([1, 3, 24, 32]);
      expect(Array.from(m.forward(x).dataSync())).toEqual(Array.from(fromFile.forward(x).dataSync()));
    });
    for (const t of tensors.values()) t.dispose();
    m.dispose();
    fromFile.dispose();
  });

  it("unknown and missing keys are errors that name them", async () => {
    const { tensors } = loadSync(FILE, { backend: "js" });
    const m = build([16, 24]);
    const extra = new Map(tensors);
    extra.set("fc_norm.weight", tensors.get("norm.weight")!);
    await expect(loadPretrained(m, extra)).rejects.toThrow(
      "loadPretrained: the checkpoint has 'fc_norm.weight' [32], which the timm-layout model lacks (pass strict: false to skip it)",
    );
    expect((await loadPretrained(m, extra, { strict: false })).unexpectedKeys).toEqual(["fc_norm.weight"]);
    const lacking = new Map(tensors);
    lacking.delete("blocks.1.mlp.fc2.bias");
    await expect(loadPretrained(m, lacking)).rejects.toThrow(
      "loadPretrained: the checkpoint lacks 1 key(s) of the model: blocks.1.mlp.fc2.bias",
    );
    const seed = new VisionTransformer({
      imgSize: [16, 24],
      patchSize: 8,
      embedDim: 32,
      depth: 2,
      numHeads: 4,
    });
    await expect(loadPretrained(seed, tensors)).rejects.toThrow(/which the seed-layout model lacks/);
    for (const t of tensors.values()) t.dispose();
    m.dispose();
    seed.dispose();
  });
});

describe.skipIf(TEST_BACKENDS.length < 2)("resetClassifier after Module.to", () => {
  it("a new head is created on the backend the model was moved to", () => {
    setBackend("js");
    const model = new VisionTransformer({
      layout: "timm",
      imgSize: 16,
      patchSize: 8,
      embedDim: 16,
      depth: 1,
      numHeads: 2,
      numClasses: 5,
    });
    const other = TEST_BACKENDS.find((b) => b !== "js")!;
    model.to(other);
    model.resetClassifier(3);
    const keys = [...model.namedParameters()].filter(([k]) => k.startsWith("head."));
    expect(keys.map(([k, p]) => [k, p.shape, p.backendName])).toEqual([
      ["head.weight", [3, 16], other],
      ["head.bias", [3], other],
    ]);
    const y = tidy(() => model.forward(randn([1, 3, 16, 16], { backend: other })) as Tensor);
    expect(y.shape).toEqual([1, 3]);
    y.dispose();
    model.dispose();
  });
});
