/**
 * PyTorch op goldens → Tessera's public core ops. `TORCH_OP_CASES` maps every golden case of kind `op`
 * to the call of `@tessera/core` that must reproduce it, keyed by case name, together with the exact
 * torch expression it translates (the file's `call` metadata; a regenerated fixture whose call changed
 * fails instead of being compared against a stale translation). `runTorchOpCases` runs them all on any
 * registered backend and compares every output with the file's forward tolerance.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as Core from "@tessera/core";
import { metadataJson, readSafetensors, type SafetensorsFile, toInt32Array } from "./safetensors.js";

type Tensor = Core.Tensor;

/**
 * `@tessera/core` with a clear error for an op it does not export yet (instead of "x is not a function"),
 * so a case whose op is missing fails saying so.
 */
const T: typeof Core = new Proxy(Core, {
  get(target, key, receiver) {
    if (typeof key === "string" && !(key in target)) {
      throw new Error(`@tessera/core does not export '${key}' (op not implemented yet?)`);
    }
    return Reflect.get(target, key, receiver);
  },
});
/** Case inputs by name without the `input.` prefix (probes excluded). */
export type TorchOpInputs = Readonly<Record<string, Tensor>>;
/** Case outputs by name without the `output.` prefix: `y`, `y1`, `y2`, `indices`. */
export type TorchOpOutputs = Record<string, Tensor>;

export interface TorchOpCase {
  /** The golden file's `call` metadata, verbatim. */
  readonly torch: string;
  /** Runs the Tessera translation on the case inputs (on the active backend). */
  readonly run: (x: TorchOpInputs) => TorchOpOutputs;
  /**
   * Where Tessera deliberately differs from torch on this case (e.g. int32 instead of int64), the
   * difference and the reason; the translation then computes what Tessera promises, never a special-cased
   * comparison.
   */
  readonly deviation?: string;
}

/** A mapping from golden case names to their Tessera translations (`TORCH_OP_CASES`, `TORCH_EDGE_CASES`). */
export type TorchOpCaseTable = Readonly<Record<string, TorchOpCase>>;

/** `inputs[name]`, with a clear error when the fixture lacks it. */
function need(x: TorchOpInputs, name: string): Tensor {
  const t = x[name];
  if (!t) throw new Error(`case input 'input.${name}' is missing (inputs: ${Object.keys(x).join(", ")})`);
  return t;
}

const y = (t: Tensor): TorchOpOutputs => ({ y: t });
const unaryCase = (torch: string, f: (x: Tensor) => Tensor): TorchOpCase => ({
  torch,
  run: (i) => y(f(need(i, "x"))),
});
const binCase = (torch: string, f: (a: Tensor, b: Tensor) => Tensor, a = "a", b = "b"): TorchOpCase => ({
  torch,
  run: (i) => y(f(need(i, a), need(i, b))),
});
const xtCase = (torch: string, f: (x: Tensor, t: Tensor) => Tensor): TorchOpCase =>
  binCase(torch, f, "x", "target");
const splitOut = (parts: Tensor[]): TorchOpOutputs => {
  if (parts.length !== 3) throw new Error(`split: expected 3 pieces, got ${parts.length}`);
  return { y: parts[0]!, y1: parts[1]!, y2: parts[2]! };
};
const maxOut = (r: { values: Tensor; indices: Tensor }): TorchOpOutputs => ({
  y: r.values,
  indices: r.indices,
});
const unfoldPatches = (x: Tensor): Tensor =>
  x
    .unfold(2, 4, 4)
    .unfold(3, 4, 4)
    .permute(0, 2, 3, 1, 4, 5)
    .reshape(2, -1, 3 * 4 * 4);

