/**
 * The Backend contract (DESIGN §3). A backend owns storage and runs kernels; it never sees scopes
 * or Tensor objects, nor gradients except as views of the optional backward kernels. Core validates
 * every argument before a call, so a backend may assume well-formed input.
 *
 * Conventions every kernel follows:
 * - A `View` describes a tensor: storage handle, dtype, shape, element strides and element offset.
 * - Elementwise primitives (`unary`, `binary`, `where`, `copy`) take views of the output's shape
 *   with arbitrary strides; stride 0 encodes broadcasting. Core expands operands before the call.
 * - Every other kernel receives **contiguous** inputs (row-major strides, any offset); core makes
 *   non-contiguous inputs contiguous first.
 * - Outputs are fresh contiguous views with offset 0, allocated by core, and written in full.
 * - float16/bfloat16 views hold 16-bit patterns; a backend without half arithmetic decodes to f32,
 *   computes and encodes the result.
 */
import type { DType, StorageArray } from "./dtype.js";

/** Opaque storage handle minted by a backend's `allocate`. */
export interface DataId {
  readonly __dataId: unique symbol;
}

export interface View {
  readonly id: DataId;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
}

// ---- primitive op tables -------------------------------------------------------------------

/** Unary elementwise ops. Output dtype equals input dtype except the `is*` predicates (bool). */
export const UNARY_OPS = [
  "neg",
  "abs",
  "exp",
  "log",
  "log1p",
  "expm1",
  "sqrt",
  "rsqrt",
  "reciprocal",
  "sin",
  "cos",
  "tanh",
  "sigmoid",
  "relu",
  "erf",
  "sign",
  "floor",
  "ceil",
  "round",
  "logicalNot",
  "isnan",
] as const;
export type UnaryOp = (typeof UNARY_OPS)[number];

/**
 * Binary elementwise ops on operands of one dtype. Comparisons and logical ops write bool;
 * the rest write the operand dtype. `div` on int32 is true division only after core casts to float;
 * `floorDiv`/`mod` follow Python (sign of the divisor).
 */
export const BINARY_OPS = [
  "add",
  "sub",
  "mul",
  "div",
  "pow",
  "maximum",
  "minimum",
  "eq",
  "ne",
  "lt",
  "le",
  "gt",
  "ge",
  "logicalAnd",
  "logicalOr",
] as const;
export type BinaryOp = (typeof BINARY_OPS)[number];

export const COMPARE_OPS: ReadonlySet<BinaryOp> = new Set([
  "eq",
  "ne",
  "lt",
  "le",
  "gt",
  "ge",
  "logicalAnd",
  "logicalOr",
]);

/** Reductions over a sorted set of axes. `argmax`/`argmin` take exactly one axis and write int32. */
export const REDUCE_OPS = ["sum", "prod", "max", "min", "argmax", "argmin"] as const;
export type ReduceOp = (typeof REDUCE_OPS)[number];

export type RandomDistribution =
  | { kind: "uniform"; low: number; high: number }
  | { kind: "normal"; mean: number; std: number }
  | { kind: "bernoulli"; p: number }
  | { kind: "randint"; low: number; high: number };

/** A position in the counter-based stream: Philox key (two u32) and the first 128-bit block index. */
export interface RandomState {
  readonly key: readonly [number, number];
  readonly counter: number;
}

// ---- fused kernels (optional; core has a composite for each) ----------------------------------

export interface ConvAttrs {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
}

export interface ConvTransposeAttrs extends ConvAttrs {
  outputPadding: [number, number];
}

export interface PoolAttrs {
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  ceilMode: boolean;
  /** avgPool only: include padded zeros in the divisor (PyTorch's default). */
  countIncludePad: boolean;
}

export interface InterpolateAttrs {
  mode: "nearest" | "bilinear";
  alignCorners: boolean;
  /** Source-per-destination scale per spatial dim, as PyTorch computes it (in/out, or 1/scale_factor). */
  scale: [number, number];
}

export interface AttentionAttrs {
  scale: number;
  causal: boolean;
}

export interface CrossEntropyAttrs {
  ignoreIndex: number;
  labelSmoothing: number;
  reduction: "none" | "mean" | "sum";
}

export interface AdamAttrs {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** true: AdamW (decoupled decay); false: L2 added to the gradient. */
  decoupled: boolean;
  /** 1-based step count after this update. */
  step: number;
}

