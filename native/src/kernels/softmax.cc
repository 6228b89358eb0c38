// softmax, logSoftmax: x, out | dim;  softmaxBackward, logSoftmaxBackward: y, dy, dx | dim.
// The tensor is [outer, len, inner] around dim. backend-js's arithmetic: the row max (NaN never wins
// `v > m`) is subtracted first; a row of all -Inf gives NaN, a NaN or +Inf gives a NaN row. Sums
// accumulate in float64. inner == 1 walks contiguous rows with the ISA's row primitives (row_math.h);
// otherwise tiles of `inner` columns are walked side by side so every pass reads memory in order.
//   softmaxBackward:    dx = y · (dy − Σ dy·y)
//   logSoftmaxBackward: dx = dy − exp(y) · Σ dy
// This file also holds row_ops(), the choice between the baseline, AVX2 and AVX-512 row primitives.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/row_math.h"
#include "kernels/softmax_args.h"
#include "kernels/row_views.h"
#include "tessera.h"

namespace tessera {

const RowOps& row_ops() {
  static const RowOps ops = [] {
#if defined(__x86_64__)
    if (std::strcmp(isa(), "avx512") == 0) return row_ops_avx512();
    if (std::strcmp(isa(), "avx2") == 0) return row_ops_avx2();
#endif
    return rowimpl::make_row_ops();
  }();
  return ops;
}

namespace {

constexpr int64_t kGrain = 1 << 14;  // elements per task, at least
constexpr int64_t kTile = rowimpl::kSoftmaxTile;

using softmax_args::Split;
using softmax_args::split_around;

void softmax_row(const RowOps& ops, const float* x, float* out, int64_t n, bool log) {
  const float m = ops.max(x, n);
  if (log) {
    ops.sub_d(x, static_cast<double>(m) + std::log(ops.exp_sum(x, m, nullptr, n)), out, n);
  } else {
    ops.scale(out, static_cast<float>(1.0 / ops.exp_sum(x, m, out, n)), n);
  }
}

/** Runs row(base) for each outer index, or cols(base, w) per column tile, on the pool. */
template <typename RowFn, typename ColFn>
void for_rows(const Split& s, RowFn row, ColFn cols) {
  if (s.inner == 1) {
    parallel_for(s.outer, std::max<int64_t>(1, kGrain / std::max<int64_t>(s.len, 1)), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; o++) row(o * s.len);
    });
    return;
  }
  const int64_t ntiles = (s.inner + kTile - 1) / kTile;
  const int64_t work = std::min(s.inner, kTile) * std::max<int64_t>(s.len, 1);
  parallel_for(s.outer * ntiles, std::max<int64_t>(1, kGrain / work), [&](int64_t b, int64_t e) {
    for (int64_t it = b; it < e; it++) {
      const int64_t o = it / ntiles, j0 = (it % ntiles) * kTile;
      cols(o * s.len * s.inner + j0, std::min(kTile, s.inner - j0));
    }
  });
}

void softmax_forward(const Call& call, bool log) {
  call.expect(2, 1);
  const View& x = dense_f32_view(call, 0, "x is required");
  const View& out = dense_f32_view(call, 1, "out is required");
  call.check(out.same_shape(x), "out must have x's shape");
  const Split s = split_around(call, x, call.iattr(0));
  if (x.numel == 0) return;
  const float* xp = x.ptr<float>();
  float* op = out.ptr<float>();
  const RowOps& ops = row_ops();
  for_rows(
      s, [&](int64_t base) { softmax_row(ops, xp + base, op + base, s.len, log); },
      [&](int64_t base, int64_t w) { ops.softmax_cols(xp + base, op + base, s.len, s.inner, w, log); });
}

void softmax_backward(const Call& call, bool log) {
  call.expect(3, 1);
  const View& y = dense_f32_view(call, 0, "y is required");
  const View& dy = dense_f32_view(call, 1, "dy is required");
  const View& dx = dense_f32_view(call, 2, "dx is required");
  call.check(dy.same_shape(y) && dx.same_shape(y), "y, dy and dx must have one shape");
  const Split s = split_around(call, y, call.iattr(0));
  if (y.numel == 0) return;
  const float* yp = y.ptr<float>();
  const float* gp = dy.ptr<float>();
  float* op = dx.ptr<float>();
  const RowOps& ops = row_ops();
  for_rows(
      s, [&](int64_t base) { ops.softmax_backward_row(yp + base, gp + base, op + base, s.len, log); },
      [&](int64_t base, int64_t w) { ops.softmax_backward_cols(yp + base, gp + base, op + base, s.len, s.inner, w, log); });
}

}  // namespace
}  // namespace tessera

TESSERA_KERNEL(softmax) { tessera::softmax_forward(call, false); }
TESSERA_KERNEL(logSoftmax) { tessera::softmax_forward(call, true); }
TESSERA_KERNEL(softmaxBackward) { tessera::softmax_backward(call, false); }
TESSERA_KERNEL(logSoftmaxBackward) { tessera::softmax_backward(call, true); }
