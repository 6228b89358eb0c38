/**
 * The checkpoint file: one safetensors with `model.*`, `optim.*` and the training state in
 * `__metadata__`; weights-only files load as the model's keys; run directories resolve with errors
 * that say what to do.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import "@tessera/backend-js";
import { crossEntropy, defaultGenerator, manualSeed, randint, randn, setBackend } from "@tessera/core";
import { MiniViT } from "@tessera/models";
import { AdamW, load, save } from "@tessera/nn";
import { afterAll, describe, expect, it } from "vitest";
import { loadCheckpoint, resolveRun, saveCheckpoint, type TrainState } from "../src/checkpoint.js";
import { CliError } from "../src/errors.js";

const root = mkdtempSync(join(tmpdir(), "tessera-ckpt-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("checkpoint.safetensors", () => {
  it("holds model and optimizer tensors under prefixes and the state as JSON, and reads back the same", async () => {
    setBackend("js");
    manualSeed(1);
    const model = new MiniViT({
      imgSize: 8,
      patchSize: 4,
      inChannels: 1,
      dim: 8,
      heads: 2,
      depth: 1,
      mlpDim: 16,
      numClasses: 3,
    });
    const opt = new AdamW(model.parameters(), { lr: 1e-2 });
    const loss = crossEntropy(model.forward(randn([2, 1, 8, 8])), randint(0, 3, [2]));
    loss.backward();
    opt.step();
    loss.dispose();
    const { tensors, meta } = opt.stateDict();
    const state: TrainState = {
      format: "tessera-train-v1",
      epoch: 1,
      nextBatch: 37,
      step: 115,
      optimizer: meta,
      scheduler: { scheduler: "WarmupCosineLR", lastEpoch: 115, baseLrs: [0.01], lastLr: [0.005] },
      generator: defaultGenerator.getState(),
      sums: { loss: 12.5, count: 64, correct: 40 },
      partialSeconds: 3,
      partialDataSeconds: 0.1,
      history: [],
      stepLosses: [1.5, 1.25],
    };
    const path = join(root, "checkpoint.safetensors");
    await saveCheckpoint(path, model, tensors, state);

    const raw = await load(path);
    const keys = [...raw.tensors.keys()];
    for (const t of raw.tensors.values()) t.dispose();
    expect(keys).toContain("model.cls_token");
    expect(keys).toContain("model.mlp_head.1.weight");
    expect(keys.some((k) => k.startsWith("optim.state.0.exp_avg"))).toBe(true);
    expect(raw.metadata?.format).toBe("tessera-checkpoint-v1");

    const ck = await loadCheckpoint(path);
    expect(ck.state).toEqual(state);
    expect([...ck.model.keys()].sort()).toEqual([...model.stateDict().keys()].sort());
    expect(ck.optimizer.size).toBe(tensors.size);
    const w = model.stateDict().get("mlp_head.1.weight")?.dataSync();
    expect(ck.model.get("mlp_head.1.weight")?.dataSync()).toEqual(w);
    ck.dispose();
  });

  it("a weights-only file (model.safetensors, PyTorch keys) loads as model keys without state", async () => {
    setBackend("js");
    const model = new MiniViT({
      imgSize: 8,
      patchSize: 4,
      inChannels: 1,
      dim: 8,
      heads: 2,
      depth: 1,
      mlpDim: 16,
      numClasses: 3,
    });
    const path = join(root, "model.safetensors");
    await save(model, path, { metadata: { format: "pt" } });
    const ck = await loadCheckpoint(path);
    expect(ck.state).toBeUndefined();
    expect([...ck.model.keys()].sort()).toEqual([...model.stateDict().keys()].sort());
    ck.dispose();
  });

  it("a file that is not safetensors is a CliError naming it", async () => {
    const path = join(root, "junk.safetensors");
    writeFileSync(path, "junk");
    await expect(loadCheckpoint(path)).rejects.toThrow(CliError);
    await expect(loadCheckpoint(path)).rejects.toThrow(/cannot read checkpoint .*junk\.safetensors/);
  });
});

describe("resolveRun", () => {
  it("says what to do for a missing path, a directory without config.json, and one without weights", () => {
    expect(() => resolveRun(join(root, "nope"))).toThrow(/does not exist/);
    const empty = join(root, "empty");
    mkdirSync(empty);
    expect(() => resolveRun(empty)).toThrow(/has no config\.json/);
    const noWeights = join(root, "noweights");
    mkdirSync(noWeights);
    writeFileSync(join(noWeights, "config.json"), JSON.stringify({ task: "minivit" }));
    expect(() => resolveRun(noWeights)).toThrow(/has no checkpoint\.safetensors or model\.safetensors/);
  });
});