/** Every PyTorch op golden, by case name. */
export const TORCH_OP_CASES: TorchOpCaseTable = {
  // ---- linalg ----
  matmul_bcast: binCase("y = torch.matmul(a, b)", (a, b) => T.matmul(a, b)),
  matmul_2d: binCase("y = a @ b", (a, b) => T.matmul(a, b)),
  matmul_mat_vec: binCase("y = torch.matmul(a, v)", (a, v) => T.matmul(a, v), "a", "v"),
  matmul_vec_mat: binCase("y = torch.matmul(v, b)", (v, b) => T.matmul(v, b), "v", "b"),

  // ---- elementwise ----
  add_bcast: binCase("y = a + b", (a, b) => T.add(a, b)),
  sub_bcast: binCase("y = a - b", (a, b) => T.sub(a, b)),
  mul_bcast: binCase("y = a * b", (a, b) => T.mul(a, b)),
  div_bcast: binCase("y = a / b", (a, b) => T.div(a, b)),
  scalar_arith: unaryCase("y = (x * 2.5 - 1.25) / 0.75 + 3 ** 0.5 - x / 4 + 1 / (x + 4)", (x) =>
    T.add(
      T.sub(T.add(T.div(T.sub(T.mul(x, 2.5), 1.25), 0.75), 3 ** 0.5), T.div(x, 4)),
      T.div(1, T.add(x, 4)),
    ),
  ),
  exp: unaryCase("y = torch.exp(x)", (x) => T.exp(x)),
  log: unaryCase("y = torch.log(x)  # x in [0.05, 3.05]", (x) => T.log(x)),
  tanh: unaryCase("y = torch.tanh(x)  # x = 2*randn", (x) => T.tanh(x)),
  sqrt: unaryCase("y = torch.sqrt(x)  # x in [0.05, 3.05]", (x) => T.sqrt(x)),
  pow_scalar: unaryCase("y = x.pow(2.5)  # x in [0.1, 3]", (x) => T.pow(x, 2.5)),
  pow_int: unaryCase("y = x.pow(3)  # randn, negative bases allowed", (x) => T.pow(x, 3)),
  pow_neg_half: unaryCase("y = x.pow(-0.5)  # x in [0.1, 3]", (x) => T.pow(x, -0.5)),
  pow_tensor: binCase("y = torch.pow(x, e)", (x, e) => T.pow(x, e), "x", "e"),
  relu: unaryCase("y = F.relu(x)", (x) => T.relu(x)),
  sigmoid: unaryCase("y = torch.sigmoid(x)", (x) => T.sigmoid(x)),
  silu: unaryCase("y = F.silu(x)  # x*sigmoid(x)", (x) => T.silu(x)),
  neg_abs: unaryCase("y = -x.abs()  # abs grad = sign(x)", (x) => T.neg(T.abs(x))),
  where_bcast: {
    torch: "y = torch.where(cond.bool(), a, b)",
    run: (i) => y(T.where(need(i, "cond"), need(i, "a"), need(i, "b"))),
  },
  masked_fill: {
    torch: "y = x.masked_fill(mask.bool(), -3.5)",
    run: (i) => y(T.maskedFill(need(i, "x"), need(i, "mask"), -3.5)),
  },

  // ---- activations ----
  gelu_erf: unaryCase("y = F.gelu(x)  # default approximate='none': exact x*0.5*(1+erf(x/sqrt(2)))", (x) =>
    T.gelu(x),
  ),
  gelu_tanh: unaryCase("y = F.gelu(x, approximate='tanh')  # 0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3)))", (x) =>
    T.gelu(x, { approximate: "tanh" }),
  ),
  softmax_last: unaryCase("y = F.softmax(x, dim=-1)", (x) => T.softmax(x, -1)),
  softmax_dim1: unaryCase("y = F.softmax(x, dim=1)", (x) => T.softmax(x, 1)),
  softmax_large: unaryCase("y = F.softmax(x, dim=-1)", (x) => T.softmax(x, -1)),
  log_softmax_last: unaryCase("y = F.log_softmax(x, dim=-1)", (x) => T.logSoftmax(x, -1)),
  log_softmax_dim1: unaryCase("y = F.log_softmax(x, dim=1)", (x) => T.logSoftmax(x, 1)),
  log_softmax_large: unaryCase("y = F.log_softmax(x, dim=-1)", (x) => T.logSoftmax(x, -1)),
  masked_fill_softmax: {
    torch: "y = F.softmax(x.masked_fill(mask.bool(), float('-inf')), dim=-1)",
    run: (i) => y(T.softmax(T.maskedFill(need(i, "x"), need(i, "mask"), Number.NEGATIVE_INFINITY), -1)),
  },
  layer_norm_last: {
    torch: "y = F.layer_norm(x, (D,), weight, bias, eps=1e-5)",
    run: (i) => y(T.layerNorm(need(i, "x"), [7], need(i, "weight"), need(i, "bias"), 1e-5)),
  },
  layer_norm_2d: {
    torch: "y = F.layer_norm(x, x.shape[-2:], weight, bias, eps=1e-5)",
    run: (i) =>
      y(T.layerNorm(need(i, "x"), need(i, "x").shape.slice(-2), need(i, "weight"), need(i, "bias"), 1e-5)),
  },
  // Default eps (1e-5) on purpose: pins Tessera's default to torch's.
  layer_norm_noaffine: unaryCase("y = F.layer_norm(x, (D,))", (x) => T.layerNorm(x, [13])),
  layer_norm_offset: {
    torch: "y = F.layer_norm(x, (D,), weight, bias, eps=1e-6)",
    run: (i) => y(T.layerNorm(need(i, "x"), [13], need(i, "weight"), need(i, "bias"), 1e-6)),
  },
  layer_norm_small_var: {
    torch: "y = F.layer_norm(x, (D,), weight, bias, eps=1e-5)",
    run: (i) => y(T.layerNorm(need(i, "x"), [13], need(i, "weight"), need(i, "bias"), 1e-5)),
  },

  // ---- reductions ----
  sum_dim1_keepdim: unaryCase("y = x.sum(dim=1, keepdim=True)", (x) => T.sum(x, 1, true)),
  sum_dims02: unaryCase("y = x.sum(dim=(0, 2))", (x) => T.sum(x, [0, 2])),
  sum_all: unaryCase("y = x.sum()", (x) => T.sum(x)),
  mean_last_keepdim: unaryCase("y = x.mean(dim=-1, keepdim=True)", (x) => T.mean(x, -1, true)),
  mean_dims13: unaryCase("y = x.mean(dim=(1, 3))", (x) => T.mean(x, [1, 3])),
  mean_all: unaryCase("y = x.mean()", (x) => T.mean(x)),
  var_last_biased_keepdim: unaryCase("y = x.var(dim=-1, unbiased=False, keepdim=True)", (x) =>
    T.var(x, -1, { unbiased: false, keepdim: true }),
  ),
  var_dims12_biased: unaryCase("y = x.var(dim=(1, 2), unbiased=False)", (x) =>
    T.var(x, [1, 2], { unbiased: false }),
  ),
  // No options on purpose: pins Tessera's default correction (1, unbiased) to torch's.
  var_last_unbiased: unaryCase("y = x.var(dim=-1)  (torch default unbiased=True, divides by n-1)", (x) =>
    T.var(x, -1),
  ),
  amax_dims12_keepdim: unaryCase("y = x.amax(dim=(1, 2), keepdim=True)", (x) => T.amax(x, [1, 2], true)),
  max_all: unaryCase("y = x.max()  (full reduction)", (x) => T.max(x)),
  max_dim1_keepdim: {
    torch: "y, indices = torch.max(x, dim=1, keepdim=True)",
    run: (i) => maxOut(T.max(need(i, "x"), 1, true)),
  },
  max_last: { torch: "y, indices = torch.max(x, dim=-1)", run: (i) => maxOut(T.max(need(i, "x"), -1)) },

  // ---- losses ----
  cross_entropy_mean: xtCase("y = F.cross_entropy(x, target)", (x, t) => T.crossEntropy(x, t)),
  cross_entropy_label_smoothing: xtCase("y = F.cross_entropy(x, target, label_smoothing=0.1)", (x, t) =>
    T.crossEntropy(x, t, { labelSmoothing: 0.1 }),
  ),
  cross_entropy_sum: xtCase("y = F.cross_entropy(x, target, reduction='sum')", (x, t) =>
    T.crossEntropy(x, t, { reduction: "sum" }),
  ),
  // The targets hold -100 entries: default ignore_index on purpose.
  cross_entropy_ignore_index: xtCase("y = F.cross_entropy(x, target)", (x, t) => T.crossEntropy(x, t)),
  cross_entropy_3d: xtCase("y = F.cross_entropy(x, target)", (x, t) => T.crossEntropy(x, t)),
  mse_loss: xtCase("y = F.mse_loss(x, target)", (x, t) => T.mseLoss(x, t)),
  l1_loss: xtCase("y = F.l1_loss(x, target)", (x, t) => T.l1Loss(x, t)),
  smooth_l1_loss: xtCase("y = F.smooth_l1_loss(x, target)", (x, t) => T.smoothL1Loss(x, t)),
  smooth_l1_loss_beta05: xtCase("y = F.smooth_l1_loss(x, target, beta=0.5)", (x, t) =>
    T.smoothL1Loss(x, t, { beta: 0.5 }),
  ),

  // ---- convolution ----
  conv2d_s1p1_bias: {
    torch: "y = F.conv2d(x, weight, bias, stride=1, padding=1)",
    run: (i) => y(T.conv2d(need(i, "x"), need(i, "weight"), need(i, "bias"), { stride: 1, padding: 1 })),
  },
  conv2d_s1p1_nobias: {
    torch: "y = F.conv2d(x, weight, None, stride=1, padding=1)",
    run: (i) => y(T.conv2d(need(i, "x"), need(i, "weight"), null, { stride: 1, padding: 1 })),
  },
  conv2d_patch_bias: {
    torch: "y = F.conv2d(x, weight, bias, stride=4, padding=0)",
    run: (i) => y(T.conv2d(need(i, "x"), need(i, "weight"), need(i, "bias"), { stride: 4, padding: 0 })),
  },
  conv2d_patch_nobias: {
    torch: "y = F.conv2d(x, weight, None, stride=4, padding=0)",
    run: (i) => y(T.conv2d(need(i, "x"), need(i, "weight"), null, { stride: 4, padding: 0 })),
  },
  conv2d_k3x5_s2_p12: {
    torch: "y = F.conv2d(x, weight, bias, stride=2, padding=(1, 2))",
    run: (i) => y(T.conv2d(need(i, "x"), need(i, "weight"), need(i, "bias"), { stride: 2, padding: [1, 2] })),
  },
  conv_transpose2d_k2s2: {
    torch: "y = F.conv_transpose2d(x, weight, bias, stride=2, padding=0)  # weight (Cin, Cout, k, k)",
    run: (i) =>
      y(T.convTranspose2d(need(i, "x"), need(i, "weight"), need(i, "bias"), { stride: 2, padding: 0 })),
  },
  conv_transpose2d_k4s2p1: {
    torch: "y = F.conv_transpose2d(x, weight, bias, stride=2, padding=1)  # weight (Cin, Cout, k, k)",
    run: (i) =>
      y(T.convTranspose2d(need(i, "x"), need(i, "weight"), need(i, "bias"), { stride: 2, padding: 1 })),
  },

  // ---- pooling ----
  max_pool2d_k2s2: unaryCase("y = F.max_pool2d(x, 2, 2)", (x) => T.maxPool2d(x, 2, { stride: 2 })),
  max_pool2d_k3s2p1: unaryCase("y = F.max_pool2d(x, 3, stride=2, padding=1)  # padding acts as -inf", (x) =>
    T.maxPool2d(x, 3, { stride: 2, padding: 1 }),
  ),
  avg_pool2d_k2s2: unaryCase("y = F.avg_pool2d(x, 2, 2)", (x) => T.avgPool2d(x, 2, { stride: 2 })),
  // count_include_pad left at its default on purpose: pins Tessera's default to torch's (true).
  avg_pool2d_k3s2p1: unaryCase(
    "y = F.avg_pool2d(x, 3, stride=2, padding=1)  # count_include_pad=True (default): divisor always 9",
    (x) => T.avgPool2d(x, 3, { stride: 2, padding: 1 }),
  ),
  avg_pool2d_k3s2p1_nopadcount: unaryCase(
    "y = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)",
    (x) => T.avgPool2d(x, 3, { stride: 2, padding: 1, countIncludePad: false }),
  ),
  adaptive_avg_pool2d_3x4: unaryCase(
    "y = F.adaptive_avg_pool2d(x, (3, 4))  # windows [floor(i*H/o), ceil((i+1)*H/o))",
    (x) => T.adaptiveAvgPool2d(x, [3, 4]),
  ),
  adaptive_avg_pool2d_1x1: unaryCase("y = F.adaptive_avg_pool2d(x, 1)", (x) => T.adaptiveAvgPool2d(x, 1)),

  // ---- interpolation ----
  interp_bilinear_up: unaryCase(
    "y = F.interpolate(x, size=(13, 11), mode='bilinear', align_corners=False)",
    (x) => T.interpolate(x, { size: [13, 11], mode: "bilinear", alignCorners: false }),
  ),
  interp_bilinear_up_align: unaryCase(
    "y = F.interpolate(x, size=(13, 11), mode='bilinear', align_corners=True)",
    (x) => T.interpolate(x, { size: [13, 11], mode: "bilinear", alignCorners: true }),
  ),
  interp_bilinear_down: unaryCase(
    "y = F.interpolate(x, size=(5, 7), mode='bilinear', align_corners=False)",
    (x) => T.interpolate(x, { size: [5, 7], mode: "bilinear", alignCorners: false }),
  ),
  interp_bilinear_down_align: unaryCase(
    "y = F.interpolate(x, size=(5, 7), mode='bilinear', align_corners=True)",
    (x) => T.interpolate(x, { size: [5, 7], mode: "bilinear", alignCorners: true }),
  ),
  interp_nearest_up: unaryCase("y = F.interpolate(x, size=(13, 11), mode='nearest')", (x) =>
    T.interpolate(x, { size: [13, 11], mode: "nearest" }),
  ),
  interp_nearest_down: unaryCase("y = F.interpolate(x, size=(5, 4), mode='nearest')", (x) =>
    T.interpolate(x, { size: [5, 4], mode: "nearest" }),
  ),
  interp_bilinear_scale_factor: unaryCase(
    "y = F.interpolate(x, scale_factor=1.7, mode='bilinear', align_corners=False)",
    (x) => T.interpolate(x, { scaleFactor: 1.7, mode: "bilinear", alignCorners: false }),
  ),
  interp_bilinear_x2: unaryCase(
    "y = F.interpolate(x, size=(10, 14), mode='bilinear', align_corners=False)",
    (x) => T.interpolate(x, { size: [10, 14], mode: "bilinear", alignCorners: false }),
  ),

  // ---- views and manipulation ----
  unfold_patches: unaryCase(
    "y = x.unfold(2, 4, 4).unfold(3, 4, 4).permute(0, 2, 3, 1, 4, 5).reshape(2, -1, 3*4*4)",
    unfoldPatches,
  ),
  unfold_patches_ragged: unaryCase(
    "y = x.unfold(2, 4, 4).unfold(3, 4, 4).permute(0, 2, 3, 1, 4, 5).reshape(2, -1, 3*4*4)",
    unfoldPatches,
  ),
  transpose: unaryCase("y = x.transpose(1, 3)", (x) => x.transpose(1, 3)),
  permute: unaryCase("y = x.permute(0, 2, 3, 1)", (x) => x.permute(0, 2, 3, 1)),
  reshape_noncontig: unaryCase("y = x.transpose(1, 2).reshape(x.shape[0], x.shape[2], -1)", (x) =>
    x.transpose(1, 2).reshape(x.shape[0]!, x.shape[2]!, -1),
  ),
  flatten_unsqueeze_squeeze: {
    torch: "y = x.flatten(2).unsqueeze(1); y1 = x[:, :1].squeeze(1)",
    run: (i) => {
      const x = need(i, "x");
      return { y: x.flatten(2).unsqueeze(1), y1: x.slice(1, 0, 1).squeeze(1) };
    },
  },
  slicing: {
    torch: "y = x[:, 1:, 2:6:2]; y1 = x[:, 0]; y2 = x[..., -1]",
    run: (i) => {
      const x = need(i, "x");
      return { y: x.slice(1, 1).slice(2, 2, 6, 2), y1: x.select(1, 0), y2: x.select(-1, -1) };
    },
  },
  expand: unaryCase("y = x.expand(3, 4, -1)", (x) => x.expand(3, 4, -1)),
  cat_dim1: {
    torch: "y = torch.cat([a, b, c], dim=1)",
    run: (i) => y(T.cat([need(i, "a"), need(i, "b"), need(i, "c")], 1)),
  },
  cat_last: {
    torch: "y = torch.cat([a, b], dim=-1)",
    run: (i) => y(T.cat([need(i, "a"), need(i, "b")], -1)),
  },
  stack_dim1: {
    torch: "y = torch.stack([a, b, c], dim=1)",
    run: (i) => y(T.stack([need(i, "a"), need(i, "b"), need(i, "c")], 1)),
  },
  split_sizes: {
    torch: "y, y1, y2 = torch.split(x, [4, 6, 3], dim=1)",
    run: (i) => splitOut(T.split(need(i, "x"), [4, 6, 3], 1)),
  },
  split_int: {
    torch: "y, y1, y2 = torch.split(x, 5, dim=1)",
    run: (i) => splitOut(T.split(need(i, "x"), 5, 1)),
  },
  gather_dim1: binCase("y = torch.gather(x, 1, index)", (x, idx) => T.gather(x, 1, idx), "x", "index"),
  gather_dim0: binCase("y = torch.gather(x, 0, index)", (x, idx) => T.gather(x, 0, idx), "x", "index"),
  index_select_dim0: binCase(
    "y = torch.index_select(x, 0, index)",
    (x, idx) => T.indexSelect(x, 0, idx),
    "x",
    "index",
  ),
  index_select_dim1: binCase(
    "y = torch.index_select(x, 1, index)",
    (x, idx) => T.indexSelect(x, 1, idx),
    "x",
    "index",
  ),
  embedding_op: binCase("y = F.embedding(index, weight)", (idx, w) => T.embedding(w, idx), "index", "weight"),
};

