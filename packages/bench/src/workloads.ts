/**
 * The workloads `pnpm bench` times. Shapes are the ones the seed models hit: square SGEMMs from 256
 * to 2048, ViT attention, the memory-bound row ops (layer norm, softmax, GELU) on a [4096, 1024]
 * activation, a ResNet-stage 3×3 convolution, an MLP's and a ViT-Ti transformer block's
 * forward + backward; and whole models (model-workloads.ts): a MiniViT training step and ViT-B/16 inference.
 */

import { type ModelSpec, miniVitStepWorkload, vitInferenceWorkload } from "./model-workloads.js";

export type OpName =
  | "matmul"
  | "softmax"
  | "layerNorm"
  | "gelu"
  | "attention"
  | "conv2d"
  | "mlpGrad"
  | "blockGrad"
  | "miniVitStep"
  | "vitInference";

export const OP_NAMES: readonly OpName[] = [
  "matmul",
  "softmax",
  "layerNorm",
  "gelu",
  "attention",
  "conv2d",
  "mlpGrad",
  "blockGrad",
  "miniVitStep",
  "vitInference",
];

export interface Workload {
  /** Stable key used in JSON results and `--ops`. */
  id: string;
  op: OpName;
  /** What a reader sees in the table. */
  label: string;
  /** Input shapes in PyTorch layout (NCHW / OIHW for conv); a peer may transpose to its native layout. */
  shapes: Record<string, number[]>;
  /** Floating-point operations per run, for GFLOP/s (the GEMM-shaped work only). */
  flops?: number;
  /** Bytes read plus bytes written per run, for GB/s (memory-bound ops). */
  bytes?: number;
  /** conv2d: symmetric zero padding. */
  padding?: number;
  /** blockGrad: attention heads. */
  heads?: number;
  /**
   * A runner whose single run takes longer than this is not timed: the case is reported as skipped
   * with the time it took (or would take, estimated from the runner's GFLOP/s on an earlier
   * workload of op `rateFrom`), so a slow peer does not hold the bench up for minutes.
   */
  maxRunMs?: number;
  /** The op whose measured GFLOP/s estimates this workload's run time (default: its own op). */
  rateFrom?: OpName;
  /** Overrides of the bench's timing for this workload (e.g. fewer runs of a many-second case). */
  timing?: { minRuns?: number };
  /** miniVitStep / vitInference: the model's shape. */
  model?: ModelSpec;
}

const F32 = 4;

/** C = A·B, all [n, n] float32 (an SGEMM). */
export function matmulWorkload(n: number, maxRunMs?: number): Workload {
  return {
    id: `matmul-${n}`,
    op: "matmul",
    label: `matmul ${n}×${n}×${n}`,
    shapes: { a: [n, n], b: [n, n] },
    flops: 2 * n * n * n,
    ...(maxRunMs ? { maxRunMs } : {}),
  };
}

/** softmax over the last dim; reads x, writes y. */
export function softmaxWorkload(rows: number, cols: number): Workload {
  return {
    id: `softmax-${rows}x${cols}`,
    op: "softmax",
    label: `softmax [${rows},${cols}] dim -1`,
    shapes: { x: [rows, cols] },
    bytes: 2 * rows * cols * F32,
  };
}

/** layerNorm over the last dim with weight and bias; reads x (and the [cols] affine), writes y. */
export function layerNormWorkload(rows: number, cols: number): Workload {
  return {
    id: `layernorm-${rows}x${cols}`,
    op: "layerNorm",
    label: `layerNorm [${rows},${cols}]`,
    shapes: { x: [rows, cols], weight: [cols], bias: [cols] },
    bytes: (2 * rows * cols + 2 * cols) * F32,
  };
}

/** Exact (erf) GELU; reads x, writes y. */
export function geluWorkload(rows: number, cols: number): Workload {
  return {
    id: `gelu-${rows}x${cols}`,
    op: "gelu",
    label: `gelu [${rows},${cols}]`,
    shapes: { x: [rows, cols] },
    bytes: 2 * rows * cols * F32,
  };
}

/**
 * Scaled dot-product attention forward, softmax(q·kᵀ/√d)·v, with the heads folded into the batch:
 * q, k, v [batch·heads, seq, d]. FLOPs count the two GEMMs (4·B·S²·D); the softmax is extra work.
 */
export function attentionWorkload(
  bh: number,
  seq: number,
  d: number,
  maxRunMs?: number,
  minRuns?: number,
): Workload {
  return {
    id: `attention-${bh}x${seq}x${d}`,
    op: "attention",
    label: `attention [${bh},${seq},${d}]`,
    shapes: { q: [bh, seq, d], k: [bh, seq, d], v: [bh, seq, d] },
    flops: 4 * bh * seq * seq * d,
    rateFrom: "matmul",
    ...(maxRunMs ? { maxRunMs } : {}),
    ...(minRuns ? { timing: { minRuns } } : {}),
  };
}

export function conv2dWorkload(
  n: number,
  c: number,
  hw: number,
  o: number,
  k: number,
  padding: number,
): Workload {
  const out = hw + 2 * padding - k + 1;
  return {
    id: `conv2d-${n}x${c}x${hw}x${hw}-k${k}`,
    op: "conv2d",
    label: `conv2d [${n},${c},${hw},${hw}]*[${o},${c},${k},${k}] p${padding}`,
    shapes: { x: [n, c, hw, hw], w: [o, c, k, k] },
    flops: 2 * n * o * out * out * c * k * k,
    padding,
  };
}

