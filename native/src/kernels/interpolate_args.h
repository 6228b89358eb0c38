// Attribute checks of interpolate, shared by the cpu kernel (interpolate.cc) and the cuda one
// (cuda/interpolate.cu). Host code only; compiles as C++17 under nvcc.
#pragma once

#include <cmath>
#include <cstdint>

#include "spatial.h"
#include "tessera.h"

namespace tessera {
namespace interp {

/** A checked interpolate call: x and out as planes, and the attributes. */
struct Interp {
  spatial::Planes p;
  bool bilinear;       // mode 1; mode 0 is nearest
  bool align_corners;
  double scale_h, scale_w;
  bool empty;  // out has no element (nothing to do; the input's dims were not checked)
};

/**
 * x, out | mode (0 nearest, 1 bilinear), alignCorners, scaleH, scaleW. Unless out is empty, the input's
 * spatial dims must be positive.
 */
inline Interp interpolate_args(const Call& call) {
  call.expect(2, 4);
  const spatial::Planes p = spatial::planes_of(call);
  const int64_t mode = call.iattr(0);
  const int64_t align = call.iattr(1);
  call.check(mode == 0 || mode == 1, "mode must be 0 (nearest) or 1 (bilinear)");
  call.check(align == 0 || align == 1, "alignCorners must be 0 or 1");
  const double scale_h = call.attr(2), scale_w = call.attr(3);
  call.check(std::isfinite(scale_h) && std::isfinite(scale_w) && scale_h > 0 && scale_w > 0,
             "scales must be positive and finite");
  const bool empty = p.planes * p.Ho * p.Wo == 0;
  if (!empty) call.check(p.H >= 1 && p.W >= 1, "input spatial dims must be positive for a non-empty output");
  return {p, mode == 1, align == 1, scale_h, scale_w, empty};
}

/** The bilinear source scale with alignCorners: (in-1)/(out-1), or 0 for a single output. */
inline double align_corners_scale(int64_t in, int64_t out) {
  return out > 1 ? static_cast<double>(in - 1) / static_cast<double>(out - 1) : 0.0;
}

}  // namespace interp
}  // namespace tessera