// ---- running ----------------------------------------------------------------------------------

export interface TorchTolerance {
  rtol: number;
  atol: number;
}

/** One golden case read from disk. */
export interface LoadedTorchOpCase {
  readonly name: string;
  readonly file: string;
  readonly kind: string;
  readonly call: string;
  readonly config: unknown;
  readonly tolerance: TorchTolerance;
  /** Metadata `signed_zero` = "true": -0 and +0 must match exactly (Object.is); else zeros compare by value. */
  readonly signedZero: boolean;
  /** Metadata `bool_outputs`: outputs stored as 0/1 I64 that Tessera returns as bool tensors. */
  readonly boolOutputs: readonly string[];
  readonly safetensors: SafetensorsFile;
}

export interface TorchOutputComparison {
  readonly name: string;
  readonly ok: boolean;
  /** Why it failed (shape, dtype, missing, values); undefined when ok. */
  readonly problem?: string;
  readonly shape?: readonly number[];
  readonly goldenShape: readonly number[];
  readonly maxAbsError: number;
  /** Elements outside `atol + rtol·|golden|` (or not matching exactly, for ints/NaN/Inf). */
  readonly mismatches: number;
  /** The worst element (largest error relative to its allowance). */
  readonly worst?: { index: number; actual: number; golden: number; allowed: number };
}

