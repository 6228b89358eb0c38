// Row primitives of the row kernels (softmax, layerNorm, gelu, crossEntropy, reduce): max, Σexp,
// float64 sums and dot products, the gelu forms, written once with GCC vector extensions at the
// translation unit's vector width. The code is compiled three times: baseline (softmax.cc, SSE2 on
// x86-64), AVX2 (row_math_avx2.cc) and AVX-512 (row_math_avx512.cc); row_ops() picks by tessera::isa().
// Everything in `rowimpl` has internal linkage and calls no inline library function, so an AVX-512
// copy can never be merged into baseline code by the linker.
#pragma once

#include <cstdint>

namespace tessera {

/** One ISA's row primitives. Sums and dot products accumulate in float64. */
struct RowOps {
  /** max with `>` (a NaN never wins), -Inf for n = 0. */
  float (*max)(const float* x, int64_t n);
  /** max (min) that propagates NaN, as reductions do; ∓Inf for n = 0. */
  float (*max_nan)(const float* x, int64_t n);
  float (*min_nan)(const float* x, int64_t n);
  /** Σ exp(x − m), writing exp(x − m) to e unless e is null (e may alias x). */
  double (*exp_sum)(const float* x, float m, float* e, int64_t n);
  double (*sum)(const float* x, int64_t n);
  double (*dot)(const float* a, const float* b, int64_t n);
  /** Σ (x − mean)². */
  double (*sq_dev)(const float* x, double mean, int64_t n);
  /** x *= s. */
  void (*scale)(float* x, float s, int64_t n);
  /** out = x − c, rounded once from float64. */
  void (*sub_d)(const float* x, double c, float* out, int64_t n);
  /** out = ((x − mh) − ml)·r·w + b, w and b optional. */
  void (*norm_apply)(const float* x, float mh, float ml, float r, const float* w, const float* b, float* out,
                     int64_t n);
  /**
   * layerNormBackward of one row from x̂ and dy: bw += dy·x̂ and bb += dy in float64 (each optional),
   * and unless dx is null, g = dy·w (w optional; `gw` is n floats of scratch) and
   * dx = r·((g − mean g) − x̂·mean(g·x̂)).
   */
  void (*ln_backward_row)(const float* xh, const float* dy, const float* w, float r, double* bw, double* bb,
                          float* gw, float* dx, int64_t n);
  void (*gelu)(const float* x, float* out, int64_t n, bool tanh_form);
  void (*gelu_backward)(const float* x, const float* dy, float* dx, int64_t n, bool tanh_form);
  /** softmax/logSoftmax of columns [0, w) of a [len, inner] block over its len rows. */
  void (*softmax_cols)(const float* x, float* out, int64_t len, int64_t inner, int64_t w, bool log);
  /** softmaxBackward (dx = y·(dy − Σ dy·y)) or logSoftmaxBackward (dx = dy − exp(y)·Σ dy) of a row. */
  void (*softmax_backward_row)(const float* y, const float* dy, float* dx, int64_t n, bool log);
  void (*softmax_backward_cols)(const float* y, const float* dy, float* dx, int64_t len, int64_t inner, int64_t w,
                                bool log);
};

const RowOps& row_ops();
#if defined(__x86_64__)
/** Defined in row_math_avx512.cc; call only when isa() is "avx512". */
const RowOps& row_ops_avx512();
/** Defined in row_math_avx2.cc; call only when isa() is "avx2" (or "avx512"). */
const RowOps& row_ops_avx2();
#endif

namespace rowimpl {
namespace {

// The TU's native vector width: GCC lowers vectors wider than the hardware's comparisons and selects
// element by element, so the baseline build uses 16-byte (SSE2) vectors and the AVX-512 one 64-byte.
#if defined(__AVX512F__)
constexpr int kVecBytes = 64;
#elif defined(__AVX__)
constexpr int kVecBytes = 32;
#else
constexpr int kVecBytes = 16;
#endif
constexpr int W = kVecBytes / 4;
typedef float vf __attribute__((vector_size(kVecBytes)));
typedef int32_t vi __attribute__((vector_size(kVecBytes)));
typedef double vd __attribute__((vector_size(2 * kVecBytes)));

inline vf splat(float c) { return vf{} + c; }
inline vf load(const float* p) {
  vf v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, vf v) { __builtin_memcpy(p, &v, sizeof v); }
/** The first n (< W) elements, the rest `fill`. */
inline vf load_part(const float* p, int64_t n, float fill) {
  float t[W];
  for (int j = 0; j < W; j++) t[j] = j < n ? p[j] : fill;
  return load(t);
}
inline void store_part(float* p, vf v, int64_t n) {
  float t[W];
  store(t, v);
  for (int64_t j = 0; j < n; j++) p[j] = t[j];
}
inline vd widen(vf v) { return __builtin_convertvector(v, vd); }
inline double hsum(vd v) {
  double s = 0;
  for (int j = 0; j < W; j++) s += v[j];
  return s;
}

/**
 * exp(x) within ~2 ulp on the normal range: Cody–Waite reduction by ln 2 and a degree-6 polynomial.
 * exp(-Inf) = 0, exp(+Inf) = +Inf, NaN stays NaN; results below the smallest normal flush to 0.
 */
inline vf vexp(vf x) {
  const float hi = 88.72283f, lo = -87.33654f;
  vf xc = x > hi ? splat(hi) : x;
  xc = xc < lo ? splat(lo) : xc;
  xc = x != x ? splat(0.0f) : xc;  // keeps the float→int conversion below defined
  const float shifter = 12582912.0f;  // 1.5·2^23: adding it rounds to an integer
  vf n = (xc * 1.44269504088896341f + shifter) - shifter;
  vf r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  vf p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // 2^n in two factors so n = 128 does not overflow the exponent field.
  vi ni = __builtin_convertvector(n, vi);
  vi n1 = ni >> 1;
  vi n2 = ni - n1;
  vf s1 = (vf)((n1 + 127) << 23);
  vf s2 = (vf)((n2 + 127) << 23);
  vf y = p * s1 * s2;
  y = x > hi ? splat(__builtin_inff()) : y;
  y = x < lo ? splat(0.0f) : y;
  return x != x ? x : y;
}

/** erfc(z) for z ≥ 0: Numerical Recipes' Chebyshev fit (fractional error < 1.2e-7), backend-js's form. */
inline vf verfc_pos(vf z) {
  vf t = 1.0f / (1.0f + 0.5f * z);
  vf p = splat(0.17087277f);
  p = p * t + -0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t + -1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t + -0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t + -1.26551223f;
  return t * vexp(p - z * z);
}

/** 1 + erf(z): a Taylor series for |z| < 0.5, erfc elsewhere (no cancellation for negative z). */
inline vf vone_plus_erf(vf z) {
  vf az = z < 0.0f ? -z : z;
  vf c = verfc_pos(az);
  vf big = z < 0.0f ? c : 2.0f - c;
  vf z2 = z * z;
  vf s = splat(-1.0f / (5040.0f * 15.0f));
  s = s * z2 + 1.0f / (720.0f * 13.0f);
  s = s * z2 + -1.0f / (120.0f * 11.0f);
  s = s * z2 + 1.0f / (24.0f * 9.0f);
  s = s * z2 + -1.0f / (6.0f * 7.0f);
  s = s * z2 + 1.0f / (2.0f * 5.0f);
  s = s * z2 + -1.0f / 3.0f;
  s = s * z2 + 1.0f;
  vf small = 1.0f + s * z * 1.1283791670955126f;
  return az < 0.5f ? small : big;
}

constexpr float kSqrt1_2 = 0.70710678118654752f;
constexpr float kSqrt2OverPi = 0.79788456080286536f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;
constexpr float kGeluC = 0.044715f;

/** σ(2u) = (1 + tanh u)/2 with u = √(2/π)(x + c·x³); exp overflowing to +Inf gives 0. */
inline vf vtanh_gate(vf x) {
  vf u = kSqrt2OverPi * (x + kGeluC * x * x * x);
  return 1.0f / (1.0f + vexp(-2.0f * u));
}

//   erf:  gelu = x·Φ(x),  gelu' = Φ(x) + x·φ(x)
//   tanh: gelu = x·s,     gelu' = s + 2·x·s·(1 − s)·√(2/π)(1 + 3c·x²),  s = σ(2u)
inline vf vgelu(vf x, bool tanh_form) {
  if (tanh_form) return x * vtanh_gate(x);
  return x * (0.5f * vone_plus_erf(x * kSqrt1_2));
}
inline vf vgelu_grad(vf x, bool tanh_form) {
  if (tanh_form) {
    vf s = vtanh_gate(x);
    vf du = kSqrt2OverPi * (1.0f + 3.0f * kGeluC * x * x);
    return s + 2.0f * x * s * (1.0f - s) * du;
  }
  vf pdf = kInvSqrt2Pi * vexp(-0.5f * x * x);
  return 0.5f * vone_plus_erf(x * kSqrt1_2) + x * pdf;
}

inline float row_max(const float* x, int64_t n) {
  vf acc = splat(-__builtin_inff());
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    vf v = load(x + i);
    acc = v > acc ? v : acc;
  }
  if (i < n) {
    vf v = load_part(x + i, n - i, -__builtin_inff());
    acc = v > acc ? v : acc;
  }
  float m = acc[0];
  for (int j = 1; j < W; j++) m = acc[j] > m ? acc[j] : m;
  return m;
}

template <bool is_max>
inline float row_extreme_nan(const float* x, int64_t n) {
  const float init = is_max ? -__builtin_inff() : __builtin_inff();
  vf acc = splat(init);
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    const vf v = load(x + i);
    acc = ((is_max ? v > acc : v < acc) | (v != v)) ? v : acc;
  }
  if (i < n) {
    const vf v = load_part(x + i, n - i, init);
    acc = ((is_max ? v > acc : v < acc) | (v != v)) ? v : acc;
  }
  float m = acc[0];
  for (int j = 1; j < W; j++) {
    const float v = acc[j];
    if ((is_max ? v > m : v < m) || v != v) m = v;
  }
  // A sequential scan keeps the first of equal values; only ±0 tell equal values apart, so a zero
  // result is the row's first zero (lanes may have met a later one first).
  if (m == 0.0f)
    for (int64_t k = 0; k < n; k++)
      if (x[k] == 0.0f) return x[k];
  return m;
}
inline float row_max_nan(const float* x, int64_t n) { return row_extreme_nan<true>(x, n); }
inline float row_min_nan(const float* x, int64_t n) { return row_extreme_nan<false>(x, n); }

inline double row_exp_sum(const float* x, float m, float* e, int64_t n) {
  vd acc = vd{};
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    vf t = vexp(load(x + i) - m);
    if (e) store(e + i, t);
    acc += widen(t);
  }
  if (i < n) {
    // Padding with -Inf adds exp(-Inf) = 0 (or NaN when m is -Inf, a row that is NaN anyway).
    vf t = vexp(load_part(x + i, n - i, -__builtin_inff()) - m);
    if (e) store_part(e + i, t, n - i);
    acc += widen(t);
  }
  return hsum(acc);
}

