#!/usr/bin/python3
"""Generate PyTorch edge-case goldens for Tessera's conformance suite.

Writes packages/conformance/fixtures/torch-edge/<case>.safetensors (one op case
per file) plus index.json, in the format of the shared torch goldens
(torch-oracle-v1, see packages/conformance/fixtures/torch/README.md). The inputs
are chosen to hit edge semantics: NaN/+-Inf, negative zero, 0-size dims,
size-1 broadcasting, all -inf softmax rows, ignored targets, int/bool dtypes.

Conventions on top of the shared format:
* Every case's `call` is executed verbatim (exec) to produce the outputs, so
  the metadata is the exact torch expression.
* Bool inputs and bool outputs are stored as I64 0/1 and listed in
  `bool_inputs` / `bool_outputs`; the call converts inputs with `.bool()`.
* Integer inputs are int64 in torch (values and results fit in int32) and are
  listed in `int_inputs`; Tessera reads them as int32.
* `signed_zero` = "true" asks the comparison to distinguish -0.0 from +0.0
  (Object.is); otherwise zeros compare by value.
* `tolerance.forward` = rtol 1e-5, atol = max(1e-7, 10 x torch's own
  float32-vs-float64 error beyond rtol), rounded up to 1/2/5 x 10^k.

Run with Debian's python3-torch (1.13): /usr/bin/python3 make_torch_edge_cases.py
Nothing here runs at test time; the tests read the generated files.
"""

import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F

OUT_DIR = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "torch-edge")
FORMAT = "torch-oracle-v1"
RTOL = 1e-5
INF = float("inf")
NAN = float("nan")

# The edge vector every elementwise op sees.
EDGE = [-INF, -1e30, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 2.5, 1e30, INF, NAN]
# Halfway points for round (half to even) and floor/ceil.
HALVES = [-2.5, -1.5, -0.5, -0.0, 0.0, 0.5, 1.5, 2.5, 3.5, -3.5, 0.49999997,
          -0.49999997, 8388609.0, -INF, INF, NAN]


def f32(values, shape=None):
    t = torch.tensor(values, dtype=torch.float32)
    return t.reshape(shape) if shape is not None else t


def i64(values, shape=None):
    t = torch.tensor(values, dtype=torch.int64)
    return t.reshape(shape) if shape is not None else t


def randn(*shape, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float32)


CASES = []


def case(name, call, inputs, description, *, bool_inputs=(), int_inputs=(),
         signed_zero=False, config=None, note=None):
    """Registers one op case; `inputs` maps names to tensors (int64 for
    int/bool)."""
    CASES.append(dict(name=name, call=call, inputs=inputs,
                      description=description, bool_inputs=list(bool_inputs),
                      int_inputs=list(int_inputs), signed_zero=signed_zero,
                      config=config or {}, note=note))


# ---------------------------------------------------------------- unary ops
UNARY = [
    ("exp", "y = torch.exp(x)", True),
    ("log", "y = torch.log(x)", False),
    ("log1p", "y = torch.log1p(x)", True),
    ("expm1", "y = torch.expm1(x)", True),
    ("sqrt", "y = torch.sqrt(x)", True),
    ("rsqrt", "y = torch.rsqrt(x)", True),
    ("reciprocal", "y = torch.reciprocal(x)", True),
    ("tanh", "y = torch.tanh(x)", True),
    ("sigmoid", "y = torch.sigmoid(x)", False),
    ("relu", "y = F.relu(x)", False),
    ("gelu_erf", "y = F.gelu(x)", False),
    ("gelu_tanh", "y = F.gelu(x, approximate='tanh')", False),
    ("silu", "y = F.silu(x)", False),
    ("abs", "y = torch.abs(x)", True),
    ("neg", "y = torch.neg(x)", True),
    ("erf", "y = torch.erf(x)", True),
    ("sin", "y = torch.sin(x)", True),
    ("cos", "y = torch.cos(x)", False),
]
for op, call, sz in UNARY:
    case(f"edge_{op}", call, {"x": f32(EDGE)},
         f"{op} on [-inf, -1e30, -1, -0.5, -0, 0, 0.5, 1, 2.5, 1e30, inf, nan]",
         signed_zero=sz)
# torch.sign(nan) is 0 and torch.sign(-0.0) is +0 (pytorch/pytorch#41245, open);
# Tessera deliberately propagates NaN and keeps the zero's sign, like NumPy, so
# this case leaves NaN out and compares zeros by value (see edge-cases.ts).
case("edge_sign", "y = torch.sign(x)", {"x": f32(EDGE[:-1])},
     "sign on the edge vector without NaN (Tessera deviates on NaN)")
