/**
 * The workloads `pnpm bench` times. Shapes are the ones the seed models hit: ViT-sized matmuls,
 * attention-row softmax, the LayerNorm of a [tokens, 768] activation, a ResNet-stage 3×3 convolution.
 */

export type OpName = "matmul" | "softmax" | "layerNorm" | "conv2d" | "mlpGrad";

export interface Workload {
  /** Stable key used in JSON results and `--only`. */
  id: string;
  op: OpName;
  /** What a reader sees in the table. */
  label: string;
  /** Input shapes in PyTorch layout (NCHW / OIHW for conv); a peer may transpose to its native layout. */
  shapes: Record<string, number[]>;
  /** Floating-point operations per run, for GFLOP/s (matmul and conv only). */
  flops?: number;
  /** conv2d: symmetric zero padding. */
  padding?: number;
}

export function matmulWorkload(n: number): Workload {
  return {
    id: `matmul-${n}`,
    op: "matmul",
    label: `matmul ${n}×${n}×${n}`,
    shapes: { a: [n, n], b: [n, n] },
    flops: 2 * n * n * n,
  };
}

export function softmaxWorkload(rows: number, cols: number): Workload {
  return {
    id: `softmax-${rows}x${cols}`,
    op: "softmax",
    label: `softmax [${rows},${cols}] dim -1`,
    shapes: { x: [rows, cols] },
  };
}

export function layerNormWorkload(rows: number, cols: number): Workload {
  return {
    id: `layernorm-${rows}x${cols}`,
    op: "layerNorm",
    label: `layerNorm [${rows},${cols}]`,
    shapes: { x: [rows, cols], weight: [cols], bias: [cols] },
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
 * The default set. The convolution is a ResNet stage-1 layer at batch 8 (1.85 GFLOP per run):
 * slow enough in pure JS (seconds per run) that the bench keeps to the median of a few runs.
 */
export const WORKLOADS: readonly Workload[] = [
  matmulWorkload(256),
  matmulWorkload(512),
  matmulWorkload(1024),
  softmaxWorkload(1024, 1024),
  layerNormWorkload(4096, 768),
  conv2dWorkload(8, 64, 56, 64, 3, 1),
  mlpGradWorkload(128, 384, 1536),
];

/** Tiny versions of every workload, for tests and `--smoke`. */
export const SMOKE_WORKLOADS: readonly Workload[] = [
  matmulWorkload(16),
  softmaxWorkload(8, 32),
  layerNormWorkload(8, 32),
  conv2dWorkload(2, 3, 8, 4, 3, 1),
  mlpGradWorkload(4, 8, 16),
];
