/**
 * The contract between this package and the addon in `native/`: dtype codes, the view table and,
 * per kernel (core's PRIMITIVE_KERNELS and ALL_FUSED_KERNELS, by the same names), the order of views and attributes `execute` receives. The C++ side registers kernels
 * by these names (`TESSERA_KERNEL(name)`); the codes are looked up by name in `info().ops` at load.
 *
 * View table (Float64Array): [count, then per view: storageId, dtypeCode, rank, offset, ...shape,
 * ...strides]; storageId 0 marks an absent optional view (rank 0). Strides are in elements.
 *
 * Kernels, as `name: views | attrs` (outputs last among the views; `?` = optional, may be absent).
 * Views are contiguous unless marked "strided". Half-precision (float16/bfloat16) views reach only
 * copy, fill, where and gather, plus, on the cuda device, the kernels its `info().halfOps` lists:
 * the TypeScript side computes everything else in float32 temporaries. The cuda device takes the same
 * views and attributes; its views point at device memory.
 *
 * - copy: src (strided), dst (strided) | — ; any dtype pair, same shape; float→int truncates, →bool is x != 0
 * - fill: dst (strided) | value
 * - random: dst (float32 or int32) | kind (0 uniform, 1 normal, 2 bernoulli, 3 randint), p1, p2, key0, key1, counter
 *     uniform: p1 = low, p2 = high; normal: mean, std; bernoulli: p, 0; randint: low, high
 * - unary: x (strided), out (strided) | op index in UNARY_OPS
 * - binary: a (strided), b (strided), out (strided) | op index in BINARY_OPS
 * - where: cond (strided, bool), a (strided), b (strided), out (strided) | —
 * - reduce: x, out | op index in REDUCE_OPS, ...axes (sorted)
 * - matmul: a, b, out | transA (0/1), transB (0/1); batch dims broadcast as in Backend.matmul
 * - gather: x, index (int32), out | dim
 * - scatterAdd: dst, index (int32), src | dim (dst updated in place)
 * - softmax, logSoftmax: x, out | dim
 * - softmaxBackward, logSoftmaxBackward: y, dy, dx | dim
 * - layerNorm: x, weight?, bias?, out | normalizedSize, eps
 * - layerNormBackward: x, weight?, dy, dx, dweight?, dbias? | normalizedSize, eps
 * - gelu: x, out | approximate (0 'none', 1 'tanh')
 * - geluBackward: x, dy, dx | approximate
 * - attention: q, k, v, mask?, out, weights? | scale, causal (0/1)
 * - attentionBackward: q, k, v, mask?, dout, dq, dk, dv, dmask? | scale, causal
 * - conv2d: x, w, bias?, out | strideH, strideW, padH, padW, dilationH, dilationW, groups
 * - convTranspose2d: x, w, bias?, out | strideH, strideW, padH, padW, dilationH, dilationW, groups,
 *     outputPaddingH, outputPaddingW
 * - maxPool2d, avgPool2d: x, out | kernelH, kernelW, strideH, strideW, padH, padW, dilationH,
 *     dilationW, ceilMode (0/1), countIncludePad (0/1)
 * - adaptiveAvgPool2d: x, out | —
 * - interpolate: x, out | mode (0 nearest, 1 bilinear), alignCorners (0/1), scaleH, scaleW
 * - crossEntropy: logits, target (int32), weight?, out | ignoreIndex, labelSmoothing,
 *     reduction (0 none, 1 mean, 2 sum)
 * - adamUpdate: param, grad, m, v (all float32, updated in place) | lr, beta1, beta2, eps,
 *     weightDecay, decoupled (0/1), step
 */
import type { DType } from "@tessera/core";

export const DTYPE_CODES: Readonly<Record<DType, number>> = {
  float32: 0,
  float64: 1,
  int32: 2,
  bool: 3,
  float16: 4,
  bfloat16: 5,
};

export const RANDOM_KINDS = { uniform: 0, normal: 1, bernoulli: 2, randint: 3 } as const;
export const REDUCTIONS = { none: 0, mean: 1, sum: 2 } as const;

/** What every device of the addon offers (the cpu device's functions are the addon's own exports). */
export interface DeviceAddon {
  allocate(dtype: number, size: number): number;
  free(id: number): boolean;
  upload(id: number, values: ArrayBufferView, offset: number): void;
  readSync(id: number, offset: number, size: number): ArrayBuffer;
  read(id: number, offset: number, size: number): Promise<ArrayBuffer>;
  execute(op: number, views: Float64Array, attrs: Float64Array): void;
  synchronize(): Promise<void>;
  /**
   * Live storages and their bytes, V8's external-memory total after the addon's last adjustment, and
   * the bytes of freed blocks kept for reuse.
   */
  memory(): {
    handles: number;
    bytes: number;
    v8External: number;
    cachedBytes: number;
    reservedBytes: number;
  };
  /** Frees the blocks kept for reuse. */
  emptyCache(): void;
}

/** The addon's exports (native/src/addon.cc): the cpu device's functions, plus the cuda device. */
export interface Addon extends DeviceAddon {
  info(): AddonInfo;
  setNumThreads(n: number): number;
  fmaPeak(threads: number, seconds: number): number;
  /** Whether this binary has a cuda device and whether it can run here; never throws. */
  cudaStatus(): CudaStatus;
  /** The cuda device (created on the first call, which initialises CUDA); throws with the reason when unavailable. */
  cuda(): CudaAddon;
}

export interface CudaStatus {
  /** The binary was compiled with the cuda device. */
  built: boolean;
  available: boolean;
  reason?: string;
  /** Machine code and PTX the binary carries, e.g. "sm_80 sm_90 compute_90". */
  architectures: string;
  runtimeVersion?: number;
  driverVersion?: number;
  deviceName?: string;
  computeCapability?: string;
  multiprocessors?: number;
  totalMemory?: number;
}

export interface CudaAddon extends DeviceAddon {
  info(): CudaInfo;
  /** Lets float32 matmuls use TF32 tensor cores (default off; TESSERA_CUDA_TF32=1). */
  setTf32(on: boolean): void;
}

export interface CudaInfo extends CudaStatus {
  version: string;
  ops: string[];
  /** Kernels that take float16/bfloat16 views themselves (no float32 round trip). */
  halfOps: string[];
}

export interface AddonInfo {
  version: string;
  isa: "avx512" | "avx2" | "generic";
  threads: number;
  cpuFeatures: Record<string, boolean>;
  ops: string[];
  compiler: string;
  sanitized: boolean;
}
