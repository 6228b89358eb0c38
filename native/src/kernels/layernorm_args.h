// The [rows, size] view of layerNorm's x, shared by the cpu kernels (layernorm.cc) and the cuda ones
// (cuda/layernorm.cu). Host code only; compiles as C++17 under nvcc.
#pragma once

#include <cstdint>

#include "tessera.h"

namespace tessera {
namespace layernorm_args {

struct Shape {
  int64_t rows, size;
};

/** x as rows of normalizedSize (attribute 0) elements. */
inline Shape row_shape(const Call& call, const View& x) {
  const int64_t size = call.iattr(0);
  call.check(size >= 0, "normalizedSize must be non-negative");
  if (size == 0) {
    call.check(x.numel == 0, "normalizedSize 0 needs an empty x");
    return {0, 0};
  }
  call.check(x.numel % size == 0, "x's size must be a multiple of normalizedSize");
  return {x.numel / size, size};
}

}  // namespace layernorm_args
}  // namespace tessera
