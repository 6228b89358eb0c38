/**
 * Whole-model workloads (issue 6): a MiniViT training step and ViT-B/16 inference, built from
 * `@tessera/models` and `@tessera/nn` on the runner's backend with seeded weights (so every Tessera
 * runner computes the same numbers and the outputs cross-check).
 *
 *   miniVitStep:   x [B,1,28,28] → MiniViT (patch 4, D 128, 6 post-norm ReLU layers, 4 heads, MLP 512)
 *                  → logits [B,10] → cross entropy → backward → AdamW step; the output is the loss.
 *   vitInference:  x [B,3,224,224] → Conv2d 16/16 → [B,196,768] → [cls; ·] + pos [B,197,768]
 *                  → 12 pre-norm Blocks (12 heads, MLP 3072, GELU, LN eps 1e-6) → LN → token 0
 *                  → head [B,1000]; forward only, under noGrad.
 */

import { noGrad } from "@tessera/autograd";
import { crossEntropy, Generator, randint, type Tensor, tidy, withBackend } from "@tessera/core";
import { MiniViT, VisionTransformer } from "@tessera/models";
import { AdamW } from "@tessera/nn";

/** MiniViT's shape (the `fashion-mnist` preset of `MiniViT` at full size). */
export interface MiniViTSpec {
  kind: "miniVitStep";
  imgSize: number;
  inChannels: number;
  patchSize: number;
  dim: number;
  depth: number;
  heads: number;
  mlpDim: number;
  numClasses: number;
}

/** A timm-layout ViT (ViT-B/16 at full size). */
export interface ViTSpec {
  kind: "vitInference";
  imgSize: number;
  inChannels: number;
  patchSize: number;
  dim: number;
  depth: number;
  heads: number;
  mlpDim: number;
  numClasses: number;
}

export type ModelSpec = MiniViTSpec | ViTSpec;

/** The model workloads' ops. */
export const MODEL_OPS = ["miniVitStep", "vitInference"] as const;

const SEED = 1234;

/** Forward FLOPs per image of a ViT-shaped encoder: patch projection, per layer the four linears and the two attention products, head. */
function vitForwardFlops(s: ModelSpec): number {
  const grid = Math.floor(s.imgSize / s.patchSize) ** 2;
  const n = grid + 1;
  const patch = 2 * grid * s.inChannels * s.patchSize ** 2 * s.dim;
  const layer = 2 * n * (4 * s.dim * s.dim + 2 * s.dim * s.mlpDim) + 4 * n * n * s.dim;
  return patch + s.depth * layer + 2 * s.dim * s.numClasses;
}

/**
 * One training step of the MiniViT: forward, cross entropy, backward, AdamW. FLOPs: 3 × forward.
 */
export function miniVitStepWorkload(
  batch: number,
  spec: Partial<Omit<MiniViTSpec, "kind">> = {},
  maxRunMs?: number,
) {
  const s: MiniViTSpec = {
    kind: "miniVitStep",
    imgSize: 28,
    inChannels: 1,
    patchSize: 4,
    dim: 128,
    depth: 6,
    heads: 4,
    mlpDim: 512,
    numClasses: 10,
    ...spec,
  };
  return {
    id: `minivit-step-b${batch}-${s.imgSize}p${s.patchSize}d${s.dim}x${s.depth}`,
    op: "miniVitStep" as const,
    label: `MiniViT train step B${batch} ${s.inChannels}×${s.imgSize}² p${s.patchSize} D${s.dim} L${s.depth}`,
    shapes: { x: [batch, s.inChannels, s.imgSize, s.imgSize] },
    flops: 3 * batch * vitForwardFlops(s),
    model: s,
    ...(maxRunMs ? { maxRunMs } : {}),
  };
}

/** ViT forward at inference (noGrad). A run over `maxRunMs` is reported skipped with its time. */
export function vitInferenceWorkload(
  batch: number,
  spec: Partial<Omit<ViTSpec, "kind">> = {},
  maxRunMs?: number,
  minRuns?: number,
) {
  const s: ViTSpec = {
    kind: "vitInference",
    imgSize: 224,
    inChannels: 3,
    patchSize: 16,
    dim: 768,
    depth: 12,
    heads: 12,
    mlpDim: 3072,
    numClasses: 1000,
    ...spec,
  };
  return {
    id: `vit-infer-b${batch}-${s.imgSize}p${s.patchSize}d${s.dim}x${s.depth}`,
    op: "vitInference" as const,
    label: `ViT${s.dim === 768 && s.depth === 12 && s.patchSize === 16 ? "-B/16" : ""} infer B${batch} ${s.inChannels}×${s.imgSize}² p${s.patchSize} D${s.dim} L${s.depth}`,
    shapes: { x: [batch, s.inChannels, s.imgSize, s.imgSize] },
    flops: batch * vitForwardFlops(s),
    model: s,
    ...(maxRunMs ? { maxRunMs } : {}),
    ...(minRuns ? { timing: { minRuns } } : {}),
  };
}

/** The workload's ViT: the zoo's `VisionTransformer` in timm's layout (ViT-B/16 at full size). */
export function benchViT(spec: ViTSpec, generator?: Generator): VisionTransformer {
  return new VisionTransformer({
    layout: "timm",
    imgSize: spec.imgSize,
    inChannels: spec.inChannels,
    patchSize: spec.patchSize,
    embedDim: spec.dim,
    depth: spec.depth,
    numHeads: spec.heads,
    mlpDim: spec.mlpDim,
    numClasses: spec.numClasses,
    generator,
  });
}

/** A workload's computation plus what it allocated beyond its inputs. */
export type ModelCompute = (() => Tensor) & { dispose(): void };

/**
 * Builds the workload's model on the backend of `x` (seeded: the same weights on every runner) and
 * returns one step (or forward) as a function returning the loss (or logits).
 */
export function modelCompute(spec: ModelSpec, x: Tensor): ModelCompute {
  const backend = x.backendName;
  const generator = new Generator(SEED);
  const batch = x.shape[0]!;
  return withBackend(backend, () => {
    if (spec.kind === "vitInference") {
      const model = benchViT(spec, generator);
      model.eval();
      const fn = () => withBackend(backend, () => noGrad(() => model.forward(x)));
      return Object.assign(fn, { dispose: () => model.dispose() });
    }
    const model = new MiniViT({
      imgSize: spec.imgSize,
      inChannels: spec.inChannels,
      patchSize: spec.patchSize,
      dim: spec.dim,
      depth: spec.depth,
      heads: spec.heads,
      mlpDim: spec.mlpDim,
      numClasses: spec.numClasses,
      dropout: 0,
      generator,
    });
    model.train();
    const labels = randint(0, spec.numClasses, [batch], { dtype: "int32", generator }).keep();
    const opt = new AdamW([...model.parameters()], { lr: 1e-3 });
    const fn = () =>
      withBackend(backend, () => {
        opt.zeroGrad();
        const loss = tidy(() => crossEntropy(model.forward(x), labels));
        loss.backward();
        opt.step();
        return loss;
      });
    return Object.assign(fn, {
      dispose: () => {
        opt.zeroGrad();
        opt.dispose();
        labels.dispose();
        model.dispose();
      },
    });
  });
}