/**
 * Fused kernels, each with a composite fallback in core. Shapes are checked by core.
 * - softmax/logSoftmax: over `dim` of x; out like x.
 * - layerNorm: normalises the trailing `normalizedSize` elements; weight/bias have that many elements.
 * - gelu: `approximate` 'none' (erf) or 'tanh'.
 * - attention: q [B,Sq,D], k [B,Sk,D], v [B,Sk,Dv], mask null or [B,Sq,Sk] float (added to logits,
 *   -Inf masks); out [B,Sq,Dv]; weights null or [B,Sq,Sk] (post-softmax).
 * - conv2d: x [N,C,H,W], w [O,C/g,kh,kw], bias [O] or null; out [N,O,Ho,Wo].
 * - convTranspose2d: x [N,C,H,W], w [C,O/g,kh,kw], bias [O] or null.
 * - maxPool2d/avgPool2d/adaptiveAvgPool2d/interpolate: x [N,C,H,W] → out [N,C,Ho,Wo].
 * - crossEntropy: logits [N,C], target int32 [N], weight [C] or null; out [] or [N] (reduction none).
 * - adamUpdate: in place on param, m, v (all contiguous, one dtype).
 *
 * Backward kernels (FUSED_BACKWARD_KERNELS) compute the input gradients of five of them from the
 * output gradient. Autograd's rule for an op uses its backward kernel where the backend has it and
 * differentiates with core ops otherwise; every view has the dtype of the forward input.
 * - softmaxBackward: y = softmax(x), dy, dx all like x; dx = y·(dy − Σ_dim dy·y).
 * - logSoftmaxBackward: y = logSoftmax(x); dx = dy − exp(y)·Σ_dim dy.
 * - layerNormBackward: x, dy, dx like x; weight null or [normalizedSize]; dweight = Σ_rows dy·x̂ and
 *   dbias = Σ_rows dy, each [normalizedSize] or null when not wanted (x̂ the normalised x).
 * - geluBackward: x, dy, dx alike; dx = dy·gelu'(x).
 * - attentionBackward: q, k, v, mask as in attention (causal and scale in attrs), dout [B,Sq,Dv];
 *   dq, dk, dv like q, k, v; dmask null or [B,Sq,Sk], the gradient w.r.t. the additive mask, which is
 *   the gradient w.r.t. the logits. Recomputes the weights: the forward saves nothing for it.
 */
export interface FusedKernels {
  softmax(x: View, dim: number, out: View): void;
  logSoftmax(x: View, dim: number, out: View): void;
  layerNorm(
    x: View,
    weight: View | null,
    bias: View | null,
    normalizedSize: number,
    eps: number,
    out: View,
  ): void;
  gelu(x: View, approximate: "none" | "tanh", out: View): void;
  attention(
    q: View,
    k: View,
    v: View,
    mask: View | null,
    attrs: AttentionAttrs,
    out: View,
    weights: View | null,
  ): void;
  conv2d(x: View, w: View, bias: View | null, attrs: ConvAttrs, out: View): void;
  convTranspose2d(x: View, w: View, bias: View | null, attrs: ConvTransposeAttrs, out: View): void;
  maxPool2d(x: View, attrs: PoolAttrs, out: View): void;
  avgPool2d(x: View, attrs: PoolAttrs, out: View): void;
  adaptiveAvgPool2d(x: View, out: View): void;
  interpolate(x: View, attrs: InterpolateAttrs, out: View): void;
  crossEntropy(logits: View, target: View, weight: View | null, attrs: CrossEntropyAttrs, out: View): void;
  adamUpdate(param: View, grad: View, m: View, v: View, attrs: AdamAttrs): void;

  // ---- backward kernels ----
  softmaxBackward(y: View, dy: View, dim: number, dx: View): void;
  logSoftmaxBackward(y: View, dy: View, dim: number, dx: View): void;
  layerNormBackward(
    x: View,
    weight: View | null,
    dy: View,
    normalizedSize: number,
    eps: number,
    dx: View,
    dweight: View | null,
    dbias: View | null,
  ): void;
  geluBackward(x: View, dy: View, approximate: "none" | "tanh", dx: View): void;
  attentionBackward(
    q: View,
    k: View,
    v: View,
    mask: View | null,
    dout: View,
    attrs: AttentionAttrs,
    dq: View,
    dk: View,
    dv: View,
    dmask: View | null,
  ): void;
}

