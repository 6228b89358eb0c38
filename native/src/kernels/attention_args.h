// Shape and attribute checks of attention and attentionBackward, shared by the cpu kernels
// (attention.cc) and the cuda ones (cuda/attention.cu). Host code only; compiles as C++17 under nvcc.
#pragma once

#include <cmath>
#include <cstdint>

#include "tessera.h"

namespace tessera {
namespace attn {

/** v must be 3-d of shape [a, b, c]. */
inline void check_shape(const Call& call, const View& v, int64_t a, int64_t b, int64_t c, const char* msg) {
  call.check(v.ndim == 3 && v.shape[0] == a && v.shape[1] == b && v.shape[2] == c, msg);
}

/** q [B, Sq, D], k [B, Sk, D], v [B, Sk, Dv]. */
struct Dims {
  int64_t B, Sq, Sk, D, Dv;
};

/** Checks that q, k and v are 3-d with the shapes of Dims, which it returns. */
inline Dims qkv_dims(const Call& call, const View& q, const View& k, const View& v) {
  call.check(q.ndim == 3 && k.ndim == 3 && v.ndim == 3, "q, k and v must be 3-d [B, S, D]");
  const Dims d{q.shape[0], q.shape[1], k.shape[1], q.shape[2], v.shape[2]};
  check_shape(call, k, d.B, d.Sk, d.D, "k must be [B, Sk, D] with q's B and D");
  check_shape(call, v, d.B, d.Sk, d.Dv, "v must be [B, Sk, Dv] with k's B and Sk");
  return d;
}

/** Attributes 0 (scale, finite) and 1 (causal, 0 or 1). */
struct Attrs {
  float scale;
  bool causal;
};

inline Attrs attrs_of(const Call& call) {
  const double scale = call.attr(0);
  call.check(std::isfinite(scale), "scale must be finite");
  const int64_t causal = call.iattr(1);
  call.check(causal == 0 || causal == 1, "causal must be 0 or 1");
  return {static_cast<float>(scale), causal == 1};
}

}  // namespace attn
}  // namespace tessera
