// View checks and attribute reading of crossEntropy, shared by the cpu kernel (cross_entropy.cc) and
// the cuda one (cuda/cross_entropy.cu). Host code only; compiles as C++17 under nvcc.
#pragma once

#include <cstdint>

#include "tessera.h"

namespace tessera {
namespace cross_entropy_args {

/**
 * A checked crossEntropy call: logits [N, C] float32, target [N] int32, optional weight [C] float32,
 * out ([N] for reduction 0 'none', one element for 1 'mean' and 2 'sum') float32, all contiguous; and
 * attributes ignoreIndex, labelSmoothing (eps) and reduction. Target values are not checked here.
 */
struct Args {
  const View* logits;
  const View* target;
  const View* weight;
  const View* out;
  int64_t N, C;
  bool has_w;
  double ignore, eps;
  int64_t reduction;
};

inline Args read(const Call& call) {
  call.expect(4, 3);
  Args a;
  const View& logits = call.view(0);
  const View& target = call.view(1);
  const View& weight = call.view(2);
  const View& out = call.view(3);
  a.logits = &logits;
  a.target = &target;
  a.weight = &weight;
  a.out = &out;
  call.check(logits.ndim == 2, "logits must be [N, C]");
  const int64_t N = logits.shape[0], C = logits.shape[1];
  a.N = N;
  a.C = C;
  call.check(logits.numel == 0 || (logits.present() && logits.dtype == DType::F32 && logits.contiguous()),
             "logits must be contiguous float32");
  call.check(target.ndim == 1 && target.shape[0] == N, "target must be [N]");
  call.check(target.dtype == DType::I32, "target must be int32");
  call.check(N == 0 || (target.present() && target.contiguous()), "target must be contiguous");
  a.has_w = weight.present();
  if (a.has_w) {
    call.check(weight.dtype == DType::F32 && weight.contiguous(), "weight must be contiguous float32");
    call.check(weight.numel == C, "weight must have C elements");
  }
  a.ignore = call.attr(0);
  a.eps = call.attr(1);
  a.reduction = call.iattr(2);
  call.check(a.reduction >= 0 && a.reduction <= 2, "reduction must be 0, 1 or 2");
  if (a.reduction == 0) {
    call.check(out.ndim == 1 && out.shape[0] == N, "out must be [N] for reduction 'none'");
  } else {
    call.check(out.numel == 1, "out must have one element for reduction 'mean' or 'sum'");
  }
  call.check(out.numel == 0 || (out.present() && out.dtype == DType::F32 && out.contiguous()),
             "out must be contiguous float32");
  return a;
}

}  // namespace cross_entropy_args
}  // namespace tessera