export interface TorchOpCaseResult {
  readonly name: string;
  readonly call: string;
  readonly backend: string;
  readonly ok: boolean;
  /** Thrown while mapping/running the op, or a problem with the case itself. */
  readonly error?: string;
  readonly tolerance: TorchTolerance;
  readonly outputs: readonly TorchOutputComparison[];
}

/** The `*.safetensors` files in `fixturesDir`, sorted (`runTorchOpCases` keeps those whose metadata kind is `op`). */
export function listTorchOpCaseFiles(fixturesDir: string): string[] {
  return readdirSync(fixturesDir)
    .filter((f) => f.endsWith(".safetensors"))
    .sort();
}

export function loadTorchOpCase(fixturesDir: string, file: string): LoadedTorchOpCase {
  const path = join(fixturesDir, file.endsWith(".safetensors") ? file : `${file}.safetensors`);
  const bytes = readFileSync(path);
  const st = readSafetensors(bytes, path);
  const md = st.metadata;
  const tol = metadataJson<{ forward?: TorchTolerance }>(st, "tolerance").forward;
  if (!tol || typeof tol.rtol !== "number" || typeof tol.atol !== "number") {
    throw new Error(`${path}: metadata 'tolerance' has no forward {rtol, atol}`);
  }
  return {
    name: md["case"] ?? file.replace(/\.safetensors$/, ""),
    file: path,
    kind: md["kind"] ?? "?",
    call: md["call"] ?? "",
    config: metadataJson<unknown>(st, "config", {}),
    tolerance: tol,
    signedZero: md["signed_zero"] === "true",
    boolOutputs: metadataJson<string[]>(st, "bool_outputs", []),
    safetensors: st,
  };
}

