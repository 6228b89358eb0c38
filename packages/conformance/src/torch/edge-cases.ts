/**
 * PyTorch edge-case goldens (fixtures/torch-edge, made by scripts/make_torch_edge_cases.py) → Tessera's
 * public core ops. Same shape and runner as `TORCH_OP_CASES` (`runTorchOpCases(backend,
 * TORCH_EDGE_FIXTURES_DIR, TORCH_EDGE_CASES)`), but the inputs hit edge semantics: NaN/±Inf, -0, 0-size dims,
 * size-1 broadcasting, all -inf softmax rows, ignored targets, int and bool dtypes.
 *
 * Integer inputs are int64 in torch and int32 in Tessera (`int_inputs`); every value and result fits in
 * int32, so the goldens hold exactly. Bool outputs are stored as 0/1 (`bool_outputs`) and must come back as
 * bool tensors. Cases with `signed_zero` compare -0 and +0 exactly.
 */
import { join } from "node:path";
import * as Core from "@tessera/core";
import { TORCH_FIXTURES_DIR } from "../fixtures-dir.js";
import type { TorchOpCase, TorchOpCaseTable, TorchOpInputs, TorchOpOutputs } from "./op-cases.js";

type Tensor = Core.Tensor;

/** The edge goldens shipped with this package (next to fixtures/torch). */
export const TORCH_EDGE_FIXTURES_DIR = join(TORCH_FIXTURES_DIR, "..", "torch-edge");

/** `@tessera/core` with a clear error for an op it does not export (see op-cases.ts). */
const T: typeof Core = new Proxy(Core, {
  get(target, key, receiver) {
    if (typeof key === "string" && !(key in target)) {
      throw new Error(`@tessera/core does not export '${key}' (op not implemented yet?)`);
    }
    return Reflect.get(target, key, receiver);
  },
});

function need(x: TorchOpInputs, name: string): Tensor {
  const t = x[name];
  if (!t) throw new Error(`case input 'input.${name}' is missing (inputs: ${Object.keys(x).join(", ")})`);
  return t;
}

/** Outputs in torch's order: y, y1, y2, … */
const ys = (...ts: Tensor[]): TorchOpOutputs => {
  const out: TorchOpOutputs = {};
  ts.forEach((t, i) => {
    out[i === 0 ? "y" : `y${i}`] = t;
  });
  return out;
};
/** A case over inputs `names` (in order). */
const on = (torch: string, names: string[], f: (...t: Tensor[]) => TorchOpOutputs): TorchOpCase => ({
  torch,
  run: (i) => f(...names.map((n) => need(i, n))),
});
const unary = (torch: string, f: (x: Tensor) => Tensor): TorchOpCase => on(torch, ["x"], (x) => ys(f(x!)));
const bilinear = (size: [number, number], alignCorners: boolean) => (x: Tensor) =>
  T.interpolate(x, { size, mode: "bilinear", alignCorners });

