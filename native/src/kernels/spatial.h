// View and attribute checks shared by the [N, C, H, W] float32 kernels (conv.cc, pool.cc,
// interpolate.cc). Baseline code only: include it from files compiled for baseline x86-64.
#pragma once

#include <cstdint>
#include <string>

#include "tessera.h"

namespace tessera {
namespace spatial {

/** Attribute bound that keeps every index expression far from int64 overflow. */
constexpr int64_t kAttrMax = int64_t{1} << 31;

/**
 * View i, present and float32; contiguous unless empty (an empty slice keeps its parent's strides,
 * which the binding's contiguity test rejects, yet no element is ever addressed).
 */
inline const View& dense_f32(const Call& call, size_t i) {
  const View& v = call.view(i);
  if (v.present() && v.numel == 0) {
    call.check(v.dtype == DType::F32, "views must be float32");
    return v;
  }
  return call.contiguous(i, DType::F32);
}

/** Integer attribute i, failing with "<what> is out of range" outside [lo, hi]. */
inline int64_t attr_in(const Call& call, size_t i, int64_t lo, int64_t hi, const char* what) {
  int64_t v = call.iattr(i);
  if (v < lo || v > hi) call.fail(std::string(what) + " is out of range");
  return v;
}

/** Floor division (rounds toward −∞) in 128 bits. */
inline __int128 floor_div(__int128 a, __int128 b) {
  __int128 q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

/** x [N,C,H,W] and out [N,C,Ho,Wo] as planes. */
struct Planes {
  const float* x;
  float* out;
  int64_t planes, H, W, Ho, Wo;
};

/** Checks views 0 = x [N,C,H,W] and 1 = out [N,C,Ho,Wo] (float32, dense); Ho, Wo are out's. */
inline Planes planes_of(const Call& call) {
  const View& x = dense_f32(call, 0);
  const View& out = dense_f32(call, 1);
  call.check(x.ndim == 4, "x must be 4-D [N,C,H,W]");
  call.check(out.ndim == 4, "out must be 4-D [N,C,Ho,Wo]");
  call.check(out.shape[0] == x.shape[0] && out.shape[1] == x.shape[1],
             "out must have the input's batch and channel dims");
  return {x.ptr<float>(), out.ptr<float>(), x.shape[0] * x.shape[1], x.shape[2], x.shape[3],
          out.shape[2], out.shape[3]};
}

}  // namespace spatial
}  // namespace tessera
