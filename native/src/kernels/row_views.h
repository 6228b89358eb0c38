// View check shared by the row kernels' baseline files (softmax.cc, layernorm.cc, gelu.cc). Baseline
// code only: not for the *_avx2.cc / *_avx512.cc files (an inline function compiled there could be
// the copy the linker keeps).
#pragma once

#include <cstddef>

#include "tessera.h"

namespace tessera {

/**
 * View i as a float32 contiguous view; an empty view is returned unchecked (it may have no storage
 * and any strides, and is never touched). Fails with `absent` when a non-empty view is missing.
 */
inline const View& dense_f32_view(const Call& call, size_t i, const char* absent = "a required view is absent") {
  const View& v = call.view(i);
  if (v.numel == 0) return v;
  call.check(v.present(), absent);
  call.check(v.dtype == DType::F32, "views must be float32");
  call.check(v.contiguous(), "views must be contiguous");
  return v;
}

}  // namespace tessera