/** Every edge golden, by case name. */
export const TORCH_EDGE_CASES: TorchOpCaseTable = {
  // ---- unary ops on [-inf, -1e30, -1, -0.5, -0, 0, 0.5, 1, 2.5, 1e30, inf, nan] ----
  edge_exp: unary("y = torch.exp(x)", (x) => T.exp(x)),
  edge_log: unary("y = torch.log(x)", (x) => T.log(x)),
  edge_log1p: unary("y = torch.log1p(x)", (x) => T.log1p(x)),
  edge_expm1: unary("y = torch.expm1(x)", (x) => T.expm1(x)),
  edge_sqrt: unary("y = torch.sqrt(x)", (x) => T.sqrt(x)),
  edge_rsqrt: unary("y = torch.rsqrt(x)", (x) => T.rsqrt(x)),
  edge_reciprocal: unary("y = torch.reciprocal(x)", (x) => T.reciprocal(x)),
  edge_tanh: unary("y = torch.tanh(x)", (x) => T.tanh(x)),
  edge_sigmoid: unary("y = torch.sigmoid(x)", (x) => T.sigmoid(x)),
  edge_relu: unary("y = F.relu(x)", (x) => T.relu(x)),
  edge_gelu_erf: unary("y = F.gelu(x)", (x) => T.gelu(x)),
  edge_gelu_tanh: unary("y = F.gelu(x, approximate='tanh')", (x) => T.gelu(x, { approximate: "tanh" })),
  edge_silu: unary("y = F.silu(x)", (x) => T.silu(x)),
  edge_sign: {
    ...unary("y = torch.sign(x)", (x) => T.sign(x)),
    deviation:
      "torch.sign(nan) = 0 and torch.sign(-0.0) = +0 (pytorch/pytorch#41245, open); Tessera's sign propagates NaN " +
      "and keeps the sign of zero, like NumPy, so NaN is not a silent 0. The golden leaves NaN out and compares " +
      "zeros by value.",
  },
  edge_abs: unary("y = torch.abs(x)", (x) => T.abs(x)),
  edge_neg: unary("y = torch.neg(x)", (x) => T.neg(x)),
  edge_erf: unary("y = torch.erf(x)", (x) => T.erf(x)),
  edge_sin: unary("y = torch.sin(x)", (x) => T.sin(x)),
  edge_cos: unary("y = torch.cos(x)", (x) => T.cos(x)),
  edge_floor: unary("y = torch.floor(x)", (x) => T.floor(x)),
  edge_ceil: unary("y = torch.ceil(x)", (x) => T.ceil(x)),
  edge_round: unary("y = torch.round(x)", (x) => T.round(x)),
  edge_isnan: unary("y = torch.isnan(x)", (x) => T.isnan(x)),
  edge_unary_empty: on("y = torch.exp(x); y1 = torch.sqrt(x).neg()", ["x"], (x) =>
    ys(T.exp(x!), T.neg(T.sqrt(x!))),
  ),

  // ---- binary ops ----
  edge_pow_tensor: on("y = torch.pow(x, e)", ["x", "e"], (x, e) => ys(T.pow(x!, e!))),
  edge_pow_scalar: on("y = x ** 0; y1 = x ** 0.5; y2 = x ** -1; y3 = x ** 2", ["x"], (x) =>
    ys(T.pow(x!, 0), T.pow(x!, 0.5), T.pow(x!, -1), T.pow(x!, 2)),
  ),
  edge_div_zero: on("y = a / b", ["a", "b"], (a, b) => ys(T.div(a!, b!))),
  edge_add_sub_mul: on("y = a + b; y1 = a - b; y2 = a * b", ["a", "b"], (a, b) =>
    ys(T.add(a!, b!), T.sub(a!, b!), T.mul(a!, b!)),
  ),
  edge_maximum_minimum_nan: on("y = torch.maximum(a, b); y1 = torch.minimum(a, b)", ["a", "b"], (a, b) =>
    ys(T.maximum(a!, b!), T.minimum(a!, b!)),
  ),
  edge_clamp_nan: on("y = x.clamp(-1.0, 1.0); y1 = x.clamp(min=0.0); y2 = x.clamp(max=0.5)", ["x"], (x) =>
    ys(T.clamp(x!, -1, 1), T.clamp(x!, 0), T.clamp(x!, null, 0.5)),
  ),
  edge_clamp_min_gt_max: unary("y = x.clamp(2.0, 1.0)", (x) => T.clamp(x, 2, 1)),
  edge_compare_nan: on(
    "y = a == b; y1 = a != b; y2 = a < b; y3 = a <= b; y4 = a > b; y5 = a >= b",
    ["a", "b"],
    (a, b) => ys(T.eq(a!, b!), T.ne(a!, b!), T.lt(a!, b!), T.le(a!, b!), T.gt(a!, b!), T.ge(a!, b!)),
  ),
  edge_where_nan: on("y = torch.where(cond.bool(), a, b)", ["cond", "a", "b"], (c, a, b) =>
    ys(T.where(c!, a!, b!)),
  ),
  edge_masked_fill_nan_inf: on(
    "y = x.masked_fill(mask.bool(), float('nan')); y1 = x.masked_fill(mask.bool(), float('-inf'))",
    ["x", "mask"],
    (x, m) => ys(T.maskedFill(x!, m!, Number.NaN), T.maskedFill(x!, m!, Number.NEGATIVE_INFINITY)),
  ),
  edge_bcast_size1_size0: on(
    "y = a + b; y1 = c * d; y2 = torch.where(m.bool(), c, 1.0)",
    ["a", "b", "c", "d", "m"],
    (a, b, c, d, m) => ys(T.add(a!, b!), T.mul(c!, d!), T.where(m!, c!, 1.0)),
  ),
  edge_bcast_scalar0d: on("y = a + s; y1 = s * b", ["a", "s", "b"], (a, s, b) =>
    ys(T.add(a!, s!), T.mul(s!, b!)),
  ),

  // ---- int32 (torch: int64) and bool ----
  edge_int_arith: on("y = a + b; y1 = a - b; y2 = a * b; y3 = a / b", ["a", "b"], (a, b) =>
    ys(T.add(a!, b!), T.sub(a!, b!), T.mul(a!, b!), T.div(a!, b!)),
  ),
  edge_int_unary_scalar: on("y = -a; y1 = a.abs(); y2 = a * 3; y3 = a + 0.5; y4 = a[:4] ** 2", ["a"], (a) =>
    ys(T.neg(a!), T.abs(a!), T.mul(a!, 3), T.add(a!, 0.5), T.pow(a!.slice(0, 0, 4), 2)),
  ),
  edge_int_compare_where: on(
    "y = a > b; y1 = a == b; y2 = torch.where(a > b, a, b); y3 = a * m.bool()",
    ["a", "b", "m"],
    (a, b, m) => ys(T.gt(a!, b!), T.eq(a!, b!), T.where(T.gt(a!, b!), a!, b!), T.mul(a!, m!)),
  ),
  edge_int_reductions: on(
    "y = a.sum(dim=1); y1 = a.prod(dim=1); y2 = a.amax(dim=0); y3 = a.argmax(dim=1); y4 = a.argmin(dim=0); y5 = a.sum()",
    ["a"],
    (a) => ys(T.sum(a!, 1), T.prod(a!, 1), T.amax(a!, 0), T.argmax(a!, 1), T.argmin(a!, 0), T.sum(a!)),
  ),
  edge_int_masked_fill_clamp_matmul: on(
    "y = a.masked_fill(m.bool(), 2.7); y1 = a.clamp(-1, 3); y2 = a @ b",
    ["a", "m", "b"],
    (a, m, b) => ys(T.maskedFill(a!, m!, 2.7), T.clamp(a!, -1, 3), T.matmul(a!, b!)),
  ),
  edge_bool_ops: on(
    "y = m.bool().sum(); y1 = m.bool().sum(dim=0); y2 = m.bool() & n.bool(); y3 = m.bool() | n.bool(); y4 = ~m.bool()",
    ["m", "n"],
    (m, n) => ys(T.sum(m!), T.sum(m!, 0), T.logicalAnd(m!, n!), T.logicalOr(m!, n!), T.logicalNot(m!)),
  ),

  // ---- reductions ----
  edge_reduce_nan_inf: on(
    "y = x.sum(dim=1); y1 = x.mean(dim=1); y2 = x.prod(dim=1); y3 = x.amax(dim=1); y4 = x.amin(dim=1, keepdim=True)",
    ["x"],
    (x) => ys(T.sum(x!, 1), T.mean(x!, 1), T.prod(x!, 1), T.amax(x!, 1), T.amin(x!, 1, true)),
  ),
  edge_argmax_nan: on(
    "y = x.argmax(dim=1); y1 = x.argmin(dim=1); y2 = x.argmax(); y3 = x.argmin(dim=0, keepdim=True)",
    ["x"],
    (x) => ys(T.argmax(x!, 1), T.argmin(x!, 1), T.argmax(x!), T.argmin(x!, 0, true)),
  ),
  edge_max_dim_nan: on("y, indices = torch.max(x, dim=1); y1 = x.max()", ["x"], (x) => {
    const r = T.max(x!, 1);
    return { y: r.values, indices: r.indices, y1: T.max(x!) };
  }),
  edge_max_min_ties_inf: on(
    "y, indices = torch.max(x, dim=0, keepdim=True); y1, indices1 = torch.min(x, dim=1)",
    ["x"],
    (x) => {
      const mx = T.max(x!, 0, true);
      const mn = T.min(x!, 1);
      return { y: mx.values, indices: mx.indices, y1: mn.values, indices1: mn.indices };
    },
  ),
  edge_reduce_empty_dim: on(
    "y = x.sum(dim=1); y1 = x.prod(dim=1); y2 = x.mean(dim=1); y3 = x.sum(dim=1, keepdim=True); y4 = x.sum(dim=0); y5 = x.sum()",
    ["x"],
    (x) => ys(T.sum(x!, 1), T.prod(x!, 1), T.mean(x!, 1), T.sum(x!, 1, true), T.sum(x!, 0), T.sum(x!)),
  ),
  edge_reduce_empty_rows: on(
    "y = x.sum(dim=0); y1 = x.mean(dim=0); y2 = x.prod(dim=0); y3 = x.mean(); y4 = x.amax(dim=1)",
    ["x"],
    (x) => ys(T.sum(x!, 0), T.mean(x!, 0), T.prod(x!, 0), T.mean(x!), T.amax(x!, 1)),
  ),
  edge_sum_keepdim_size1: on("y = x.sum(dim=(0, 2), keepdim=True); y1 = x.mean(dim=-1)", ["x"], (x) =>
    ys(T.sum(x!, [0, 2], true), T.mean(x!, -1)),
  ),
  edge_var_single: on("y = x.var(dim=1); y1 = x.var(dim=1, unbiased=False); y2 = x.var(dim=0)", ["x"], (x) =>
    ys(T.var(x!, 1), T.var(x!, 1, { unbiased: false }), T.var(x!, 0)),
  ),
  edge_logsumexp: on("y = torch.logsumexp(x, dim=1); y1 = torch.logsumexp(z, dim=1)", ["x", "z"], (x, z) =>
    ys(T.logsumexp(x!, 1), T.logsumexp(z!, 1)),
  ),

  // ---- softmax family ----
  edge_softmax_inf: unary("y = F.softmax(x, dim=-1)", (x) => T.softmax(x, -1)),
  edge_log_softmax_inf: unary("y = F.log_softmax(x, dim=-1)", (x) => T.logSoftmax(x, -1)),
  edge_softmax_dim0_inf: on("y = F.softmax(x, dim=0); y1 = F.log_softmax(x, dim=0)", ["x"], (x) =>
    ys(T.softmax(x!, 0), T.logSoftmax(x!, 0)),
  ),
  edge_softmax_size1_empty: on(
    "y = F.softmax(a, dim=1); y1 = F.log_softmax(a, dim=1); y2 = F.softmax(b, dim=1); y3 = F.softmax(c, dim=0)",
    ["a", "b", "c"],
    (a, b, c) => ys(T.softmax(a!, 1), T.logSoftmax(a!, 1), T.softmax(b!, 1), T.softmax(c!, 0)),
  ),

  // ---- layer norm ----
  edge_layer_norm_constant: on(
    "y = F.layer_norm(x, (5,), weight, bias, eps=1e-5)",
    ["x", "weight", "bias"],
    (x, w, b) => ys(T.layerNorm(x!, [5], w!, b!, 1e-5)),
  ),
  edge_layer_norm_eps0_constant: unary("y = F.layer_norm(x, (4,), eps=0.0)", (x) =>
    T.layerNorm(x, [4], null, null, 0),
  ),

  // ---- linalg ----
  edge_matmul_k0: on("y = torch.matmul(a, b)", ["a", "b"], (a, b) => ys(T.matmul(a!, b!))),
  edge_matmul_m0_n0: on(
    "y = torch.matmul(a, b); y1 = torch.matmul(b.t(), a.t()); y2 = torch.matmul(c, d)",
    ["a", "b", "c", "d"],
    (a, b, c, d) => ys(T.matmul(a!, b!), T.matmul(b!.transpose(0, 1), a!.transpose(0, 1)), T.matmul(c!, d!)),
  ),
  edge_matmul_nan_inf: on("y = torch.matmul(a, b)", ["a", "b"], (a, b) => ys(T.matmul(a!, b!))),
  edge_matmul_bcast_size1: on(
    "y = torch.matmul(a, b); y1 = torch.matmul(v, w)",
    ["a", "b", "v", "w"],
    (a, b, v, w) => ys(T.matmul(a!, b!), T.matmul(v!, w!)),
  ),

  // ---- manipulation ----
  edge_cat_empty: on(
    "y = torch.cat([a, b, c], dim=1); y1 = torch.cat([d, a], dim=0); y2 = torch.cat([a, e], dim=0)",
    ["a", "b", "c", "d", "e"],
    (a, b, c, d, e) => ys(T.cat([a!, b!, c!], 1), T.cat([d!, a!], 0), T.cat([a!, e!], 0)),
  ),
  edge_stack_empty: on("y = torch.stack([a, b], dim=1)", ["a", "b"], (a, b) => ys(T.stack([a!, b!], 1))),
  edge_gather_indices: on(
    "y = torch.gather(x, 1, index); y1 = torch.gather(x, 1, index[:, :0])",
    ["x", "index"],
    (x, idx) => ys(T.gather(x!, 1, idx!), T.gather(x!, 1, idx!.slice(1, 0, 0))),
  ),
  edge_index_select_indices: on(
    "y = torch.index_select(x, 0, index); y1 = torch.index_select(x, 1, index[:0]); y2 = torch.index_select(x, 1, index[-1:])",
    ["x", "index"],
    (x, idx) =>
      ys(
        T.indexSelect(x!, 0, idx!),
        T.indexSelect(x!, 1, idx!.slice(0, 0, 0)),
        T.indexSelect(x!, 1, idx!.slice(0, -1)),
      ),
  ),
  edge_embedding_repeat: on("y = F.embedding(index, weight)", ["index", "weight"], (idx, w) =>
    ys(T.embedding(w!, idx!)),
  ),

  // ---- conv and pooling ----
  edge_conv2d_1x1_spatial: on(
    "y = F.conv2d(x, weight, bias, padding=1)",
    ["x", "weight", "bias"],
    (x, w, b) => ys(T.conv2d(x!, w!, b!, { padding: 1 })),
  ),
  edge_conv2d_size1_height: on(
    "y = F.conv2d(x, weight, stride=(1, 2), padding=(0, 1))",
    ["x", "weight"],
    (x, w) => ys(T.conv2d(x!, w!, null, { stride: [1, 2], padding: [0, 1] })),
  ),
  edge_conv2d_nan: on("y = F.conv2d(x, weight)", ["x", "weight"], (x, w) => ys(T.conv2d(x!, w!))),
  edge_max_pool2d_size1: on("y = F.max_pool2d(x, (1, 2)); y1 = F.max_pool2d(x, 1)", ["x"], (x) =>
    ys(T.maxPool2d(x!, [1, 2]), T.maxPool2d(x!, 1)),
  ),
  edge_max_pool2d_pad_neg_inf: unary("y = F.max_pool2d(x, 3, stride=1, padding=1)", (x) =>
    T.maxPool2d(x, 3, { stride: 1, padding: 1 }),
  ),
  edge_avg_pool2d_size1: on(
    "y = F.avg_pool2d(x, (1, 3), stride=(1, 2), padding=(0, 1)); y1 = F.avg_pool2d(x, 1)",
    ["x"],
    (x) => ys(T.avgPool2d(x!, [1, 3], { stride: [1, 2], padding: [0, 1] }), T.avgPool2d(x!, 1)),
  ),
  edge_adaptive_avg_pool2d_up: on(
    "y = F.adaptive_avg_pool2d(x, (2, 3)); y1 = F.adaptive_avg_pool2d(z, (1, 2))",
    ["x", "z"],
    (x, z) => ys(T.adaptiveAvgPool2d(x!, [2, 3]), T.adaptiveAvgPool2d(z!, [1, 2])),
  ),

  edge_conv_pool_empty_batch: on(
    "y = F.conv2d(x, weight, bias, padding=1); y1 = F.max_pool2d(x, 2); y2 = F.avg_pool2d(x, 2); y3 = F.adaptive_avg_pool2d(x, 3); y4 = F.interpolate(x, size=(5, 3), mode='bilinear', align_corners=False)",
    ["x", "weight", "bias"],
    (x, w, b) =>
      ys(
        T.conv2d(x!, w!, b!, { padding: 1 }),
        T.maxPool2d(x!, 2),
        T.avgPool2d(x!, 2),
        T.adaptiveAvgPool2d(x!, 3),
        bilinear([5, 3], false)(x!),
      ),
  ),

  // ---- interpolation ----
  edge_interp_bilinear_same_h: unary(
    "y = F.interpolate(x, size=(4, 9), mode='bilinear', align_corners=False)",
    bilinear([4, 9], false),
  ),
  edge_interp_bilinear_same_w_align: unary(
    "y = F.interpolate(x, size=(7, 5), mode='bilinear', align_corners=True)",
    bilinear([7, 5], true),
  ),
  edge_interp_identity: on(
    "y = F.interpolate(x, size=(4, 5), mode='bilinear', align_corners=False); y1 = F.interpolate(x, size=(4, 5), mode='nearest')",
    ["x"],
    (x) => ys(bilinear([4, 5], false)(x!), T.interpolate(x!, { size: [4, 5], mode: "nearest" })),
  ),
  edge_interp_from_1x1: on(
    "y = F.interpolate(x, size=(3, 4), mode='bilinear', align_corners=False); y1 = F.interpolate(x, size=(3, 4), mode='bilinear', align_corners=True); y2 = F.interpolate(x, size=(2, 3), mode='nearest')",
    ["x"],
    (x) =>
      ys(
        bilinear([3, 4], false)(x!),
        bilinear([3, 4], true)(x!),
        T.interpolate(x!, { size: [2, 3], mode: "nearest" }),
      ),
  ),
  edge_interp_to_1x1_align: on(
    "y = F.interpolate(x, size=(1, 1), mode='bilinear', align_corners=True); y1 = F.interpolate(x, size=(1, 3), mode='bilinear', align_corners=False)",
    ["x"],
    (x) => ys(bilinear([1, 1], true)(x!), bilinear([1, 3], false)(x!)),
  ),
  edge_interp_nan: unary(
    "y = F.interpolate(x, size=(2, 6), mode='bilinear', align_corners=False)",
    bilinear([2, 6], false),
  ),

  // ---- losses ----
  edge_cross_entropy_all_ignored: on(
    "y = F.cross_entropy(x, target, ignore_index=-100); y1 = F.cross_entropy(x, target, reduction='sum'); y2 = F.cross_entropy(x, target, reduction='none')",
    ["x", "target"],
    (x, t) =>
      ys(
        T.crossEntropy(x!, t!, { ignoreIndex: -100 }),
        T.crossEntropy(x!, t!, { reduction: "sum" }),
        T.crossEntropy(x!, t!, { reduction: "none" }),
      ),
  ),
  edge_cross_entropy_neg_inf: on(
    "y = F.cross_entropy(x, target, reduction='none'); y1 = F.cross_entropy(x, target)",
    ["x", "target"],
    (x, t) => ys(T.crossEntropy(x!, t!, { reduction: "none" }), T.crossEntropy(x!, t!)),
  ),
  edge_cross_entropy_smoothing_neg_inf: on(
    "y = F.cross_entropy(x, target, label_smoothing=0.1, reduction='none')",
    ["x", "target"],
    (x, t) => ys(T.crossEntropy(x!, t!, { labelSmoothing: 0.1, reduction: "none" })),
  ),
  edge_cross_entropy_weight_ignored: on(
    "y = F.cross_entropy(x, target, weight=w); y1 = F.cross_entropy(x, target, weight=w, ignore_index=2, reduction='none'); y2 = F.cross_entropy(x[:2], target[:2], weight=w, ignore_index=0)",
    ["x", "target", "w"],
    (x, t, w) =>
      ys(
        T.crossEntropy(x!, t!, { weight: w! }),
        T.crossEntropy(x!, t!, { weight: w!, ignoreIndex: 2, reduction: "none" }),
        T.crossEntropy(x!.slice(0, 0, 2), t!.slice(0, 0, 2), { weight: w!, ignoreIndex: 0 }),
      ),
  ),
  edge_cross_entropy_empty: on(
    "y = F.cross_entropy(x, target); y1 = F.cross_entropy(x, target, reduction='sum')",
    ["x", "target"],
    (x, t) => ys(T.crossEntropy(x!, t!), T.crossEntropy(x!, t!, { reduction: "sum" })),
  ),
  edge_mse_l1_nan_inf_empty: on(
    "y = F.mse_loss(a, b, reduction='none'); y1 = F.l1_loss(a, b); y2 = F.mse_loss(c, c)",
    ["a", "b", "c"],
    (a, b, c) => ys(T.mseLoss(a!, b!, { reduction: "none" }), T.l1Loss(a!, b!), T.mseLoss(c!, c!)),
  ),
};
