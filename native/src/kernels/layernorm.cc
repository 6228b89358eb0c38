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

#include "tessera.h"

namespace tessera {
namespace {

constexpr int kLanes = 16;
constexpr int64_t kGrain = 1 << 14;

const View* optional_float(const Call& call, size_t i, int64_t size, const char* what) {
  const View& v = call.view(i);
  if (!v.present()) return nullptr;
  call.check(v.dtype == DType::F32, "views must be float32");
  call.check(v.contiguous(), "views must be contiguous");
  if (v.numel != size) call.fail(std::string(what) + " must have normalizedSize elements");
  return &v;
}

const View& required_float(const Call& call, size_t i) {
  const View& v = call.view(i);
  if (v.numel == 0) return v;
  call.check(v.present(), "a required view is absent");
  call.check(v.dtype == DType::F32, "views must be float32");
  call.check(v.contiguous(), "views must be contiguous");
  return v;
}

struct Stats {
  double mean;
  float mean_hi, mean_lo, rstd;
};

Stats row_stats(const float* x, int64_t n, double eps) {
  double lane[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; j++) lane[j] += x[i + j];
  double s = 0;
  for (int j = 0; j < kLanes; j++) s += lane[j];
  for (; i < n; i++) s += x[i];
  const double mean = s / static_cast<double>(n);
  for (int j = 0; j < kLanes; j++) lane[j] = 0;
  i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; j++) {
      const double d = x[i + j] - mean;
      lane[j] += d * d;
    }
  double ss = 0;
  for (int j = 0; j < kLanes; j++) ss += lane[j];
  for (; i < n; i++) {
    const double d = x[i] - mean;
    ss += d * d;
  }
  Stats st;
  st.mean = mean;
  st.mean_hi = static_cast<float>(mean);
  st.mean_lo = static_cast<float>(mean - st.mean_hi);
  st.rstd = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + eps));
  return st;
}

void forward_row(const float* x, const float* w, const float* b, float* out, int64_t n, double eps) {
  const Stats st = row_stats(x, n, eps);
  const float mh = st.mean_hi, ml = st.mean_lo, r = st.rstd;
  if (w && b) {
    for (int64_t i = 0; i < n; i++) out[i] = ((x[i] - mh) - ml) * r * w[i] + b[i];
  } else if (w) {
    for (int64_t i = 0; i < n; i++) out[i] = ((x[i] - mh) - ml) * r * w[i];
  } else if (b) {
    for (int64_t i = 0; i < n; i++) out[i] = ((x[i] - mh) - ml) * r + b[i];
  } else {
    for (int64_t i = 0; i < n; i++) out[i] = ((x[i] - mh) - ml) * r;
  }
}

struct Shape {
  int64_t rows, size;
};

Shape row_shape(const Call& call, const View& x) {
  const int64_t size = call.iattr(0);
  call.check(size >= 0, "normalizedSize must be non-negative");
  if (size == 0) {
    call.check(x.numel == 0, "normalizedSize 0 needs an empty x");
    return {0, 0};
  }
  call.check(x.numel % size == 0, "x's size must be a multiple of normalizedSize");
  return {x.numel / size, size};
}

}  // namespace
}  // namespace tessera

TESSERA_KERNEL(layerNorm) {
  using namespace tessera;
  call.expect(4, 2);
  const View& x = required_float(call, 0);
  const View& out = required_float(call, 3);
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
  parallel_for(s.rows, std::max<int64_t>(1, kGrain / s.size), [&](int64_t b0, int64_t e0) {
    for (int64_t r = b0; r < e0; r++) forward_row(xp + r * s.size, wp, bp, op + r * s.size, s.size, eps);
  });
}

TESSERA_KERNEL(layerNormBackward) {
  using namespace tessera;
  call.expect(6, 2);
  const View& x = required_float(call, 0);
  const View& dy = required_float(call, 2);
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
  // Fixed blocks of rows for the parameter partials (shape-only, so thread-count independent).
  const int64_t block_rows = params ? std::max<int64_t>(std::max<int64_t>(1, kGrain / n), (s.rows + 255) / 256)
                                    : std::max<int64_t>(1, kGrain / n);
  const int64_t nblocks = (s.rows + block_rows - 1) / block_rows;
  std::vector<double> pw(dw ? static_cast<size_t>(nblocks * n) : 0);
  std::vector<double> pb(db ? static_cast<size_t>(nblocks * n) : 0);
  parallel_for(nblocks, 1, [&](int64_t b0, int64_t e0) {
    std::vector<float> xhat(static_cast<size_t>(n));
    for (int64_t blk = b0; blk < e0; blk++) {
      double* bw = dw ? pw.data() + blk * n : nullptr;
      double* bb = db ? pb.data() + blk * n : nullptr;
      const int64_t r1 = std::min(s.rows, (blk + 1) * block_rows);
      for (int64_t r = blk * block_rows; r < r1; r++) {
        const float* xr = xp + r * n;
        const float* gr = gp + r * n;
        const Stats st = row_stats(xr, n, eps);
        const float mh = st.mean_hi, ml = st.mean_lo, rs = st.rstd;
        float* xh = xhat.data();
        for (int64_t i = 0; i < n; i++) xh[i] = ((xr[i] - mh) - ml) * rs;
        if (bw)
          for (int64_t i = 0; i < n; i++) bw[i] += static_cast<double>(gr[i]) * xh[i];
        if (bb)
          for (int64_t i = 0; i < n; i++) bb[i] += gr[i];
        if (!dxp) continue;
        // mean(g) and mean(g·x̂) in float64 lanes, g = dy·w.
        double l1[kLanes] = {}, l2[kLanes] = {};
        int64_t i = 0;
        for (; i + kLanes <= n; i += kLanes)
          for (int j = 0; j < kLanes; j++) {
            const float g = wp ? gr[i + j] * wp[i + j] : gr[i + j];
            l1[j] += g;
            l2[j] += static_cast<double>(g) * xh[i + j];
          }
        double sg = 0, sgx = 0;
        for (int j = 0; j < kLanes; j++) {
          sg += l1[j];
          sgx += l2[j];
        }
        for (; i < n; i++) {
          const float g = wp ? gr[i] * wp[i] : gr[i];
          sg += g;
          sgx += static_cast<double>(g) * xh[i];
        }
        const float mg = static_cast<float>(sg / static_cast<double>(n));
        const float mgx = static_cast<float>(sgx / static_cast<double>(n));
        float* dr = dxp + r * n;
        if (wp)
          for (int64_t k = 0; k < n; k++) dr[k] = rs * ((gr[k] * wp[k] - mg) - xh[k] * mgx);
        else
          for (int64_t k = 0; k < n; k++) dr[k] = rs * ((gr[k] - mg) - xh[k] * mgx);
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