inline double row_sum(const float* x, int64_t n) {
  vd acc = vd{};
  int64_t i = 0;
  for (; i + W <= n; i += W) acc += widen(load(x + i));
  double s = hsum(acc);
  for (; i < n; i++) s += x[i];
  return s;
}

inline double row_dot(const float* a, const float* b, int64_t n) {
  vd acc = vd{};
  int64_t i = 0;
  for (; i + W <= n; i += W) acc += widen(load(a + i)) * widen(load(b + i));
  double s = hsum(acc);
  for (; i < n; i++) s += static_cast<double>(a[i]) * b[i];
  return s;
}

inline double row_sq_dev(const float* x, double mean, int64_t n) {
  vd acc = vd{};
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    vd d = widen(load(x + i)) - mean;
    acc += d * d;
  }
  double s = hsum(acc);
  for (; i < n; i++) {
    const double d = x[i] - mean;
    s += d * d;
  }
  return s;
}

inline void row_scale(float* x, float s, int64_t n) {
  for (int64_t i = 0; i < n; i++) x[i] *= s;
}

inline void row_sub_d(const float* x, double c, float* out, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = static_cast<float>(x[i] - c);
}

inline void row_norm_apply(const float* x, float mh, float ml, float r, const float* w, const float* b, float* out,
                    int64_t n) {
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

inline void row_gelu(const float* x, float* out, int64_t n, bool tanh_form) {
  int64_t i = 0;
  for (; i + W <= n; i += W) store(out + i, vgelu(load(x + i), tanh_form));
  if (i < n) store_part(out + i, vgelu(load_part(x + i, n - i, 0.0f), tanh_form), n - i);
}

inline void row_gelu_backward(const float* x, const float* dy, float* dx, int64_t n, bool tanh_form) {
  int64_t i = 0;
  for (; i + W <= n; i += W) store(dx + i, load(dy + i) * vgelu_grad(load(x + i), tanh_form));
  if (i < n) {
    vf g = load_part(dy + i, n - i, 0.0f) * vgelu_grad(load_part(x + i, n - i, 0.0f), tanh_form);
    store_part(dx + i, g, n - i);
  }
}

/** Columns of x walked together by the softmax kernels when dim is not innermost (a multiple of W). */
constexpr int64_t kSoftmaxTile = 64;

/** Applies f(j, n) to [0, w) in chunks of W columns (the last one shorter). */
template <typename F>
inline void chunks(int64_t w, F f) {
  for (int64_t j = 0; j < w; j += W) f(j, (w - j < W ? w - j : W));
}

inline vf load_n(const float* p, int64_t n, float fill) {
  return n == W ? load(p) : load_part(p, n, fill);
}
inline void store_n(float* p, vf v, int64_t n) {
  if (n == W) store(p, v);
  else store_part(p, v, n);
}
inline vf narrow(vd v) { return __builtin_convertvector(v, vf); }
inline vd load_d(const double* p) {
  vd v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
inline void store_d(double* p, vd v) { __builtin_memcpy(p, &v, sizeof v); }

/**
 * softmax over the middle dim of a [len, inner] block, columns [0, w) of a tile (w ≤ kSoftmaxTile):
 * three passes over the tile's rows (max, exp and Σ, scale), which stay in L2 between passes.
 */
inline void softmax_cols(const float* x, float* out, int64_t len, int64_t inner, int64_t w, bool log) {
  alignas(64) float mx[kSoftmaxTile];
  alignas(64) double sum[kSoftmaxTile];
  for (int64_t j = 0; j < kSoftmaxTile; j++) {
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
    chunks(w, [&](int64_t j, int64_t n) {
      const vf e = vexp(load_n(p + j, n, 0.0f) - load(mx + j));
      if (!log) store_n(q + j, e, n);
      store_d(sum + j, load_d(sum + j) + widen(e));
    });
  }
  if (log) {
    for (int64_t j = 0; j < w; j++) sum[j] = mx[j] + __builtin_log(sum[j]);
    for (int64_t k = 0; k < len; k++) {
      const float* p = x + k * inner;
      float* q = out + k * inner;
      for (int64_t j = 0; j < w; j++) q[j] = static_cast<float>(p[j] - sum[j]);
    }
  } else {
    float inv[kSoftmaxTile];
    for (int64_t j = 0; j < w; j++) inv[j] = static_cast<float>(1.0 / sum[j]);
    for (int64_t k = 0; k < len; k++) {
      float* q = out + k * inner;
      for (int64_t j = 0; j < w; j++) q[j] *= inv[j];
    }
  }
}

// The sums stay float64 and each dx is rounded once, as backend-js does.
inline void softmax_backward_row(const float* y, const float* dy, float* dx, int64_t n, bool log) {
  if (log) {
    const double s = row_sum(dy, n);
    chunks(n, [&](int64_t i, int64_t c) {
      const vd e = widen(vexp(load_n(y + i, c, 0.0f)));
      store_n(dx + i, narrow(widen(load_n(dy + i, c, 0.0f)) - e * s), c);
    });
  } else {
    const double s = row_dot(dy, y, n);
    for (int64_t i = 0; i < n; i++) dx[i] = static_cast<float>(y[i] * (dy[i] - s));
  }
}

inline void softmax_backward_cols(const float* y, const float* dy, float* dx, int64_t len, int64_t inner, int64_t w, bool log) {
  alignas(64) double sum[kSoftmaxTile];
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
    if (log) {
      chunks(w, [&](int64_t j, int64_t n) {
        const vd e = widen(vexp(load_n(b + j, n, 0.0f)));
        store_n(q + j, narrow(widen(load_n(a + j, n, 0.0f)) - e * load_d(sum + j)), n);
      });
    } else {
      for (int64_t j = 0; j < w; j++) q[j] = static_cast<float>(b[j] * (a[j] - sum[j]));
    }
  }
}

inline void row_ln_backward(const float* xh, const float* dy, const float* w, float r, double* bw, double* bb,
                            float* gw, float* dx, int64_t n) {
  int64_t i = 0;
  if (bw) {
    for (; i + W <= n; i += W) store_d(bw + i, load_d(bw + i) + widen(load(dy + i)) * widen(load(xh + i)));
    for (; i < n; i++) bw[i] += static_cast<double>(dy[i]) * xh[i];
  }
  if (bb) {
    for (i = 0; i + W <= n; i += W) store_d(bb + i, load_d(bb + i) + widen(load(dy + i)));
    for (; i < n; i++) bb[i] += dy[i];
  }
  if (!dx) return;
  const float* g = dy;
  if (w) {
    for (i = 0; i < n; i++) gw[i] = dy[i] * w[i];
    g = gw;
  }
  const float mg = static_cast<float>(row_sum(g, n) / static_cast<double>(n));
  const float mgx = static_cast<float>(row_dot(g, xh, n) / static_cast<double>(n));
  for (i = 0; i < n; i++) dx[i] = r * ((g[i] - mg) - xh[i] * mgx);
}

inline RowOps make_row_ops() {
  return RowOps{row_max,      row_max_nan,      row_min_nan,      row_exp_sum,      row_sum,          row_dot,
                row_sq_dev,   row_scale,        row_sub_d,        row_norm_apply,   row_ln_backward,
                row_gelu,     row_gelu_backward, softmax_cols,    softmax_backward_row,
                softmax_backward_cols};
}

}  // namespace
}  // namespace rowimpl
}  // namespace tessera