export type FusedKernelName = keyof FusedKernels;

/** The gradient kernels of fused ops (see FusedKernels); optional like every fused kernel. */
export const FUSED_BACKWARD_KERNELS = [
  "softmaxBackward",
  "logSoftmaxBackward",
  "layerNormBackward",
  "geluBackward",
  "attentionBackward",
] as const satisfies readonly FusedKernelName[];
export type FusedBackwardKernelName = (typeof FUSED_BACKWARD_KERNELS)[number];

/** The forward fused kernels: each one is the fast path of an op of core. */
export const FUSED_KERNELS: readonly FusedKernelName[] = [
  "softmax",
  "logSoftmax",
  "layerNorm",
  "gelu",
  "attention",
  "conv2d",
  "convTranspose2d",
  "maxPool2d",
  "avgPool2d",
  "adaptiveAvgPool2d",
  "interpolate",
  "crossEntropy",
  "adamUpdate",
];

/** Every fused kernel name, forward then backward (what `capabilities` and the support table list). */
export const ALL_FUSED_KERNELS: readonly FusedKernelName[] = [...FUSED_KERNELS, ...FUSED_BACKWARD_KERNELS];

export const PRIMITIVE_KERNELS = [
  "copy",
  "fill",
  "random",
  "unary",
  "binary",
  "where",
  "reduce",
  "matmul",
  "gather",
  "scatterAdd",
] as const;
export type PrimitiveKernelName = (typeof PRIMITIVE_KERNELS)[number];

export interface BackendInfo {
  /** Human-readable description: device, threads, ISA, binary path… */
  description: string;
  [key: string]: unknown;
}

export interface Backend {
  readonly name: string;
  /** dtypes this backend stores; core refuses others with a clear error. */
  readonly dtypes: readonly DType[];
  /** Fused kernels it implements; absent ones run core's composite. */
  readonly fused: Partial<FusedKernels>;

  // ---- storage ----
  allocate(dtype: DType, size: number): DataId;
  free(id: DataId): void;
  /** Writes `values` (already in storage representation) at element `offset`. */
  write(id: DataId, values: StorageArray, offset: number): void;
  /** Reads `size` elements from element `offset`, in storage representation; resolves off the event loop where possible. */
  read(id: DataId, offset: number, size: number): Promise<StorageArray>;
  /** Synchronous read, where the backend can offer one. */
  readSync?(id: DataId, offset: number, size: number): StorageArray;
  /** Live storage handles and their bytes, for leak checks. */
  memory(): { handles: number; bytes: number };
  info(): BackendInfo;
  /** Waits for queued work (no-op for synchronous backends). */
  synchronize(): Promise<void>;

  // ---- primitive kernels ----
  /** Strided copy with dtype conversion (float→int truncates toward zero; →bool is x != 0). */
  copy(src: View, dst: View): void;
  fill(dst: View, value: number): void;
  /** Fills contiguous `dst` from the counter-based stream; must match core's `philoxFill` bit for bit. */
  random(dst: View, dist: RandomDistribution, state: RandomState): void;
  unary(op: UnaryOp, x: View, out: View): void;
  binary(op: BinaryOp, a: View, b: View, out: View): void;
  where(cond: View, a: View, b: View, out: View): void;
  /** out has x's shape with reduced axes set to 1. */
  reduce(op: ReduceOp, x: View, axes: readonly number[], out: View): void;
  /**
   * Batched matmul: a [...batchA, M, K] (or [..., K, M] if transA), b [...batchB, K, N] (or [..., N, K] if transB),
   * out [...batch, M, N] where batch is the broadcast of batchA and batchB. Inputs contiguous.
   */
  matmul(a: View, b: View, transA: boolean, transB: boolean, out: View): void;
  /** out[i..] = x[.. index[i..] (at dim) ..]; index int32 with out's shape. */
  gather(x: View, index: View, dim: number, out: View): void;
  /** In place: dst[.. index[i..] (at dim) ..] += src[i..]; index int32 with src's shape. */
  scatterAdd(dst: View, index: View, src: View, dim: number): void;
}

/** What the support table and the conformance `support` mode print for one backend. */
export function capabilities(backend: Backend): { dtypes: DType[]; fused: FusedKernelName[] } {
  return {
    dtypes: [...backend.dtypes],
    fused: ALL_FUSED_KERNELS.filter((k) => typeof backend.fused[k] === "function"),
  };
}
