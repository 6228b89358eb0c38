/**
 * The CUDA benchmark's workloads (issue 8), shared in shape and id with the PyTorch script
 * packages/bench/scripts/torch_cuda_bench.py so the two JSON files join on `id`:
 *
 *   gemm       C = A·B, [n, n] × [n, n] (n = 4096): float32, float32 with TF32, float16, bfloat16
 *   attention  softmax(q·kᵀ/√D)·v with q, k, v [B, H, S, D] (B 8, H 12, S 1024 and 4096, D 64),
 *              forward and forward + backward, float32 and bfloat16
 *   vit        a ViT-B/16 training step (timm layout: patch 16, D 768, 12 pre-norm GELU blocks,
 *              12 heads, MLP 3072, 224², 1000 classes; batch 64): forward, cross entropy, backward,
 *              AdamW; float32, and bfloat16 autocast (parameters and optimizer stay float32)
 *
 * FLOPs: 2n³ for a GEMM; 4·B·H·S²·D for attention's forward (its two products) and 2.5× that for
 * its backward; 3 × the forward's GEMM FLOPs for a training step.
 */

export type CaseDtype = "float32" | "tf32" | "float16" | "bfloat16";

export interface GemmCase {
  kind: "gemm";
  id: string;
  label: string;
  dtype: CaseDtype;
  n: number;
  flops: number;
}

export interface AttentionCase {
  kind: "attention";
  id: string;
  label: string;
  dtype: "float32" | "bfloat16";
  mode: "fwd" | "fwdbwd";
  b: number;
  h: number;
  s: number;
  d: number;
  flops: number;
}

export interface VitShape {
  imgSize: number;
  inChannels: number;
  patchSize: number;
  dim: number;
  depth: number;
  heads: number;
  mlpDim: number;
  numClasses: number;
}

export interface VitCase {
  kind: "vit";
  id: string;
  label: string;
  dtype: "float32" | "bfloat16";
  batch: number;
  model: VitShape;
  flops: number;
}

export type CudaCase = GemmCase | AttentionCase | VitCase;
export type CaseGroup = CudaCase["kind"];
export const GROUPS: readonly CaseGroup[] = ["gemm", "attention", "vit"];

export const VIT_B16: VitShape = {
  imgSize: 224,
  inChannels: 3,
  patchSize: 16,
  dim: 768,
  depth: 12,
  heads: 12,
  mlpDim: 3072,
  numClasses: 1000,
};

/** A ViT small enough for a CPU backend: proves the code path, measures nothing. */
export const VIT_TINY: VitShape = {
  imgSize: 32,
  inChannels: 3,
  patchSize: 16,
  dim: 64,
  depth: 2,
  heads: 2,
  mlpDim: 128,
  numClasses: 10,
};

export interface CudaBenchConfig {
  gemmN: number;
  attention: { b: number; h: number; seqs: readonly number[]; d: number };
  vitBatch: number;
  vit: VitShape;
}

export const FULL_CONFIG: CudaBenchConfig = {
  gemmN: 4096,
  attention: { b: 8, h: 12, seqs: [1024, 4096], d: 64 },
  vitBatch: 64,
  vit: VIT_B16,
};

/** `--small`: the same cases at sizes a CPU runs in seconds (must match the python script's). */
export const SMALL_CONFIG: CudaBenchConfig = {
  gemmN: 256,
  attention: { b: 1, h: 2, seqs: [64, 128], d: 16 },
  vitBatch: 2,
  vit: VIT_TINY,
};

const DTYPE_TAG: Record<CaseDtype, string> = {
  float32: "f32",
  tf32: "tf32",
  float16: "f16",
  bfloat16: "bf16",
};

/** Forward GEMM FLOPs per image: patch projection, per block four linears and two attention products, head. */
export function vitForwardFlops(s: VitShape): number {
  const grid = Math.floor(s.imgSize / s.patchSize) ** 2;
  const n = grid + 1;
  const patch = 2 * grid * s.inChannels * s.patchSize ** 2 * s.dim;
  const block = 2 * n * (4 * s.dim * s.dim + 2 * s.dim * s.mlpDim) + 4 * n * n * s.dim;
  return patch + s.depth * block + 2 * s.dim * s.numClasses;
}

function vitName(s: VitShape): string {
  const b16 = s.imgSize === 224 && s.patchSize === 16 && s.dim === 768 && s.depth === 12 && s.heads === 12;
  return b16 ? "vitb16" : `vit${s.imgSize}p${s.patchSize}d${s.dim}x${s.depth}`;
}

export function cudaCases(c: CudaBenchConfig): CudaCase[] {
  const cases: CudaCase[] = [];
  for (const dtype of ["float32", "tf32", "float16", "bfloat16"] as const) {
    const n = c.gemmN;
    cases.push({
      kind: "gemm",
      id: `gemm-${n}-${DTYPE_TAG[dtype]}`,
      label: `GEMM ${n}³ ${dtype === "tf32" ? "f32 (TF32)" : DTYPE_TAG[dtype]}`,
      dtype,
      n,
      flops: 2 * n ** 3,
    });
  }
  const { b, h, d } = c.attention;
  for (const s of c.attention.seqs) {
    for (const dtype of ["float32", "bfloat16"] as const) {
      for (const mode of ["fwd", "fwdbwd"] as const) {
        const fwd = 4 * b * h * s * s * d;
        cases.push({
          kind: "attention",
          id: `attn-b${b}h${h}s${s}d${d}-${DTYPE_TAG[dtype]}-${mode}`,
          label: `SDPA B${b} H${h} S${s} D${d} ${DTYPE_TAG[dtype]} ${mode === "fwd" ? "fwd" : "fwd+bwd"}`,
          dtype,
          mode,
          b,
          h,
          s,
          d,
          flops: mode === "fwd" ? fwd : fwd * 3.5,
        });
      }
    }
  }
  for (const dtype of ["float32", "bfloat16"] as const) {
    const name = vitName(c.vit);
    cases.push({
      kind: "vit",
      id: `${name}-train-b${c.vitBatch}-${DTYPE_TAG[dtype]}`,
      label: `${name === "vitb16" ? "ViT-B/16" : name} train step B${c.vitBatch} ${dtype === "float32" ? "f32" : "bf16 autocast"}`,
      dtype,
      batch: c.vitBatch,
      model: c.vit,
      flops: 3 * c.vitBatch * vitForwardFlops(c.vit),
    });
  }
  return cases;
}