/**
 * A training step's backward: gradients of loss = mean((relu(x·w1ᵀ)·w2ᵀ)²) w.r.t. w1 and w2, for a
 * ViT-MLP-shaped layer pair (the output compared across runners is d loss / d w1). Forward is two
 * matmuls, backward three more (x needs no gradient), plus the elementwise work.
 */
export function mlpGradWorkload(n: number, d: number, hidden: number): Workload {
  return {
    id: `mlp-grad-${n}x${d}x${hidden}`,
    op: "mlpGrad",
    label: `MLP fwd+bwd x[${n},${d}] w1[${hidden},${d}] w2[${d},${hidden}]`,
    shapes: { x: [n, d], w1: [hidden, d], w2: [d, hidden] },
    flops: 5 * 2 * n * d * hidden,
  };
}

/**
 * A pre-norm transformer block's forward and backward (ViT encoder layer, MLP ratio 4, exact GELU):
 *   h = x + proj(attention(split_heads(qkv(LN1(x)))));  y = h + fc2(gelu(fc1(LN2(h))))
 * loss = mean(y²), differentiated w.r.t. all twelve parameters (the output compared across runners
 * is d loss / d wqkv). FLOPs: the forward's GEMMs (four linears, two attention products) × 3, since
 * backward does two GEMMs per forward GEMM (x needs no gradient, but every layer's input does).
 */
export function blockGradWorkload(
  batch: number,
  seq: number,
  dim: number,
  heads: number,
  maxRunMs?: number,
  minRuns?: number,
): Workload {
  const hidden = 4 * dim;
  const tokens = batch * seq;
  const forward = 2 * tokens * dim * (3 * dim + dim + 2 * hidden) + 4 * batch * seq * seq * dim; // linears + attention
  return {
    id: `block-grad-${batch}x${seq}x${dim}h${heads}`,
    op: "blockGrad",
    label: `block fwd+bwd x[${batch},${seq},${dim}] h${heads}`,
    shapes: {
      x: [batch, seq, dim],
      ln1w: [dim],
      ln1b: [dim],
      wqkv: [3 * dim, dim],
      bqkv: [3 * dim],
      wproj: [dim, dim],
      bproj: [dim],
      ln2w: [dim],
      ln2b: [dim],
      w1: [hidden, dim],
      b1: [hidden],
      w2: [dim, hidden],
      b2: [dim],
    },
    flops: 3 * forward,
    heads,
    ...(maxRunMs ? { maxRunMs } : {}),
    ...(minRuns ? { timing: { minRuns } } : {}),
  };
}

/**
 * The default set. matmul 2048³ and the attention (17 GFLOP each) take seconds per run in pure JS
 * and tens of seconds on tfjs-cpu, so a runner is skipped there past `maxRunMs` (the table says
 * so). The attention, which backend-js still runs (over 10 s a run on a busy 2-core machine), and
 * the transformer block (4 s on js, 7 s on tfjs-wasm, 28 s on tfjs-cpu, which is skipped) are timed
 * twice after one warm-up rather than three times. The convolution is a ResNet stage-1 layer at batch 8 (1.85
 * GFLOP per run).
 */
export const WORKLOADS: readonly Workload[] = [
  matmulWorkload(256),
  matmulWorkload(512),
  matmulWorkload(1024),
  matmulWorkload(2048, 3000),
  attentionWorkload(64, 1024, 64, 20_000, 2),
  layerNormWorkload(4096, 1024),
  softmaxWorkload(4096, 1024),
  geluWorkload(4096, 1024),
  conv2dWorkload(8, 64, 56, 64, 3, 1),
  mlpGradWorkload(128, 384, 1536),
  blockGradWorkload(8, 197, 192, 3, 15_000, 2),
  // Issue 6: the MiniViT (1×28×28, patch 4, D 128, 6 layers, 4 heads, MLP 512) training step at
  // batch 128 with AdamW, and ViT-B/16 inference at batch 8; a runner whose single ViT-B/16 run
  // exceeds 20 s (backend-js) is reported skipped with that run's time.
  miniVitStepWorkload(128, {}, 60_000),
  vitInferenceWorkload(8, {}, 20_000, 2),
];

/** Tiny versions of every workload, for tests and `--smoke`. */
export const SMOKE_WORKLOADS: readonly Workload[] = [
  matmulWorkload(16),
  attentionWorkload(4, 16, 8),
  layerNormWorkload(8, 32),
  softmaxWorkload(8, 32),
  geluWorkload(8, 32),
  conv2dWorkload(2, 3, 8, 4, 3, 1),
  mlpGradWorkload(4, 8, 16),
  blockGradWorkload(2, 5, 12, 3),
  miniVitStepWorkload(2, { imgSize: 8, dim: 16, depth: 1, heads: 2, mlpDim: 32 }),
  vitInferenceWorkload(1, { imgSize: 32, dim: 16, depth: 1, heads: 2, mlpDim: 32, numClasses: 10 }),
];
