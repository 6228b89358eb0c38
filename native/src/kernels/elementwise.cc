// unary and binary elementwise kernels (op indices: UNARY_OPS / BINARY_OPS in core/backend.ts).
// Semantics follow backend-js (kernels/elementwise.ts, kernels/math.ts): every value is computed as
// a JS number (float64) and rounded to the output dtype on store. Fast typed loops cover the common
// float32/int32/bool cases where float32 arithmetic gives the same bits (+ − × ÷ √ are correctly
// rounded, so float32 math equals float64 math rounded to float32); everything else (transcendental
// functions, odd dtype pairs) goes through float64 buffers with double-precision libm.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

#include "kernels/elementwise.h"
#include "kernels/elementwise_args.h"
#include "tessera.h"

namespace tessera {
namespace {

using ew::Plan;

using namespace ew_ops;  // Unary, Binary

constexpr int64_t kGrain = 32768;
constexpr int64_t kSlowGrain = 4096;  // transcendental ops: more work per element

// ---- scalar math, as backend-js's math.ts ------------------------------------------------------

/** erf to float32 precision (the exact formula of backend-js math.ts, in float64). */
inline double js_erf(double x) {
  if (std::isnan(x) || x == 0) return x;
  const double ax = std::fabs(x);
  if (ax < 0.5) {
    const double x2 = x * x;
    double term = x;
    double sum = x;
    for (int n = 1; n < 12; n++) {
      term *= -x2 / n;
      sum += term / (2 * n + 1);
    }
    return sum * 1.1283791670955126;
  }
  const double t = 1 / (1 + 0.5 * ax);
  const double erfc =
      t * std::exp(-ax * ax - 1.26551223 +
                   t * (1.00002368 +
                        t * (0.37409196 +
                             t * (0.09678418 +
                                  t * (-0.18628806 +
                                       t * (0.27886807 +
                                            t * (-1.13520398 +
                                                 t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? 1 - erfc : erfc - 1;
}

inline double js_sigmoid(double x) {
  if (x >= 0) return 1 / (1 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1 + e);
}

inline double js_sign(double x) { return x > 0 ? 1 : x < 0 ? -1 : x; }

/** Math.max: NaN if either is NaN; +0 beats −0. */
inline double js_max(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return NAN;
  if (a == b) return std::signbit(a) ? b : a;
  return a > b ? a : b;
}
inline double js_min(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return NAN;
  if (a == b) return std::signbit(a) ? a : b;
  return a < b ? a : b;
}
// Branch-free float32 forms (they vectorise): equal operands are ±0 or identical, so AND of the
// bits gives max's +0 and OR gives min's −0; a NaN operand wins.
inline float js_maxf(float a, float b) {
  float m = a > b ? a : b;
  m = a == b ? std::bit_cast<float>(std::bit_cast<uint32_t>(a) & std::bit_cast<uint32_t>(b)) : m;
  return a != a ? a : m;
}
inline float js_minf(float a, float b) {
  float m = a < b ? a : b;
  m = a == b ? std::bit_cast<float>(std::bit_cast<uint32_t>(a) | std::bit_cast<uint32_t>(b)) : m;
  return a != a ? a : m;
}

inline int32_t imul(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) * static_cast<uint32_t>(b));
}

// ---- float64 buffer path --------------------------------------------------------------------

void unary_f64(int op, double* x, int64_t n) {
  switch (op) {
    case kNeg:
      for (int64_t i = 0; i < n; i++) x[i] = -x[i];
      break;
    case kAbs:
      for (int64_t i = 0; i < n; i++) x[i] = std::fabs(x[i]);
      break;
    case kExp:
      for (int64_t i = 0; i < n; i++) x[i] = std::exp(x[i]);
      break;
    case kLog:
      for (int64_t i = 0; i < n; i++) x[i] = std::log(x[i]);
      break;
    case kLog1p:
      for (int64_t i = 0; i < n; i++) x[i] = std::log1p(x[i]);
      break;
    case kExpm1:
      for (int64_t i = 0; i < n; i++) x[i] = std::expm1(x[i]);
      break;
    case kSqrt:
      for (int64_t i = 0; i < n; i++) x[i] = std::sqrt(x[i]);
      break;
    case kRsqrt:
      for (int64_t i = 0; i < n; i++) x[i] = 1 / std::sqrt(x[i]);
      break;
    case kReciprocal:
      for (int64_t i = 0; i < n; i++) x[i] = 1 / x[i];
      break;
    case kSin:
      for (int64_t i = 0; i < n; i++) x[i] = std::sin(x[i]);
      break;
    case kCos:
      for (int64_t i = 0; i < n; i++) x[i] = std::cos(x[i]);
      break;
    case kTanh:
      for (int64_t i = 0; i < n; i++) x[i] = std::tanh(x[i]);
      break;
    case kSigmoid:
      for (int64_t i = 0; i < n; i++) x[i] = js_sigmoid(x[i]);
      break;
    case kRelu:
      for (int64_t i = 0; i < n; i++) x[i] = (x[i] > 0 || std::isnan(x[i])) ? x[i] : 0.0;
      break;
    case kErf:
      for (int64_t i = 0; i < n; i++) x[i] = js_erf(x[i]);
      break;
    case kSign:
      for (int64_t i = 0; i < n; i++) x[i] = js_sign(x[i]);
      break;
    case kFloor:
      for (int64_t i = 0; i < n; i++) x[i] = std::floor(x[i]);
      break;
    case kCeil:
      for (int64_t i = 0; i < n; i++) x[i] = std::ceil(x[i]);
      break;
    case kRound:  // half to even (the default rounding mode)
      for (int64_t i = 0; i < n; i++) x[i] = std::nearbyint(x[i]);
      break;
    case kLogicalNot:
      for (int64_t i = 0; i < n; i++) x[i] = x[i] == 0 ? 1.0 : 0.0;
      break;
    case kIsnan:
      for (int64_t i = 0; i < n; i++) x[i] = std::isnan(x[i]) ? 1.0 : 0.0;
      break;
  }
}

/** a ⊕ b into a; `int_math` is backend-js's intMath (int32 operands: mul is Math.imul). */
void binary_f64(int op, double* a, const double* b, int64_t n, bool int_math) {
  switch (op) {
    case kAdd:
      for (int64_t i = 0; i < n; i++) a[i] = a[i] + b[i];
      break;
    case kSub:
      for (int64_t i = 0; i < n; i++) a[i] = a[i] - b[i];
      break;
    case kMul:
      if (int_math)
        for (int64_t i = 0; i < n; i++) a[i] = imul(static_cast<int32_t>(a[i]), static_cast<int32_t>(b[i]));
      else
        for (int64_t i = 0; i < n; i++) a[i] = a[i] * b[i];
      break;
    case kDiv:
      for (int64_t i = 0; i < n; i++) a[i] = a[i] / b[i];
      break;
    case kPow:  // C pow: pow(1, NaN) = 1, pow(−1, ±Inf) = 1 (backend-js patches JS ** to agree)
      for (int64_t i = 0; i < n; i++) a[i] = std::pow(a[i], b[i]);
      break;
    case kMaximum:
      for (int64_t i = 0; i < n; i++) a[i] = js_max(a[i], b[i]);
      break;
    case kMinimum:
      for (int64_t i = 0; i < n; i++) a[i] = js_min(a[i], b[i]);
      break;
    case kEq:
      for (int64_t i = 0; i < n; i++) a[i] = a[i] == b[i] ? 1.0 : 0.0;
      break;
    case kNe:
      for (int64_t i = 0; i < n; i++) a[i] = a[i] != b[i] ? 1.0 : 0.0;
      break;
    case kLt:
      for (int64_t i = 0; i < n; i++) a[i] = a[i] < b[i] ? 1.0 : 0.0;
      break;
    case kLe:
      for (int64_t i = 0; i < n; i++) a[i] = a[i] <= b[i] ? 1.0 : 0.0;
      break;
    case kGt:
      for (int64_t i = 0; i < n; i++) a[i] = a[i] > b[i] ? 1.0 : 0.0;
      break;
    case kGe:
      for (int64_t i = 0; i < n; i++) a[i] = a[i] >= b[i] ? 1.0 : 0.0;
      break;
    case kLogicalAnd:
      for (int64_t i = 0; i < n; i++) a[i] = (a[i] != 0 && b[i] != 0) ? 1.0 : 0.0;
      break;
    case kLogicalOr:
      for (int64_t i = 0; i < n; i++) a[i] = (a[i] != 0 || b[i] != 0) ? 1.0 : 0.0;
      break;
  }
}

bool is_slow_unary(int op) {
  switch (op) {
    case kExp:
    case kLog:
    case kLog1p:
    case kExpm1:
    case kSin:
    case kCos:
    case kTanh:
    case kSigmoid:
    case kErf:
      return true;
    default:
      return false;
  }
}

void unary_buffered(int op, const View& x, const View& out) {
  const View* vs[2] = {&x, &out};
  const Plan<2> p = ew::make_plan(vs, out);
  const int64_t sx = p.istride(0), so = p.istride(1);
  ew::run_rows(p, is_slow_unary(op) ? kSlowGrain : kGrain / 4, ew::overlaps(p, 1),
               [&](const int64_t* off, int64_t n) {
                 double buf[ew::kChunk];
                 for (int64_t i = 0; i < n; i += ew::kChunk) {
                   const int64_t m = std::min(ew::kChunk, n - i);
                   ew::load_f64(x, off[0] + i * sx, sx, m, buf);
                   unary_f64(op, buf, m);
                   ew::store_f64(out, off[1] + i * so, so, m, buf, false);
                 }
               });
}

void binary_buffered(int op, const View& a, const View& b, const View& out) {
  const View* vs[3] = {&a, &b, &out};
  const Plan<3> p = ew::make_plan(vs, out);
  const int64_t sa = p.istride(0), sb = p.istride(1), so = p.istride(2);
  const bool int_math = a.dtype == DType::I32;
  ew::run_rows(p, op == kPow ? kSlowGrain : kGrain / 4, ew::overlaps(p, 2), [&](const int64_t* off, int64_t n) {
    double ba[ew::kChunk];
    double bb[ew::kChunk];
    for (int64_t i = 0; i < n; i += ew::kChunk) {
      const int64_t m = std::min(ew::kChunk, n - i);
      ew::load_f64(a, off[0] + i * sa, sa, m, ba);
      ew::load_f64(b, off[1] + i * sb, sb, m, bb);
      binary_f64(op, ba, bb, m, int_math);
      ew::store_f64(out, off[2] + i * so, so, m, ba, false);
    }
  });
}

// ---- typed fast paths ---------------------------------------------------------------------------

/** out[i] = f(x[i]) with contiguous and strided row variants. */
template <typename TI, typename TO, typename F>
void unary_typed(const View& x, const View& out, F f) {
  const View* vs[2] = {&x, &out};
  const Plan<2> p = ew::make_plan(vs, out);
  ew::map_rows(p, static_cast<const TI*>(x.data), static_cast<TO*>(out.data), kGrain, f);
}

template <typename TI, typename TO, typename F>
void binary_typed(const View& a, const View& b, const View& out, F f) {
  const View* vs[3] = {&a, &b, &out};
  const Plan<3> p = ew::make_plan(vs, out);
  const int64_t sa = p.istride(0), sb = p.istride(1), so = p.istride(2);
  const TI* pa = static_cast<const TI*>(a.data);
  const TI* pb = static_cast<const TI*>(b.data);
  TO* po = static_cast<TO*>(out.data);
  ew::run_rows(p, kGrain, ew::overlaps(p, 2), [&](const int64_t* off, int64_t n) {
    const TI* x = pa + off[0];
    const TI* y = pb + off[1];
    TO* o = po + off[2];
    if (so == 1 && sa == 1 && sb == 1) {
      for (int64_t i = 0; i < n; i++) o[i] = f(x[i], y[i]);
    } else if (so == 1 && sa == 1 && sb == 0) {
      const TI s = *y;
      for (int64_t i = 0; i < n; i++) o[i] = f(x[i], s);
    } else if (so == 1 && sa == 0 && sb == 1) {
      const TI s = *x;
      for (int64_t i = 0; i < n; i++) o[i] = f(s, y[i]);
    } else {
      for (int64_t i = 0; i < n; i++) o[i * so] = f(x[i * sa], y[i * sb]);
    }
  });
}

/** float32 → float32 ops whose float32 result equals backend-js's float64 result rounded. */
bool unary_f32_fast(int op, const View& x, const View& out) {
  switch (op) {
    case kNeg:
      unary_typed<float, float>(x, out, [](float v) { return -v; });
      return true;
    case kAbs:
      unary_typed<float, float>(x, out, [](float v) { return std::fabs(v); });
      return true;
    case kSqrt:
      unary_typed<float, float>(x, out, [](float v) { return std::sqrt(v); });
      return true;
    case kReciprocal:
      unary_typed<float, float>(x, out, [](float v) { return 1.0f / v; });
      return true;
    case kRelu:
      unary_typed<float, float>(x, out, [](float v) { return (v > 0 || v != v) ? v : 0.0f; });
      return true;
    case kSign:
      unary_typed<float, float>(x, out, [](float v) { return v > 0 ? 1.0f : v < 0 ? -1.0f : v; });
      return true;
    case kFloor:
      unary_typed<float, float>(x, out, [](float v) { return std::floor(v); });
      return true;
    case kCeil:
      unary_typed<float, float>(x, out, [](float v) { return std::ceil(v); });
      return true;
    case kRound:
      unary_typed<float, float>(x, out, [](float v) { return std::nearbyint(v); });
      return true;
    case kRsqrt:  // in float64 then rounded, as 1 / Math.sqrt(x) stored to a Float32Array
      unary_typed<float, float>(x, out, [](float v) { return static_cast<float>(1.0 / std::sqrt(double{v})); });
      return true;
    default:
      return false;
  }
}

/** int32 → int32 ops that core sends without casting to float (ToInt32 wraps −INT32_MIN). */
bool unary_i32_fast(int op, const View& x, const View& out) {
  using U = uint32_t;
  switch (op) {
    case kNeg:
      unary_typed<int32_t, int32_t>(x, out, [](int32_t v) { return static_cast<int32_t>(U(0) - U(v)); });
      return true;
    case kAbs:
      unary_typed<int32_t, int32_t>(x, out, [](int32_t v) { return v < 0 ? static_cast<int32_t>(U(0) - U(v)) : v; });
      return true;
    case kRelu:
      unary_typed<int32_t, int32_t>(x, out, [](int32_t v) { return v > 0 ? v : 0; });
      return true;
    case kSign:
      unary_typed<int32_t, int32_t>(x, out, [](int32_t v) { return static_cast<int32_t>((v > 0) - (v < 0)); });
      return true;
    default:
      return false;
  }
}

template <typename T>
bool compare_fast(int op, const View& a, const View& b, const View& out) {
  using B = uint8_t;
  switch (op) {
    case kEq:
      binary_typed<T, B>(a, b, out, [](T x, T y) -> B { return x == y; });
      return true;
    case kNe:
      binary_typed<T, B>(a, b, out, [](T x, T y) -> B { return x != y; });
      return true;
    case kLt:
      binary_typed<T, B>(a, b, out, [](T x, T y) -> B { return x < y; });
      return true;
    case kLe:
      binary_typed<T, B>(a, b, out, [](T x, T y) -> B { return x <= y; });
      return true;
    case kGt:
      binary_typed<T, B>(a, b, out, [](T x, T y) -> B { return x > y; });
      return true;
    case kGe:
      binary_typed<T, B>(a, b, out, [](T x, T y) -> B { return x >= y; });
      return true;
    case kLogicalAnd:
      binary_typed<T, B>(a, b, out, [](T x, T y) -> B { return x != 0 && y != 0; });
      return true;
    case kLogicalOr:
      binary_typed<T, B>(a, b, out, [](T x, T y) -> B { return x != 0 || y != 0; });
      return true;
    default:
      return false;
  }
}

bool binary_f32_fast(int op, const View& a, const View& b, const View& out) {
  switch (op) {
    case kAdd:
      binary_typed<float, float>(a, b, out, [](float x, float y) { return x + y; });
      return true;
    case kSub:
      binary_typed<float, float>(a, b, out, [](float x, float y) { return x - y; });
      return true;
    case kMul:
      binary_typed<float, float>(a, b, out, [](float x, float y) { return x * y; });
      return true;
    case kDiv:
      binary_typed<float, float>(a, b, out, [](float x, float y) { return x / y; });
      return true;
    case kMaximum:
      binary_typed<float, float>(a, b, out, [](float x, float y) { return js_maxf(x, y); });
      return true;
    case kMinimum:
      binary_typed<float, float>(a, b, out, [](float x, float y) { return js_minf(x, y); });
      return true;
    default:
      return false;
  }
}

bool binary_i32_fast(int op, const View& a, const View& b, const View& out) {
  using U = uint32_t;
  switch (op) {
    case kAdd:  // float64 sum then ToInt32 = wrapping int32 add
      binary_typed<int32_t, int32_t>(a, b, out,
                                     [](int32_t x, int32_t y) { return static_cast<int32_t>(U(x) + U(y)); });
      return true;
    case kSub:
      binary_typed<int32_t, int32_t>(a, b, out,
                                     [](int32_t x, int32_t y) { return static_cast<int32_t>(U(x) - U(y)); });
      return true;
    case kMul:
      binary_typed<int32_t, int32_t>(a, b, out, [](int32_t x, int32_t y) { return imul(x, y); });
      return true;
    case kMaximum:
      binary_typed<int32_t, int32_t>(a, b, out, [](int32_t x, int32_t y) { return x > y ? x : y; });
      return true;
    case kMinimum:
      binary_typed<int32_t, int32_t>(a, b, out, [](int32_t x, int32_t y) { return x < y ? x : y; });
      return true;
    default:
      return false;
  }
}

}  // namespace
}  // namespace tessera

using tessera::DType;
using tessera::View;

TESSERA_KERNEL(unary) {
  const tessera::ew_args::UnaryCall u = tessera::ew_args::unary(call);
  const View& x = *u.x;
  const View& out = *u.out;
  if (out.numel == 0) return;
  const int o = u.op;
  if (x.dtype == DType::F32 && out.dtype == DType::F32 && tessera::unary_f32_fast(o, x, out)) return;
  if (x.dtype == DType::I32 && out.dtype == DType::I32 && tessera::unary_i32_fast(o, x, out)) return;
  if (o == tessera::kIsnan && x.dtype == DType::F32 && out.dtype == DType::Bool) {
    tessera::unary_typed<float, uint8_t>(x, out, [](float v) -> uint8_t { return v != v; });
    return;
  }
  if (o == tessera::kLogicalNot && x.dtype == DType::Bool && out.dtype == DType::Bool) {
    tessera::unary_typed<uint8_t, uint8_t>(x, out, [](uint8_t v) -> uint8_t { return v == 0; });
    return;
  }
  tessera::unary_buffered(o, x, out);
}

TESSERA_KERNEL(binary) {
  const tessera::ew_args::BinaryCall bc = tessera::ew_args::binary(call);
  const View& a = *bc.a;
  const View& b = *bc.b;
  const View& out = *bc.out;
  if (out.numel == 0) return;
  const int o = bc.op;
  if (out.dtype == DType::Bool) {
    if (a.dtype == DType::F32 && tessera::compare_fast<float>(o, a, b, out)) return;
    if (a.dtype == DType::I32 && tessera::compare_fast<int32_t>(o, a, b, out)) return;
    if (a.dtype == DType::Bool && tessera::compare_fast<uint8_t>(o, a, b, out)) return;
  } else if (a.dtype == out.dtype) {
    if (a.dtype == DType::F32 && tessera::binary_f32_fast(o, a, b, out)) return;
    if (a.dtype == DType::I32 && tessera::binary_i32_fast(o, a, b, out)) return;
  }
  tessera::binary_buffered(o, a, b, out);
}
