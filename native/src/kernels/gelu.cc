// gelu: x, out | approximate (0 erf, 1 tanh);  geluBackward: x, dy, dx | approximate
//   erf:  gelu(x) = x·Φ(x),               gelu'(x) = Φ(x) + x·φ(x)
//   tanh: gelu(x) = x·s, s = σ(2u) = (1 + tanh u)/2, u = √(2/π)·(x + 0.044715·x³)
//         gelu'(x) = s + 2·x·s·(1 − s)·u'(x),  u'(x) = √(2/π)·(1 + 3·0.044715·x²)
// Elementwise loops over the vectorisable exp/erfc of row_math.h (no libm call per element).
#include <algorithm>

#include "kernels/row_math.h"
#include "tessera.h"

namespace tessera {
namespace {

constexpr int64_t kGrain = 1 << 15;
constexpr float kSqrt1_2 = 0.70710678118654752f;
constexpr float kSqrt2OverPi = 0.79788456080286536f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;
constexpr float kCoef = 0.044715f;

/** Φ(x) = (1 + erf(x/√2)) / 2. */
inline float phi_cdf(float x) { return 0.5f * rm_one_plus_erf(x * kSqrt1_2); }

/** σ(2u) = 1 / (1 + exp(−2u)); exp overflowing to +Inf gives 0, as it should. */
inline float tanh_gate(float x) {
  const float u = kSqrt2OverPi * (x + kCoef * x * x * x);
  return 1.0f / (1.0f + rm_exp(-2.0f * u));
}

void gelu_range(const float* x, float* out, int64_t n, bool tanh_form) {
  if (tanh_form) {
    for (int64_t i = 0; i < n; i++) out[i] = x[i] * tanh_gate(x[i]);
  } else {
    for (int64_t i = 0; i < n; i++) out[i] = x[i] * phi_cdf(x[i]);
  }
}

void gelu_backward_range(const float* x, const float* dy, float* dx, int64_t n, bool tanh_form) {
  if (tanh_form) {
    for (int64_t i = 0; i < n; i++) {
      const float v = x[i];
      const float s = tanh_gate(v);
      const float du = kSqrt2OverPi * (1.0f + 3.0f * kCoef * v * v);
      dx[i] = dy[i] * (s + 2.0f * v * s * (1.0f - s) * du);
    }
  } else {
    for (int64_t i = 0; i < n; i++) {
      const float v = x[i];
      const float pdf = kInvSqrt2Pi * rm_exp(-0.5f * v * v);
      dx[i] = dy[i] * (phi_cdf(v) + v * pdf);
    }
  }
}

const View& float_view(const Call& call, size_t i) {
  const View& v = call.view(i);
  if (v.numel == 0) return v;
  call.check(v.present(), "a required view is absent");
  call.check(v.dtype == DType::F32, "views must be float32");
  call.check(v.contiguous(), "views must be contiguous");
  return v;
}

bool approximate(const Call& call) {
  const int64_t a = call.iattr(0);
  call.check(a == 0 || a == 1, "approximate must be 0 (erf) or 1 (tanh)");
  return a == 1;
}

}  // namespace
}  // namespace tessera

TESSERA_KERNEL(gelu) {
  using namespace tessera;
  call.expect(2, 1);
  const View& x = float_view(call, 0);
  const View& out = float_view(call, 1);
  call.check(out.same_shape(x), "out must have x's shape");
  const bool t = approximate(call);
  if (x.numel == 0) return;
  const float* xp = x.ptr<float>();
  float* op = out.ptr<float>();
  parallel_for(x.numel, kGrain, [&](int64_t b, int64_t e) { gelu_range(xp + b, op + b, e - b, t); });
}

TESSERA_KERNEL(geluBackward) {
  using namespace tessera;
  call.expect(3, 1);
  const View& x = float_view(call, 0);
  const View& dy = float_view(call, 1);
  const View& dx = float_view(call, 2);
  call.check(dy.same_shape(x) && dx.same_shape(x), "x, dy and dx must have one shape");
  const bool t = approximate(call);
  if (x.numel == 0) return;
  const float* xp = x.ptr<float>();
  const float* gp = dy.ptr<float>();
  float* op = dx.ptr<float>();
  parallel_for(x.numel, kGrain, [&](int64_t b, int64_t e) { gelu_backward_range(xp + b, gp + b, op + b, e - b, t); });
}