/**
 * Builds the case inputs (I64 → int32, `bool_inputs` → bool) on `backendName`. `int_inputs` (edge cases)
 * must name I64 inputs that are not bool.
 */
export function makeInputs(c: LoadedTorchOpCase, backendName: string): Record<string, Tensor> {
  const boolInputs = new Set(metadataJson<string[]>(c.safetensors, "bool_inputs", []));
  for (const name of metadataJson<string[]>(c.safetensors, "int_inputs", [])) {
    const t = c.safetensors.tensors.get(`input.${name}`);
    if (t?.dtype !== "I64" || boolInputs.has(name))
      throw new Error(`int_inputs lists '${name}' but input.${name} is not a non-bool I64 tensor`);
  }
  const out: Record<string, Tensor> = {};
  for (const [key, t] of c.safetensors.tensors) {
    if (!key.startsWith("input.") || key === "input.probe" || key.startsWith("input.probe.")) continue;
    const name = key.slice("input.".length);
    const shape = t.shape;
    if (t.dtype === "F32") {
      if (boolInputs.has(name)) throw new Error(`input '${name}' is listed in bool_inputs but stored as F32`);
      out[name] = T.tensor(t.data as Float32Array, { shape, dtype: "float32", backend: backendName });
    } else {
      const ints = toInt32Array(t);
      if (boolInputs.has(name)) {
        const b = new Uint8Array(ints.length);
        for (let k = 0; k < ints.length; k++) b[k] = ints[k] !== 0 ? 1 : 0;
        out[name] = T.tensor(b, { shape, dtype: "bool", backend: backendName });
      } else {
        out[name] = T.tensor(ints, { shape, dtype: "int32", backend: backendName });
      }
    }
  }
  for (const name of boolInputs)
    if (!(name in out)) throw new Error(`bool_inputs lists '${name}' but there is no input.${name}`);
  return out;
}