for op in ("floor", "ceil", "round"):
    case(f"edge_{op}", f"y = torch.{op}(x)", {"x": f32(HALVES)},
         f"{op} on halfway points, +-0, 0.49999997, 2^23+1, +-inf, nan"
         + (" (round: half to even)" if op == "round" else ""),
         signed_zero=True)
case("edge_isnan", "y = torch.isnan(x)", {"x": f32(EDGE)},
     "isnan on the edge vector (bool output)")
case("edge_unary_empty", "y = torch.exp(x); y1 = torch.sqrt(x).neg()",
     {"x": torch.zeros(0, 3)}, "unary ops on a 0x3 tensor")

# --------------------------------------------------------------- binary ops
POW_X = [0.0, 0.0, -8.0, -8.0, 2.0, 0.5, 2.0, 0.5, -1.0, -1.0, 1.0, 1.0,
         NAN, NAN, INF, -INF, -0.0, -0.0, -0.0, 0.0, -INF, -2.0, 0.0, INF]
POW_E = [0.0, -1.0, 1.0 / 3.0, 3.0, INF, INF, -INF, -INF, INF, NAN, NAN, INF,
         0.0, 1.0, -1.0, 3.0, -1.0, 2.0, 0.5, -INF, -2.0, 0.5, INF, 0.0]
case("edge_pow_tensor", "y = torch.pow(x, e)",
     {"x": f32(POW_X), "e": f32(POW_E)},
     "pow with 0**0, 0**-1, (-8)**(1/3), +-inf exponents, (-1)**inf, "
     "1**nan, nan**0, (-0)**-1, (-0)**0.5", signed_zero=True)
case("edge_pow_scalar", "y = x ** 0; y1 = x ** 0.5; y2 = x ** -1; y3 = x ** 2",
     {"x": f32(EDGE)}, "x**0 (nan**0 = 1), x**0.5, x**-1, x**2 on the edge "
     "vector", signed_zero=True)
DIV_A = [1.0, -1.0, 0.0, -0.0, NAN, INF, -INF, 1.0, -1.0, 0.0, INF, 1e30]
DIV_B = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.0, -0.0, -0.0, INF, 1e-30]
case("edge_div_zero", "y = a / b", {"a": f32(DIV_A), "b": f32(DIV_B)},
     "division by +0 and -0 (signed infinities), 0/0, inf/inf, 1e30/1e-30 "
     "(overflow)", signed_zero=True)
ADD_A = [INF, INF, -0.0, -0.0, 0.0, NAN, 1e30, -1e30, INF, 3.0]
ADD_B = [-INF, INF, -0.0, 0.0, -0.0, 1.0, 1e30, -1e30, 0.0, -3.0]
case("edge_add_sub_mul", "y = a + b; y1 = a - b; y2 = a * b",
     {"a": f32(ADD_A), "b": f32(ADD_B)},
     "inf-inf, -0+-0, -0+0, nan, float32 overflow 1e30*1e30, inf*0, 3-3",
     signed_zero=True)
case("edge_maximum_minimum_nan",
     "y = torch.maximum(a, b); y1 = torch.minimum(a, b)",
     {"a": f32([NAN, 1.0, NAN, -INF, INF, 2.0, -1.0]),
      "b": f32([1.0, NAN, NAN, NAN, -INF, 2.0, -INF])},
     "maximum/minimum propagate NaN from either side")
case("edge_clamp_nan", "y = x.clamp(-1.0, 1.0); y1 = x.clamp(min=0.0); "
     "y2 = x.clamp(max=0.5)", {"x": f32(EDGE)},
     "clamp keeps NaN, maps +-inf to the bounds")
case("edge_clamp_min_gt_max", "y = x.clamp(2.0, 1.0)", {"x": f32(EDGE)},
     "clamp with min > max sets everything (but NaN) to max")
CMP_A = [NAN, NAN, 1.0, -0.0, INF, -INF, INF, 1.0]
CMP_B = [NAN, 1.0, NAN, 0.0, INF, -INF, 1e30, 2.0]
case("edge_compare_nan",
     "y = a == b; y1 = a != b; y2 = a < b; y3 = a <= b; y4 = a > b; "
     "y5 = a >= b", {"a": f32(CMP_A), "b": f32(CMP_B)},
     "comparisons with NaN are false (!= true), -0 == 0, inf == inf")
