// gelu: x, out | approximate (0 erf, 1 tanh);  geluBackward: x, dy, dx | approximate
//   erf:  gelu(x) = x·Φ(x),               gelu'(x) = Φ(x) + x·φ(x)
//   tanh: gelu(x) = x·s, s = σ(2u) = (1 + tanh u)/2, u = √(2/π)·(x + 0.044715·x³)
//         gelu'(x) = s + 2·x·s·(1 − s)·u'(x),  u'(x) = √(2/π)·(1 + 3·0.044715·x²)
// The loops are row_math.h's (baseline or AVX-512, no libm call per element).
#include <algorithm>

#include "kernels/row_math.h"
#include "kernels/row_views.h"
#include "tessera.h"

namespace tessera {
namespace {

constexpr int64_t kGrain = 1 << 15;

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
  const View& x = dense_f32_view(call, 0);
  const View& out = dense_f32_view(call, 1);
  call.check(out.same_shape(x), "out must have x's shape");
  const bool t = approximate(call);
  if (x.numel == 0) return;
  const float* xp = x.ptr<float>();
  float* op = out.ptr<float>();
  const RowOps& ops = row_ops();
  parallel_for(x.numel, kGrain, [&](int64_t b, int64_t e) { ops.gelu(xp + b, op + b, e - b, t); });
}

TESSERA_KERNEL(geluBackward) {
  using namespace tessera;
  call.expect(3, 1);
  const View& x = dense_f32_view(call, 0);
  const View& dy = dense_f32_view(call, 1);
  const View& dx = dense_f32_view(call, 2);
  call.check(dy.same_shape(x) && dx.same_shape(x), "x, dy and dx must have one shape");
  const bool t = approximate(call);
  if (x.numel == 0) return;
  const float* xp = x.ptr<float>();
  const float* gp = dy.ptr<float>();
  float* op = dx.ptr<float>();
  const RowOps& ops = row_ops();
  parallel_for(x.numel, kGrain, [&](int64_t b, int64_t e) { ops.gelu_backward(xp + b, gp + b, op + b, e - b, t); });
}
