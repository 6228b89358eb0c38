// The [outer, len, inner] split around softmax's dim, shared by the cpu kernels (softmax.cc) and the
// cuda ones (cuda/softmax.cu). Host code only; compiles as C++17 under nvcc.
#pragma once

#include <cstdint>

#include "tessera.h"

namespace tessera {
namespace softmax_args {

struct Split {
  int64_t outer = 1, len = 1, inner = 1;
};

/** v's shape as [outer, len, inner] around dim (a 0-d view takes dim 0 or -1 and is [1, 1, 1]). */
inline Split split_around(const Call& call, const View& v, int64_t dim) {
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

}  // namespace softmax_args
}  // namespace tessera