case("edge_where_nan",
     "y = torch.where(cond.bool(), a, b)",
     {"cond": i64([[1], [0], [1]]),
      "a": f32([NAN, -0.0, INF, 1.0]),
      "b": f32([[-INF], [NAN], [0.0]])},
     "where selecting NaN/inf/-0 with size-1 broadcasting of all three",
     bool_inputs=["cond"], signed_zero=True)
case("edge_masked_fill_nan_inf",
     "y = x.masked_fill(mask.bool(), float('nan')); "
     "y1 = x.masked_fill(mask.bool(), float('-inf'))",
     {"x": f32(EDGE[:6] + EDGE[6:], (2, 6)), "mask": i64([1, 0, 0, 1, 0, 1])},
     "masked_fill with a NaN / -inf value, mask broadcast over rows",
     bool_inputs=["mask"])
case("edge_bcast_size1_size0",
     "y = a + b; y1 = c * d; y2 = torch.where(m.bool(), c, 1.0)",
     {"a": randn(3, 1, seed=1), "b": randn(1, 0, seed=2),
      "c": randn(0, 1, seed=3), "d": randn(1, 4, seed=4),
      "m": i64([1, 0, 1, 1])},
     "broadcasting (3,1)+(1,0) -> (3,0), (0,1)*(1,4) -> (0,4), where with "
     "a 0-size operand", bool_inputs=["m"])
case("edge_bcast_scalar0d",
     "y = a + s; y1 = s * b",
     {"a": randn(2, 1, 3, seed=5), "s": f32(NAN, ()), "b": randn(1, 4, seed=6)},
     "a 0-d NaN broadcast against (2,1,3) and (1,4)")

# ------------------------------------------------------------- int and bool
IA = [7, -7, 7, -7, 0, 2147483647, -2147483647, 46340, 3, 100000]
IB = [2, 2, -2, -2, 5, 0, 1, 46340, 0, -3]
case("edge_int_arith",
     "y = a + b; y1 = a - b; y2 = a * b; y3 = a / b",
     {"a": i64(IA[:5] + [5, -5, 46340, 3, 100000]),
      "b": i64(IB[:5] + [0, 1, 46340, 0, -3])},
     "int arithmetic (results fit in int32); / is true division to float "
     "(7/-2 = -3.5, 3/0 = inf, 0/5 = 0)", int_inputs=["a", "b"])
