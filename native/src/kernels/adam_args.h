// View checks and attribute reading of adamUpdate, shared by the cpu kernel (adam.cc) and the cuda
// one (cuda/adam.cu). Host code only; compiles as C++17 under nvcc.
#pragma once

#include <cmath>
#include <cstdint>

#include "tessera.h"

namespace tessera {
namespace adam_args {

/**
 * A checked adamUpdate call: views param, grad, m, v (float32, contiguous, one size n; empty views pass
 * unchecked) and attributes lr, beta1, beta2, eps, weightDecay, decoupled, step, with the step's
 * constants derived in float64.
 */
struct Args {
  const View* views[4];  // param, grad, m, v
  int64_t n;
  double beta1, beta2, eps;
  bool decoupled;
  double step_size;  // lr / (1 − beta1^step)
  double bc2_sqrt;   // √(1 − beta2^step)
  double decay;      // 1 − lr·wd when decoupled, else 1
  double l2;         // wd when not decoupled, else 0
};

inline Args read(const Call& call) {
  call.expect(4, 7);
  Args a;
  for (size_t i = 0; i < 4; i++) {
    const View& x = call.view(i);
    a.views[i] = &x;
    if (x.numel == 0) continue;
    call.check(x.present(), "param, grad, m and v are required");
    call.check(x.dtype == DType::F32, "param, grad, m and v must be float32");
    call.check(x.contiguous(), "param, grad, m and v must be contiguous");
  }
  a.n = a.views[0]->numel;
  for (int i = 1; i < 4; i++) call.check(a.views[i]->numel == a.n, "param, grad, m and v must have one size");
  const double lr = call.attr(0);
  a.beta1 = call.attr(1);
  a.beta2 = call.attr(2);
  a.eps = call.attr(3);
  const double wd = call.attr(4);
  a.decoupled = call.attr(5) != 0;
  const double step = call.attr(6);
  a.step_size = lr / (1 - std::pow(a.beta1, step));
  a.bc2_sqrt = std::sqrt(1 - std::pow(a.beta2, step));
  a.decay = a.decoupled ? 1 - lr * wd : 1.0;
  a.l2 = a.decoupled ? 0.0 : wd;
  return a;
}

}  // namespace adam_args
}  // namespace tessera
