// adamUpdate: param, grad, m, v (float32, param/m/v updated in place) | lr, beta1, beta2, eps,
//   weightDecay, decoupled (0/1), step
// backend-js's arithmetic (PyTorch 1.13), in float64 per element and rounded once on store:
//   AdamW: p ← p·(1 − lr·wd);  Adam: g ← g + wd·p
//   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
//   p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + eps)
#include <algorithm>
#include <cmath>

#include "kernels/adam_args.h"
#include "tessera.h"

namespace tessera {
namespace {

constexpr int64_t kGrain = 1 << 15;

struct AdamConsts {
  double beta1, beta2, eps, step_size, bc2_sqrt, decay, l2;
  bool decoupled;
};

template <bool kDecoupled>
void adam_range(float* p, const float* g, float* m, float* v, int64_t n, const AdamConsts& c) {
  const double b1 = c.beta1, b2 = c.beta2, ob1 = 1 - c.beta1, ob2 = 1 - c.beta2;
  for (int64_t i = 0; i < n; i++) {
    double pv = p[i];
    if (kDecoupled) pv *= c.decay;
    const double gv = kDecoupled ? static_cast<double>(g[i]) : g[i] + c.l2 * pv;
    const double mv = b1 * m[i] + ob1 * gv;
    const double vv = b2 * v[i] + ob2 * gv * gv;
    m[i] = static_cast<float>(mv);
    v[i] = static_cast<float>(vv);
    p[i] = static_cast<float>(pv - (c.step_size * mv) / (std::sqrt(vv) / c.bc2_sqrt + c.eps));
  }
}

}  // namespace
}  // namespace tessera

TESSERA_KERNEL(adamUpdate) {
  using namespace tessera;
  const adam_args::Args a = adam_args::read(call);
  const View* const* v4 = a.views;
  const int64_t n = a.n;
  AdamConsts c;
  c.beta1 = a.beta1;
  c.beta2 = a.beta2;
  c.eps = a.eps;
  c.decoupled = a.decoupled;
  c.step_size = a.step_size;
  c.bc2_sqrt = a.bc2_sqrt;
  c.decay = a.decay;
  c.l2 = a.l2;
  if (n == 0) return;
  float* p = v4[0]->ptr<float>();
  const float* g = v4[1]->ptr<float>();
  float* m = v4[2]->ptr<float>();
  float* v = v4[3]->ptr<float>();
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    if (c.decoupled) adam_range<true>(p + b, g + b, m + b, v + b, e - b, c);
    else adam_range<false>(p + b, g + b, m + b, v + b, e - b, c);
  });
}