case("edge_int_unary_scalar",
     "y = -a; y1 = a.abs(); y2 = a * 3; y3 = a + 0.5; y4 = a[:4] ** 2",
     {"a": i64([-5, 0, 7, -46340, 2147483647 // 3])},
     "int neg/abs, int*int-scalar stays int, int+float-scalar promotes to "
     "float32, int**2 stays int", int_inputs=["a"])
case("edge_int_compare_where",
     "y = a > b; y1 = a == b; y2 = torch.where(a > b, a, b); "
     "y3 = a * m.bool()",
     {"a": i64([1, -2, 3, 4]), "b": i64([1, 2, -3, 5]),
      "m": i64([1, 0, 1, 0])},
     "int comparisons give bool, where on ints, int * bool stays int",
     int_inputs=["a", "b"], bool_inputs=["m"])
case("edge_int_reductions",
     "y = a.sum(dim=1); y1 = a.prod(dim=1); y2 = a.amax(dim=0); "
     "y3 = a.argmax(dim=1); y4 = a.argmin(dim=0); y5 = a.sum()",
     {"a": i64([[3, -1, 3, 2], [-4, 5, 5, -4], [0, 0, 1, 0]])},
     "int sum/prod/amax stay int (values fit int32); argmax/argmin pick the "
     "first of ties", int_inputs=["a"])
case("edge_int_masked_fill_clamp_matmul",
     "y = a.masked_fill(m.bool(), 2.7); y1 = a.clamp(-1, 3); y2 = a @ b",
     {"a": i64([[-5, 0, 7], [2, -2, 9]]), "m": i64([1, 0, 1]),
      "b": i64([[1, -2], [3, 0], [-1, 4]])},
     "int masked_fill with a float value truncates (2.7 -> 2), int clamp, "
     "int matmul", int_inputs=["a", "b"], bool_inputs=["m"])
case("edge_bool_ops",
     "y = m.bool().sum(); y1 = m.bool().sum(dim=0); "
     "y2 = m.bool() & n.bool(); y3 = m.bool() | n.bool(); y4 = ~m.bool()",
     {"m": i64([[1, 0, 1], [1, 1, 0]]), "n": i64([[0, 0, 1], [1, 0, 1]])},
     "sum of bool counts (int); and/or/not of bool masks",
     bool_inputs=["m", "n"])

# ---------------------------------------------------------------- reductions
RED_X = f32([[1.0, NAN, 3.0, -2.0],
             [INF, -INF, 0.0, 1.0],
             [-1.0, 2.0, 2.0, -INF],
             [NAN, NAN, -5.0, 7.0]])
case("edge_reduce_nan_inf",
     "y = x.sum(dim=1); y1 = x.mean(dim=1); y2 = x.prod(dim=1); "
     "y3 = x.amax(dim=1); y4 = x.amin(dim=1, keepdim=True)",
     {"x": RED_X},
     "sum/mean/prod/amax/amin per row with NaN (propagates) and inf-inf "
     "(NaN)")
case("edge_argmax_nan",
     "y = x.argmax(dim=1); y1 = x.argmin(dim=1); y2 = x.argmax(); "
     "y3 = x.argmin(dim=0, keepdim=True)",
     {"x": RED_X},
     "argmax/argmin: NaN wins (first NaN), ties pick the first index")
case("edge_max_dim_nan",
     "y, indices = torch.max(x, dim=1); y1 = x.max()",
     {"x": RED_X}, "torch.max(x, dim) with NaN: value NaN, index of the NaN")
case("edge_max_min_ties_inf",
     "y, indices = torch.max(x, dim=0, keepdim=True); "
     "y1, indices1 = torch.min(x, dim=1)",
     {"x": f32([[-INF, -INF, 2.0], [-INF, 5.0, 2.0], [-INF, 5.0, -INF]])},
     "max/min with all -inf columns and ties: first index")
case("edge_reduce_empty_dim",
     "y = x.sum(dim=1); y1 = x.prod(dim=1); y2 = x.mean(dim=1); "
     "y3 = x.sum(dim=1, keepdim=True); y4 = x.sum(dim=0); y5 = x.sum()",
     {"x": torch.zeros(3, 0)},
     "reductions over an empty dim: sum 0, prod 1, mean NaN; reducing the "
     "non-empty dim keeps a 0-size result")
case("edge_reduce_empty_rows",
     "y = x.sum(dim=0); y1 = x.mean(dim=0); y2 = x.prod(dim=0); "
     "y3 = x.mean(); y4 = x.amax(dim=1)",
     {"x": torch.zeros(0, 4)},
     "(0,4): sum/prod over dim 0 give zeros/ones(4), mean NaN; amax over the "
     "non-empty dim gives shape (0,)")
case("edge_sum_keepdim_size1",
     "y = x.sum(dim=(0, 2), keepdim=True); y1 = x.mean(dim=-1)",
     {"x": f32([[[1.0], [-0.0], [INF]]])},
     "reductions over size-1 dims (1,3,1) with keepdim")
case("edge_var_single",
     "y = x.var(dim=1); y1 = x.var(dim=1, unbiased=False); "
     "y2 = x.var(dim=0)",
     {"x": f32([[2.0], [NAN], [INF]])},
     "unbiased var of one element is NaN (n-1 = 0), biased 0; NaN/inf give "
     "NaN")
case("edge_logsumexp",
     "y = torch.logsumexp(x, dim=1); y1 = torch.logsumexp(z, dim=1)",
     {"x": f32([[-INF, -INF, -INF], [INF, 0.0, 1.0], [NAN, 0.0, 1.0],
                [1e30, 1e30, 0.0], [-INF, 0.0, -INF]]),
      "z": torch.zeros(2, 0)},
     "logsumexp: all -inf row -> -inf, +inf -> inf, NaN, 1e30 + log 2; "
     "over an empty dim -> -inf")

# ----------------------------------------------------------- softmax family
SM_X = f32([[-INF, 0.0, 1.0, 2.0],
            [-INF, -INF, -INF, -INF],
            [INF, 0.0, 1.0, 2.0],
            [1e30, 0.0, -1e30, 1.0],
            [NAN, 0.0, 1.0, 2.0],
            [-INF, -INF, 5.0, -INF]])
case("edge_softmax_inf", "y = F.softmax(x, dim=-1)", {"x": SM_X},
     "softmax rows with -inf entries, all -inf (NaN), +inf (NaN), 1e30, NaN")
case("edge_log_softmax_inf", "y = F.log_softmax(x, dim=-1)", {"x": SM_X},
     "log_softmax of the same rows (-inf where p = 0)")
case("edge_softmax_dim0_inf", "y = F.softmax(x, dim=0); "
     "y1 = F.log_softmax(x, dim=0)", {"x": SM_X.t().contiguous()},
     "softmax/log_softmax over dim 0 with -inf/inf/NaN columns")
case("edge_softmax_size1_empty",
     "y = F.softmax(a, dim=1); y1 = F.log_softmax(a, dim=1); "
     "y2 = F.softmax(b, dim=1); y3 = F.softmax(c, dim=0)",
     {"a": f32([[3.0], [-INF], [NAN]]), "b": torch.zeros(2, 0),
      "c": torch.zeros(0, 3)},
     "softmax over a size-1 dim is 1 (log 0) except -inf/NaN; empty inputs")

# --------------------------------------------------------------- layer norm
LN_X = f32([[3.0] * 5, [-2.0] * 5, [0.0] * 5, [-0.0] * 5,
            [1.0, NAN, 0.0, 2.0, 3.0], [1.0, INF, 0.0, 2.0, 3.0],
            [0.0, 1.0, 2.0, 3.0, 4.0]])
case("edge_layer_norm_constant",
     "y = F.layer_norm(x, (5,), weight, bias, eps=1e-5)",
     {"x": LN_X, "weight": randn(5, seed=11), "bias": randn(5, seed=12)},
     "layer_norm of constant rows gives bias; NaN/inf rows give NaN")
case("edge_layer_norm_eps0_constant",
     "y = F.layer_norm(x, (4,), eps=0.0)",
     {"x": f32([[2.0] * 4, [0.0, 1.0, 2.0, 3.0]])},
     "layer_norm with eps=0 of a constant row is 0/0 = NaN")

# ---------------------------------------------------------------- linalg
case("edge_matmul_k0",
     "y = torch.matmul(a, b)", {"a": torch.zeros(3, 0), "b": torch.zeros(0, 4)},
     "matmul with K = 0 gives zeros (3,4)")
case("edge_matmul_m0_n0",
     "y = torch.matmul(a, b); y1 = torch.matmul(b.t(), a.t()); "
     "y2 = torch.matmul(c, d)",
     {"a": torch.zeros(0, 5), "b": randn(5, 4, seed=21),
      "c": torch.zeros(0, 3, 5), "d": randn(5, 2, seed=22)},
     "matmul with M = 0 (0,4), N = 0 (4,0) and an empty batch (0,3,2)")
case("edge_matmul_nan_inf",
     "y = torch.matmul(a, b)",
     {"a": f32([[INF, 1.0, 0.0], [0.0, 0.0, 0.0], [1.0, NAN, 1.0],
                [1.0, 2.0, 3.0]]),
      "b": f32([[0.0, 1.0], [0.0, 0.0], [2.0, 3.0]])},
     "matmul: inf*0 is NaN, NaN*0 is NaN (no zero skipping)")
case("edge_matmul_bcast_size1",
     "y = torch.matmul(a, b); y1 = torch.matmul(v, w)",
     {"a": randn(2, 1, 1, 3, seed=23), "b": randn(1, 4, 3, 1, seed=24),
      "v": randn(1, seed=25), "w": randn(3, 1, 2, seed=26)},
     "matmul with 1x1 outputs and size-1 batch broadcasting, (1,)@(3,1,2)")

# --------------------------------------------------------- manipulation
case("edge_cat_empty",
     "y = torch.cat([a, b, c], dim=1); y1 = torch.cat([d, a], dim=0); "
     "y2 = torch.cat([a, e], dim=0)",
     {"a": randn(2, 3, seed=31), "b": torch.zeros(2, 0),
      "c": randn(2, 2, seed=32), "d": torch.zeros(0, 3),
      "e": torch.zeros(0)},
     "cat with 0-size pieces, and the legacy 1-D empty tensor (skipped)")
case("edge_stack_empty", "y = torch.stack([a, b], dim=1)",
     {"a": torch.zeros(0, 3), "b": torch.zeros(0, 3)},
     "stack of two (0,3) tensors along dim 1 -> (0,2,3)")
case("edge_gather_indices",
     "y = torch.gather(x, 1, index); y1 = torch.gather(x, 1, index[:, :0])",
     {"x": f32([[NAN, 1.0, -0.0, INF], [2.0, 3.0, 4.0, 5.0]]),
      "index": i64([[3, 0, 0, 3, 2], [0, 0, 3, 1, 1]])},
     "gather with first/last/repeated indices (index wider than x) and an "
     "empty index", int_inputs=["index"], signed_zero=True)
case("edge_index_select_indices",
     "y = torch.index_select(x, 0, index); "
     "y1 = torch.index_select(x, 1, index[:0]); "
     "y2 = torch.index_select(x, 1, index[-1:])",
     {"x": randn(4, 3, seed=33), "index": i64([3, 0, 3, 0, 2])},
     "index_select with repeated first/last rows, an empty and a single "
     "index", int_inputs=["index"])
case("edge_embedding_repeat",
     "y = F.embedding(index, weight)",
     {"index": i64([[0, 4, 0], [4, 4, 1]]), "weight": randn(5, 2, seed=34)},
     "embedding with repeated first/last rows", int_inputs=["index"])

# ------------------------------------------------------- conv and pooling
case("edge_conv2d_1x1_spatial",
     "y = F.conv2d(x, weight, bias, padding=1)",
     {"x": randn(2, 3, 1, 1, seed=41), "weight": randn(4, 3, 3, 3, seed=42),
      "bias": randn(4, seed=43)},
     "conv2d k=3, pad=1 on a 1x1 image (only the centre tap)")
case("edge_conv2d_size1_height",
     "y = F.conv2d(x, weight, stride=(1, 2), padding=(0, 1))",
     {"x": randn(2, 3, 1, 5, seed=44), "weight": randn(2, 3, 1, 3, seed=45)},
     "conv2d on height 1 with a 1x3 kernel, stride (1,2)")
case("edge_conv2d_nan",
     "y = F.conv2d(x, weight)",
     {"x": f32([[[[1.0, NAN, 0.0], [0.0, 0.0, 0.0], [INF, 0.0, 0.0]]]]),
      "weight": f32([[[[0.0, 0.0], [0.0, 1.0]]]])},
     "conv2d: NaN/inf under a zero weight still give NaN")
case("edge_max_pool2d_size1",
     "y = F.max_pool2d(x, (1, 2)); y1 = F.max_pool2d(x, 1)",
     {"x": f32([[[[1.0, NAN, -INF, -INF, 3.0]], [[-0.0, 0.0, 2.0, INF,
                                                   5.0]]]])},
     "max_pool2d on height 1: NaN propagates, all -inf window -> -inf, "
     "kernel 1 is the identity")
case("edge_max_pool2d_pad_neg_inf",
     "y = F.max_pool2d(x, 3, stride=1, padding=1)",
     {"x": f32([[[[-INF, -INF], [-INF, -5.0]]]])},
     "max_pool2d padding behaves as -inf (all -inf windows stay -inf)")
case("edge_avg_pool2d_size1",
     "y = F.avg_pool2d(x, (1, 3), stride=(1, 2), padding=(0, 1)); "
     "y1 = F.avg_pool2d(x, 1)",
     {"x": f32([[[[1.0, 2.0, INF, 4.0, 5.0, 6.0]]]])},
     "avg_pool2d on height 1 with count_include_pad; inf spreads to its "
     "windows")
case("edge_adaptive_avg_pool2d_up",
     "y = F.adaptive_avg_pool2d(x, (2, 3)); y1 = F.adaptive_avg_pool2d(z, "
     "(1, 2))",
     {"x": randn(2, 2, 1, 1, seed=46), "z": randn(1, 2, 1, 5, seed=47)},
     "adaptive_avg_pool2d to a larger output from 1x1, and 1x5 -> 1x2 "
     "(overlapping windows)")

case("edge_conv_pool_empty_batch",
     "y = F.conv2d(x, weight, bias, padding=1); y1 = F.max_pool2d(x, 2); "
     "y2 = F.avg_pool2d(x, 2); y3 = F.adaptive_avg_pool2d(x, 3); "
     "y4 = F.interpolate(x, size=(5, 3), mode='bilinear', "
     "align_corners=False)",
     {"x": torch.zeros(0, 3, 4, 4), "weight": randn(2, 3, 3, 3, seed=48),
      "bias": randn(2, seed=49)},
     "conv2d, pools and interpolate on an empty batch (0,3,4,4)")

# ---------------------------------------------------------- interpolation
case("edge_interp_bilinear_same_h",
     "y = F.interpolate(x, size=(4, 9), mode='bilinear', "
     "align_corners=False)",
     {"x": randn(1, 2, 4, 5, seed=51)},
     "bilinear where the output height equals the input height")
case("edge_interp_bilinear_same_w_align",
     "y = F.interpolate(x, size=(7, 5), mode='bilinear', align_corners=True)",
     {"x": randn(1, 2, 4, 5, seed=52)},
     "bilinear align_corners=True, output width equals input width")
case("edge_interp_identity",
     "y = F.interpolate(x, size=(4, 5), mode='bilinear', "
     "align_corners=False); y1 = F.interpolate(x, size=(4, 5), "
     "mode='nearest')",
     {"x": randn(1, 2, 4, 5, seed=53)},
     "interpolate to the same size is the identity (bilinear and nearest)")
case("edge_interp_from_1x1",
     "y = F.interpolate(x, size=(3, 4), mode='bilinear', "
     "align_corners=False); y1 = F.interpolate(x, size=(3, 4), "
     "mode='bilinear', align_corners=True); y2 = F.interpolate(x, "
     "size=(2, 3), mode='nearest')",
     {"x": randn(2, 1, 1, 1, seed=54)},
     "upsampling a 1x1 image (bilinear both alignments, nearest)")
case("edge_interp_to_1x1_align",
     "y = F.interpolate(x, size=(1, 1), mode='bilinear', "
     "align_corners=True); y1 = F.interpolate(x, size=(1, 3), "
     "mode='bilinear', align_corners=False)",
     {"x": randn(1, 2, 4, 5, seed=55)},
     "downsampling to one row/pixel: align_corners=True takes index 0")
case("edge_interp_nan",
     "y = F.interpolate(x, size=(2, 6), mode='bilinear', "
     "align_corners=False)",
     {"x": f32([[[[1.0, NAN, 3.0], [INF, 0.0, 1.0]]]])},
     "bilinear spreads NaN/inf to neighbouring outputs")

# -------------------------------------------------------------- losses
case("edge_cross_entropy_all_ignored",
     "y = F.cross_entropy(x, target, ignore_index=-100); "
     "y1 = F.cross_entropy(x, target, reduction='sum'); "
     "y2 = F.cross_entropy(x, target, reduction='none')",
     {"x": randn(3, 4, seed=61), "target": i64([-100, -100, -100])},
     "cross_entropy with every target ignored: mean NaN (0/0), sum 0, none "
     "zeros", int_inputs=["target"])
case("edge_cross_entropy_neg_inf",
     "y = F.cross_entropy(x, target, reduction='none'); "
     "y1 = F.cross_entropy(x, target)",
     {"x": f32([[-INF, 0.0, 1.0], [-INF, 0.0, 1.0], [-INF, -INF, -INF],
                [1e30, 0.0, -1e30]]),
      "target": i64([1, 0, 2, 0])},
     "cross_entropy with -inf logits: finite when the target's logit is "
     "finite, inf when it is -inf, NaN for an all -inf row",
     int_inputs=["target"])
case("edge_cross_entropy_smoothing_neg_inf",
     "y = F.cross_entropy(x, target, label_smoothing=0.1, reduction='none')",
     {"x": f32([[-INF, 0.0, 1.0], [2.0, 0.0, 1.0]]), "target": i64([1, -100])},
     "label smoothing with a -inf logit (inf loss), ignored row 0",
     int_inputs=["target"])
case("edge_cross_entropy_weight_ignored",
     "y = F.cross_entropy(x, target, weight=w); "
     "y1 = F.cross_entropy(x, target, weight=w, ignore_index=2, "
     "reduction='none'); y2 = F.cross_entropy(x[:2], target[:2], "
     "weight=w, ignore_index=0)",
     {"x": randn(4, 3, seed=62), "target": i64([0, 2, 2, 1]),
      "w": f32([0.5, 2.0, 0.0])},
     "class weights: the mean divides by the summed weights of kept targets; "
     "a zero weight class; every kept target weighted 0 -> NaN",
     int_inputs=["target"])
case("edge_cross_entropy_empty",
     "y = F.cross_entropy(x, target); y1 = F.cross_entropy(x, target, "
     "reduction='sum')",
     {"x": torch.zeros(0, 3), "target": torch.zeros(0, dtype=torch.int64)},
     "cross_entropy over an empty batch: mean NaN, sum 0",
     int_inputs=["target"])
case("edge_mse_l1_nan_inf_empty",
     "y = F.mse_loss(a, b, reduction='none'); y1 = F.l1_loss(a, b); "
     "y2 = F.mse_loss(c, c)",
     {"a": f32([INF, 1.0, NAN, -INF]), "b": f32([INF, 2.0, 0.0, 1.0]),
      "c": torch.zeros(0)},
     "mse/l1 with inf-inf (NaN), NaN, and the mean over an empty tensor (NaN)")


# ------------------------------------------------------------ file writing
def tensor_bytes(t):
    t = t.contiguous()
    if t.dtype == torch.float32:
        return "F32", t.numpy().astype("<f4").tobytes()
    if t.dtype == torch.int64:
        return "I64", t.numpy().astype("<i8").tobytes()
    raise TypeError(f"unsupported dtype {t.dtype}")


def write_safetensors(path, tensors, metadata):
    """tensors: name -> torch tensor (float32 / int64). 8-byte dtypes first,
    then by name, so each offset is aligned to its element size."""
    entries = []
    for name, t in tensors.items():
        dtype, raw = tensor_bytes(t)
        entries.append((0 if dtype == "I64" else 1, name, dtype,
                        list(t.shape), raw))
    entries.sort(key=lambda e: (e[0], e[1]))
    header = {"__metadata__": metadata}
    offset = 0
    for _, name, dtype, shape, raw in entries:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for e in entries:
            f.write(e[4])


def output_names(ns):
    names = [k for k in ns if k == "y" or (k.startswith("y") and k[1:].isdigit())
             or k.startswith("indices")]
    return sorted(names, key=lambda k: (len(k), k))


def run_call(call, inputs):
    ns = {"torch": torch, "F": F, **inputs}
    exec(call, ns)  # the stored expression, verbatim
    return {k: ns[k] for k in output_names(ns)}


def nice_ceil(x):
    """Rounds up to 1, 2 or 5 x 10^k."""
    e = math.floor(math.log10(x))
    for m in (1, 2, 5, 10):
        if m * 10 ** e >= x * (1 - 1e-12):
            return float(f"{m * 10 ** e:.0e}")
    raise AssertionError


def forward_atol(outs32, outs64):
    """10 x torch's own float32-vs-float64 error beyond rtol, at least 1e-7."""
    worst = 0.0
    for k, a in outs32.items():
        b = outs64[k]
        if not a.is_floating_point() or a.numel() == 0:
            continue
        b = b.to(torch.float32).to(torch.float64)
        a = a.to(torch.float64)
        fin = torch.isfinite(a) & torch.isfinite(b)
        if fin.any():
            excess = ((a - b).abs() - RTOL * b.abs())[fin]
            worst = max(worst, float(excess.max()))
    return nice_ceil(max(1e-7, 10 * worst))


def build(c):
    inputs = c["inputs"]
    for name in c["bool_inputs"] + c["int_inputs"]:
        assert inputs[name].dtype == torch.int64, (c["name"], name)
        assert inputs[name].abs().max() < 2 ** 31 if inputs[name].numel() else True
    outs = run_call(c["call"], inputs)
    outs64 = run_call(c["call"], {k: v.double() if v.is_floating_point() else v
                                  for k, v in inputs.items()})
    tensors = {f"input.{k}": v for k, v in inputs.items()}
    bool_outputs = []
    for k, v in outs.items():
        if v.dtype == torch.bool:
            bool_outputs.append(k)
            v = v.to(torch.int64)
        elif v.dtype == torch.int64:
            if v.numel():
                assert v.abs().max() < 2 ** 31, (c["name"], k, "int32 overflow")
        elif v.dtype != torch.float32:
            raise TypeError(f"{c['name']}: output {k} is {v.dtype}")
        tensors[f"output.{k}"] = v
    tol = {"forward": {"rtol": RTOL, "atol": forward_atol(outs, outs64)}}
    metadata = {
        "format": FORMAT,
        "case": c["name"],
        "set": "torch-edge",
        "kind": "op",
        "call": c["call"],
        "config": json.dumps(c["config"]),
        "description": c["description"],
        "mode": "eval",
        "torch": torch.__version__,
        "bool_inputs": json.dumps(c["bool_inputs"]),
        "int_inputs": json.dumps(c["int_inputs"]),
        "bool_outputs": json.dumps(bool_outputs),
        "signed_zero": "true" if c["signed_zero"] else "false",
        "grad_inputs": "[]",
        "tolerance": json.dumps(tol),
    }
    path = os.path.join(OUT_DIR, f"{c['name']}.safetensors")
    write_safetensors(path, tensors, metadata)
    shapes = {k: list(v.shape) for k, v in tensors.items()}
    return {"case": c["name"], "file": f"{c['name']}.safetensors",
            "call": c["call"], "description": c["description"],
            "tensors": shapes, "tolerance": tol, "bytes": os.path.getsize(path)}


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(OUT_DIR, exist_ok=True)
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names)), "duplicate case names"
    for f in os.listdir(OUT_DIR):
        if f.endswith(".safetensors"):
            os.remove(os.path.join(OUT_DIR, f))
    index = [build(c) for c in CASES]
    with open(os.path.join(OUT_DIR, "index.json"), "w") as f:
        json.dump({"format": FORMAT, "torch": torch.__version__,
                   "count": len(index), "cases": index}, f, indent=1)
        f.write("\n")
    total = sum(e["bytes"] for e in index)
    print(f"wrote {len(index)} cases ({total} bytes) to "
          f"{os.path.normpath(OUT_DIR)}", file=sys.stderr)


if __name__ == "__main__":
    main()