const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);
const fmt = (s: readonly number[]) => `[${s.join(", ")}]`;

export interface CompareOptions {
  /** -0 and +0 must match exactly (Object.is). Default false: zeros compare by value. */
  signedZero?: boolean;
  /** The I64 golden holds 0/1 booleans: the output must be a bool tensor, compared exactly. */
  bool?: boolean;
}

/**
 * Compares `actual` with `golden` elementwise: `|a − g| <= atol + rtol·|g|`; NaN and ±Inf must match
 * exactly; integer goldens (I64) exactly (as int32, or as bool with `opts.bool`); with `opts.signedZero`
 * a zero must also have the golden's sign.
 */
export function compareWithTorchGolden(
  name: string,
  actual: { shape: readonly number[]; dtype: string; data: ArrayLike<number> } | undefined,
  golden: { shape: readonly number[]; dtype: "F32" | "I64"; data: Float32Array | BigInt64Array },
  tol: TorchTolerance,
  opts: CompareOptions = {},
): TorchOutputComparison {
  const base = { name, goldenShape: golden.shape, maxAbsError: Number.NaN, mismatches: 0 };
  if (!actual) return { ...base, ok: false, problem: `output '${name}' was not produced` };
  if (!sameShape(actual.shape, golden.shape)) {
    return {
      ...base,
      ok: false,
      shape: actual.shape,
      problem: `shape ${fmt(actual.shape)} != golden ${fmt(golden.shape)}`,
    };
  }
  const isInt = golden.dtype === "I64";
  if (opts.bool && !isInt) throw new Error(`output '${name}': a bool golden must be stored as I64`);
  const wantDtype = opts.bool ? "bool" : isInt ? "int32" : "float32";
  if (actual.dtype !== wantDtype) {
    return {
      ...base,
      ok: false,
      shape: actual.shape,
      problem: `dtype ${actual.dtype}, expected ${wantDtype} (golden ${golden.dtype})`,
    };
  }
  let maxAbs = 0;
  let mismatches = 0;
  let worst: TorchOutputComparison["worst"];
  let worstRatio = -1;
  const n = golden.data.length;
  for (let i = 0; i < n; i++) {
    const a = actual.data[i]!;
    const g = Number(golden.data[i]!);
    const allowed = isInt ? 0 : tol.atol + tol.rtol * Math.abs(g);
    let bad: boolean;
    let err: number;
    if (Number.isNaN(g) || Number.isNaN(a) || !Number.isFinite(g) || !Number.isFinite(a)) {
      bad = !(Object.is(a, g) || (Number.isNaN(a) && Number.isNaN(g)) || a === g);
      err = bad ? Number.POSITIVE_INFINITY : 0;
    } else if (opts.signedZero && a === 0 && g === 0 && !Object.is(a, g)) {
      err = Number.POSITIVE_INFINITY; // the right zero with the wrong sign
      bad = true;
    } else {
      err = Math.abs(a - g);
      bad = err > allowed;
    }
    if (err > maxAbs) maxAbs = err;
    if (bad) mismatches++;
    const ratio =
      bad && !Number.isFinite(err)
        ? Number.POSITIVE_INFINITY
        : allowed > 0
          ? err / allowed
          : err > 0
            ? Number.POSITIVE_INFINITY
            : 0;
    if (ratio > worstRatio) {
      worstRatio = ratio;
      worst = { index: i, actual: a, golden: g, allowed };
    }
  }
  const ok = mismatches === 0;
  const problem = ok
    ? undefined
    : `${mismatches}/${n} elements outside atol ${tol.atol} + rtol ${tol.rtol}·|g|; max |err| ${maxAbs.toExponential(3)}; ` +
      `worst at flat index ${worst!.index}: got ${worst!.actual}, golden ${worst!.golden} (allowed ${worst!.allowed.toExponential(2)})`;
  return {
    ...base,
    ok,
    shape: actual.shape,
    maxAbsError: maxAbs,
    mismatches,
    worst,
    ...(problem ? { problem } : {}),
  };
}

