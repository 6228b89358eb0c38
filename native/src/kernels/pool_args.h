// Attribute checks and output-shape rules of maxPool2d and avgPool2d, shared by the cpu kernels
// (pool.cc) and the cuda ones (cuda/pool.cu). Host code only; compiles as C++17 under nvcc.
#pragma once

#include <cstdint>

#include "spatial.h"
#include "tessera.h"

namespace tessera {
namespace pool {

/** Attributes 0-9: kernel, stride, padding, dilation (H then W), ceilMode, countIncludePad. */
struct PoolGeometry {
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  bool ceil_mode, count_include_pad;
};

/** PyTorch's pooling_output_shape for one dim (core's pooledSize). */
inline __int128 pooled_size(int64_t size, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil) {
  const __int128 span = __int128{size} + 2 * __int128{p} - __int128{d} * (k - 1) - 1;
  __int128 out = spatial::floor_div(span + (ceil ? s - 1 : 0), s) + 1;
  // The last window must start inside the input or the left padding.
  if (ceil && (out - 1) * s >= __int128{size} + p) out--;
  return out;
}

inline PoolGeometry pool_geometry(const Call& call) {
  using spatial::attr_in;
  using spatial::kAttrMax;
  PoolGeometry a;
  a.kh = attr_in(call, 0, 1, kAttrMax, "kernelH");
  a.kw = attr_in(call, 1, 1, kAttrMax, "kernelW");
  a.sh = attr_in(call, 2, 1, kAttrMax, "strideH");
  a.sw = attr_in(call, 3, 1, kAttrMax, "strideW");
  a.ph = attr_in(call, 4, 0, kAttrMax, "padH");
  a.pw = attr_in(call, 5, 0, kAttrMax, "padW");
  a.dh = attr_in(call, 6, 1, kAttrMax, "dilationH");
  a.dw = attr_in(call, 7, 1, kAttrMax, "dilationW");
  a.ceil_mode = attr_in(call, 8, 0, 1, "ceilMode") == 1;
  a.count_include_pad = attr_in(call, 9, 0, 1, "countIncludePad") == 1;
  return a;
}

inline void check_pooled(const Call& call, const spatial::Planes& p, const PoolGeometry& a) {
  const __int128 ho = pooled_size(p.H, a.kh, a.sh, a.ph, a.dh, a.ceil_mode);
  const __int128 wo = pooled_size(p.W, a.kw, a.sw, a.pw, a.dw, a.ceil_mode);
  call.check(ho >= 0 && wo >= 0 && p.Ho == ho && p.Wo == wo,
             "out's spatial dims must be the pooled sizes the attributes imply");
}

/** A checked maxPool2d or avgPool2d call: x and out as planes, and the attributes. */
struct Pool {
  spatial::Planes p;
  PoolGeometry a;
};

/** x, out | the ten attributes of PoolGeometry. */
inline Pool max_pool_args(const Call& call) {
  call.expect(2, 10);
  const spatial::Planes p = spatial::planes_of(call);
  const PoolGeometry a = pool_geometry(call);
  check_pooled(call, p, a);
  return {p, a};
}

/** As max_pool_args, and the dilation must be 1. */
inline Pool avg_pool_args(const Call& call) {
  call.expect(2, 10);
  const spatial::Planes p = spatial::planes_of(call);
  const PoolGeometry a = pool_geometry(call);
  // Core's avgPool2d has no dilation; backend-js ignores it, so a dilated call is malformed.
  call.check(a.dh == 1 && a.dw == 1, "dilation must be 1");
  check_pooled(call, p, a);
  return {p, a};
}

}  // namespace pool
}  // namespace tessera
