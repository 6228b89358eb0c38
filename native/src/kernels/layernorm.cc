// layerNorm: x, weight?, bias?, out | normalizedSize, eps
// layerNormBackward: x, weight?, dy, dx, dweight?, dbias? | normalizedSize, eps
// Over rows of the trailing `normalizedSize` elements: biased variance, eps inside the square root,
// mean and variance from two float64 passes (backend-js's arithmetic, so a large mean does not cancel
// the variance). The mean is kept as a float pair (hi + lo) so x − mean stays float64-accurate in
// float32 lanes. Backward recomputes mean and rstd per row:
//   g = dy·w,  dx = rstd · (g − mean(g) − x̂ · mean(g·x̂)),  dweight = Σ_rows dy·x̂,  dbias = Σ_rows dy
// dweight/dbias partials are per fixed block of rows and summed in block order: the result does not
// depend on the thread count.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/layernorm_args.h"
#include "kernels/row_math.h"
#include "kernels/row_views.h"
#include "tessera.h"

namespace tessera {
namespace {

constexpr int64_t kGrain = 1 << 14;

const View* optional_float(const Call& call, size_t i, int64_t size, const char* what) {
  const View& v = call.view(i);
  if (!v.present()) return nullptr;
  call.check(v.dtype == DType::F32, "views must be float32");
  call.check(v.contiguous(), "views must be contiguous");
  if (v.numel != size) call.fail(std::string(what) + " must have normalizedSize elements");
  return &v;
}

struct Stats {
  double mean;
  float mean_hi, mean_lo, rstd;
};

Stats row_stats(const RowOps& ops, const float* x, int64_t n, double eps) {
  const double mean = ops.sum(x, n) / static_cast<double>(n);
  const double ss = ops.sq_dev(x, mean, n);
  Stats st;
  st.mean = mean;
  st.mean_hi = static_cast<float>(mean);
  st.mean_lo = static_cast<float>(mean - st.mean_hi);
  st.rstd = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + eps));
  return st;
}

using layernorm_args::Shape;
using layernorm_args::row_shape;

}  // namespace
}  // namespace tessera

TESSERA_KERNEL(layerNorm) {
  using namespace tessera;
  call.expect(4, 2);
  const View& x = dense_f32_view(call, 0);
  const View& out = dense_f32_view(call, 3);
  call.check(out.same_shape(x), "out must have x's shape");
  const Shape s = row_shape(call, x);
  const double eps = call.attr(1);
  const View* w = optional_float(call, 1, s.size, "weight");
  const View* b = optional_float(call, 2, s.size, "bias");
  if (s.rows == 0 || s.size == 0) return;
  const float* xp = x.ptr<float>();
  const float* wp = w ? w->ptr<float>() : nullptr;
  const float* bp = b ? b->ptr<float>() : nullptr;
  float* op = out.ptr<float>();
  const RowOps& ops = row_ops();
  parallel_for(s.rows, std::max<int64_t>(1, kGrain / s.size), [&](int64_t b0, int64_t e0) {
    for (int64_t r = b0; r < e0; r++) {
      const Stats st = row_stats(ops, xp + r * s.size, s.size, eps);
      ops.norm_apply(xp + r * s.size, st.mean_hi, st.mean_lo, st.rstd, wp, bp, op + r * s.size, s.size);
    }
  });
}

TESSERA_KERNEL(layerNormBackward) {
  using namespace tessera;
  call.expect(6, 2);
  const View& x = dense_f32_view(call, 0);
  const View& dy = dense_f32_view(call, 2);
  call.check(dy.same_shape(x), "dy must have x's shape");
  const Shape s = row_shape(call, x);
  const double eps = call.attr(1);
  const View* w = optional_float(call, 1, s.size, "weight");
  const View& dxv = call.view(3);
  if (dxv.present()) {
    call.check(dxv.dtype == DType::F32 && dxv.contiguous(), "dx must be contiguous float32");
    call.check(dxv.same_shape(x), "dx must have x's shape");
  }
  const View* dw = optional_float(call, 4, s.size, "dweight");
  const View* db = optional_float(call, 5, s.size, "dbias");
  if (s.size == 0) return;
  if (s.rows == 0) {
    // No rows: the parameter gradients are sums over nothing.
    if (dw) std::fill(dw->ptr<float>(), dw->ptr<float>() + s.size, 0.0f);
    if (db) std::fill(db->ptr<float>(), db->ptr<float>() + s.size, 0.0f);
    return;
  }
  const int64_t n = s.size;
  const float* xp = x.ptr<float>();
  const float* gp = dy.ptr<float>();
  const float* wp = w ? w->ptr<float>() : nullptr;
  float* dxp = dxv.present() ? dxv.ptr<float>() : nullptr;
  const bool params = dw || db;
  // Fixed blocks of rows for the parameter partials (at most 32: shape-only, so the sums do not depend
  // on the thread count).
  const int64_t block_rows = params ? std::max<int64_t>(std::max<int64_t>(1, kGrain / n), (s.rows + 31) / 32)
                                    : std::max<int64_t>(1, kGrain / n);
  const int64_t nblocks = (s.rows + block_rows - 1) / block_rows;
  std::vector<double> pw(dw ? static_cast<size_t>(nblocks * n) : 0);
  std::vector<double> pb(db ? static_cast<size_t>(nblocks * n) : 0);
  const RowOps& ops = row_ops();
  parallel_for(nblocks, 1, [&](int64_t b0, int64_t e0) {
    std::vector<float> scratch(static_cast<size_t>(2 * n));  // x̂, then dy·w
    for (int64_t blk = b0; blk < e0; blk++) {
      double* bw = dw ? pw.data() + blk * n : nullptr;
      double* bb = db ? pb.data() + blk * n : nullptr;
      const int64_t r1 = std::min(s.rows, (blk + 1) * block_rows);
      for (int64_t r = blk * block_rows; r < r1; r++) {
        const float* xr = xp + r * n;
        const float* gr = gp + r * n;
        const Stats st = row_stats(ops, xr, n, eps);
        const float mh = st.mean_hi, ml = st.mean_lo, rs = st.rstd;
        float* xh = scratch.data();
        ops.norm_apply(xr, mh, ml, rs, nullptr, nullptr, xh, n);
        // The ISA's row loop (float64 partials 8 lanes wide on AVX-512: ~2x the baseline loops here).
        ops.ln_backward_row(xh, gr, wp, rs, bw, bb, scratch.data() + n, dxp ? dxp + r * n : nullptr, n);
      }
    }
  });
  // Block partials summed in block order.
  auto finish = [&](std::vector<double>& part, const View* v) {
    if (!v) return;
    for (int64_t blk = 1; blk < nblocks; blk++)
      for (int64_t i = 0; i < n; i++) part[i] += part[blk * n + i];
    float* o = v->ptr<float>();
    for (int64_t i = 0; i < n; i++) o[i] = static_cast<float>(part[i]);
  };
  finish(pw, dw);
  finish(pb, db);
}