/**
 * Runs one loaded case on `backendName` with its translation from `table` (default `TORCH_OP_CASES`) and
 * compares every `output.*` with the forward tolerance.
 */
export async function runTorchOpCase(
  backendName: string,
  c: LoadedTorchOpCase,
  table: TorchOpCaseTable = TORCH_OP_CASES,
): Promise<TorchOpCaseResult> {
  const base = { name: c.name, call: c.call, backend: backendName, tolerance: c.tolerance };
  const spec = table[c.name];
  if (c.kind !== "op")
    return { ...base, ok: false, error: `case kind is '${c.kind}', not 'op'`, outputs: [] };
  if (!spec)
    return {
      ...base,
      ok: false,
      error: `no Tessera mapping for op case '${c.name}' (${c.call})`,
      outputs: [],
    };
  if (spec.torch !== c.call) {
    return {
      ...base,
      ok: false,
      error: `the golden's call changed: file has ${JSON.stringify(c.call)}, the mapping translates ${JSON.stringify(spec.torch)}`,
      outputs: [],
    };
  }
  const goldens = [...c.safetensors.tensors].filter(([k]) => k.startsWith("output."));
  let inputs: Record<string, Tensor> = {};
  let produced: TorchOpOutputs = {};
  try {
    inputs = makeInputs(c, backendName);
    produced = T.withBackend(backendName, () => T.tidy(() => spec.run(inputs)));
    const outputs: TorchOutputComparison[] = [];
    for (const [key, g] of goldens) {
      const name = key.slice("output.".length);
      const t = produced[name];
      if (t && t.backendName !== backendName)
        throw new Error(`output '${name}' is on backend '${t.backendName}', not '${backendName}'`);
      const actual = t ? { shape: t.shape, dtype: t.dtype, data: await t.data() } : undefined;
      outputs.push(
        compareWithTorchGolden(name, actual, g, c.tolerance, {
          signedZero: c.signedZero,
          bool: c.boolOutputs.includes(name),
        }),
      );
    }
    const extra = Object.keys(produced).filter((k) => !c.safetensors.tensors.has(`output.${k}`));
    if (extra.length)
      return { ...base, ok: false, error: `outputs without a golden: ${extra.join(", ")}`, outputs };
    return { ...base, ok: outputs.every((o) => o.ok), outputs };
  } catch (e) {
    const err = e as Error;
    return { ...base, ok: false, error: `${err.name}: ${err.message}`, outputs: [] };
  } finally {
    T.dispose(inputs);
    T.dispose(produced);
  }
}

