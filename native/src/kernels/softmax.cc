// softmax, logSoftmax: x, out | dim;  softmaxBackward, logSoftmaxBackward: y, dy, dx | dim.
// The tensor is [outer, len, inner] around dim. backend-js's arithmetic: the row max (NaN never wins
// `v > m`) is subtracted first; a row of all -Inf gives NaN, a NaN or +Inf gives a NaN row. Sums
// accumulate in float64. inner == 1 walks contiguous rows; otherwise `inner` columns are walked side by
// side so every pass reads memory in order.
//   softmaxBackward:    dx = y · (dy − Σ dy·y)
//   logSoftmaxBackward: dx = dy − exp(y) · Σ dy
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/row_math.h"
#include "tessera.h"

namespace tessera {
namespace {

constexpr int64_t kGrain = 1 << 14;  // elements per task, at least
constexpr int64_t kTile = 256;       // columns walked together when dim is not innermost
constexpr int kLanes = 16;

struct Split {
  int64_t outer = 1, len = 1, inner = 1;
};

Split split_around(const Call& call, const View& v, int64_t dim) {
  Split s;
  if (v.ndim == 0) {
    call.check(dim == 0 || dim == -1, "dim out of range");
    return s;
  }
  call.check(dim >= 0 && dim < v.ndim, "dim out of range");
  for (int i = 0; i < dim; i++) s.outer *= v.shape[i];
  s.len = v.shape[dim];
  for (int i = static_cast<int>(dim) + 1; i < v.ndim; i++) s.inner *= v.shape[i];
  return s;
}

const View& float_view(const Call& call, size_t i, const char* what) {
  const View& v = call.view(i);
  if (v.numel == 0) return v;  // may have no storage and any strides; never touched
  call.check(v.present(), what);
  call.check(v.dtype == DType::F32, "views must be float32");
  call.check(v.contiguous(), "views must be contiguous");
  return v;
}

float row_max(const float* x, int64_t n) {
  float lane[kLanes];
  for (int j = 0; j < kLanes; j++) lane[j] = -__builtin_inff();
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; j++) lane[j] = x[i + j] > lane[j] ? x[i + j] : lane[j];
  float m = lane[0];
  for (int j = 1; j < kLanes; j++) m = lane[j] > m ? lane[j] : m;
  for (; i < n; i++) m = x[i] > m ? x[i] : m;
  return m;
}

/** Σ exp(x − m), writing exp(x − m) to e when e is not null (e may alias x). */
double row_exp_sum(const float* x, float m, float* e, int64_t n) {
  double lane[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    float t[kLanes];
    for (int j = 0; j < kLanes; j++) t[j] = rm_exp(x[i + j] - m);
    if (e)
      for (int j = 0; j < kLanes; j++) e[i + j] = t[j];
    for (int j = 0; j < kLanes; j++) lane[j] += t[j];
  }
  double s = 0;
  for (int j = 0; j < kLanes; j++) s += lane[j];
  for (; i < n; i++) {
    float t = rm_exp(x[i] - m);
    if (e) e[i] = t;
    s += t;
  }
  return s;
}

/** Σ a·b (b null: Σ a) in float64. */
double row_dot(const float* a, const float* b, int64_t n) {
  double lane[kLanes] = {};
  int64_t i = 0;
  if (b) {
    for (; i + kLanes <= n; i += kLanes)
      for (int j = 0; j < kLanes; j++) lane[j] += static_cast<double>(a[i + j]) * b[i + j];
  } else {
    for (; i + kLanes <= n; i += kLanes)
      for (int j = 0; j < kLanes; j++) lane[j] += a[i + j];
  }
  double s = 0;
  for (int j = 0; j < kLanes; j++) s += lane[j];
  for (; i < n; i++) s += b ? static_cast<double>(a[i]) * b[i] : a[i];
  return s;
}

void softmax_row(const float* x, float* out, int64_t n, bool log) {
  const float m = row_max(x, n);
  if (log) {
    const double lse = static_cast<double>(m) + std::log(row_exp_sum(x, m, nullptr, n));
    for (int64_t i = 0; i < n; i++) out[i] = static_cast<float>(x[i] - lse);
  } else {
    const float inv = static_cast<float>(1.0 / row_exp_sum(x, m, out, n));
    for (int64_t i = 0; i < n; i++) out[i] *= inv;
  }
}

/** [len, inner] block of one outer index, columns [j0, j0 + w). */
void softmax_cols(const float* x, float* out, int64_t len, int64_t inner, int64_t w, bool log) {
  float mx[kTile];
  double sum[kTile];
  for (int64_t j = 0; j < w; j++) {
    mx[j] = -__builtin_inff();
    sum[j] = 0;
  }
  for (int64_t k = 0; k < len; k++) {
    const float* p = x + k * inner;
    for (int64_t j = 0; j < w; j++) mx[j] = p[j] > mx[j] ? p[j] : mx[j];
  }
  for (int64_t k = 0; k < len; k++) {
    const float* p = x + k * inner;
    float* q = out + k * inner;
    if (log) {
      for (int64_t j = 0; j < w; j++) sum[j] += rm_exp(p[j] - mx[j]);
    } else {
      for (int64_t j = 0; j < w; j++) {
        const float e = rm_exp(p[j] - mx[j]);
        q[j] = e;
        sum[j] += e;
      }
    }
  }
  if (log) {
    for (int64_t j = 0; j < w; j++) sum[j] = mx[j] + std::log(sum[j]);
    for (int64_t k = 0; k < len; k++) {
      const float* p = x + k * inner;
      float* q = out + k * inner;
      for (int64_t j = 0; j < w; j++) q[j] = static_cast<float>(p[j] - sum[j]);
    }
  } else {
    float inv[kTile];
    for (int64_t j = 0; j < w; j++) inv[j] = static_cast<float>(1.0 / sum[j]);
    for (int64_t k = 0; k < len; k++) {
      float* q = out + k * inner;
      for (int64_t j = 0; j < w; j++) q[j] *= inv[j];
    }
  }
}

// The row sum stays float64 and each dx is rounded once, as backend-js does.
void backward_row(const float* y, const float* dy, float* dx, int64_t n, bool log) {
  if (log) {
    const double s = row_dot(dy, nullptr, n);
    for (int64_t i = 0; i < n; i++) dx[i] = static_cast<float>(dy[i] - static_cast<double>(rm_exp(y[i])) * s);
  } else {
    const double s = row_dot(dy, y, n);
    for (int64_t i = 0; i < n; i++) dx[i] = static_cast<float>(y[i] * (dy[i] - s));
  }
}

void backward_cols(const float* y, const float* dy, float* dx, int64_t len, int64_t inner, int64_t w, bool log) {
  double sum[kTile];
  for (int64_t j = 0; j < w; j++) sum[j] = 0;
  for (int64_t k = 0; k < len; k++) {
    const float* a = dy + k * inner;
    const float* b = y + k * inner;
    if (log)
      for (int64_t j = 0; j < w; j++) sum[j] += a[j];
    else
      for (int64_t j = 0; j < w; j++) sum[j] += static_cast<double>(a[j]) * b[j];
  }
  for (int64_t k = 0; k < len; k++) {
    const float* a = dy + k * inner;
    const float* b = y + k * inner;
    float* q = dx + k * inner;
    if (log)
      for (int64_t j = 0; j < w; j++) q[j] = static_cast<float>(a[j] - static_cast<double>(rm_exp(b[j])) * sum[j]);
    else
      for (int64_t j = 0; j < w; j++) q[j] = static_cast<float>(b[j] * (a[j] - sum[j]));
  }
}

/** Runs row(o) for each outer index, or cols(o, j0, w) per column tile, on the pool. */
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
  const View& x = float_view(call, 0, "x is required");
  const View& out = float_view(call, 1, "out is required");
  call.check(out.same_shape(x), "out must have x's shape");
  const Split s = split_around(call, x, call.iattr(0));
  if (x.numel == 0) return;
  const float* xp = x.ptr<float>();
  float* op = out.ptr<float>();
  for_rows(
      s, [&](int64_t base) { softmax_row(xp + base, op + base, s.len, log); },
      [&](int64_t base, int64_t w) { softmax_cols(xp + base, op + base, s.len, s.inner, w, log); });
}

void softmax_backward(const Call& call, bool log) {
  call.expect(3, 1);
  const View& y = float_view(call, 0, "y is required");
  const View& dy = float_view(call, 1, "dy is required");
  const View& dx = float_view(call, 2, "dx is required");
  call.check(dy.same_shape(y) && dx.same_shape(y), "y, dy and dx must have one shape");
  const Split s = split_around(call, y, call.iattr(0));
  if (y.numel == 0) return;
  const float* yp = y.ptr<float>();
  const float* gp = dy.ptr<float>();
  float* op = dx.ptr<float>();
  for_rows(
      s, [&](int64_t base) { backward_row(yp + base, gp + base, op + base, s.len, log); },
      [&](int64_t base, int64_t w) { backward_cols(yp + base, gp + base, op + base, s.len, s.inner, w, log); });
}

}  // namespace
}  // namespace tessera

TESSERA_KERNEL(softmax) { tessera::softmax_forward(call, false); }
TESSERA_KERNEL(logSoftmax) { tessera::softmax_forward(call, true); }
TESSERA_KERNEL(softmaxBackward) { tessera::softmax_backward(call, false); }
TESSERA_KERNEL(logSoftmaxBackward) { tessera::softmax_backward(call, true); }