/**
 * Runs every op case in `fixturesDir` (files whose metadata kind is `op`) on `backendName`, in name order,
 * with the translations in `table` (default `TORCH_OP_CASES`; `TORCH_EDGE_CASES` for fixtures/torch-edge).
 * The backend must be registered (e.g. `import "@tessera/backend-js"`).
 */
export async function runTorchOpCases(
  backendName: string,
  fixturesDir: string,
  table: TorchOpCaseTable = TORCH_OP_CASES,
): Promise<TorchOpCaseResult[]> {
  const results: TorchOpCaseResult[] = [];
  for (const file of listTorchOpCaseFiles(fixturesDir)) {
    let c: LoadedTorchOpCase;
    try {
      c = loadTorchOpCase(fixturesDir, file);
    } catch (e) {
      const name = file.replace(/\.safetensors$/, "");
      results.push({
        name,
        call: "",
        backend: backendName,
        ok: false,
        error: (e as Error).message,
        tolerance: { rtol: Number.NaN, atol: Number.NaN },
        outputs: [],
      });
      continue;
    }
    if (c.kind !== "op") continue;
    results.push(await runTorchOpCase(backendName, c, table));
  }
  return results;
}

/** A one-line-per-problem summary of a failed result, for assertion messages and reports. */
export function describeTorchOpResult(r: TorchOpCaseResult): string {
  const lines = [`${r.name} on '${r.backend}' (${r.call}): ${r.ok ? "ok" : "FAILED"}`];
  if (r.error) lines.push(`  error: ${r.error}`);
  for (const o of r.outputs) if (!o.ok) lines.push(`  output.${o.name}: ${o.problem}`);
  return lines.join("\n");
}
