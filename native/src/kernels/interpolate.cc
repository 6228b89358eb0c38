// Resampling of [N, C, H, W] float32 planes: legacy nearest and bilinear without antialiasing, bit for
// bit with backend-js's kernels/interpolate.ts. The per-axis source indices and weights replicate
// core's nearestSourceIndices and bilinearTaps (ops/interpolate.ts) exactly, including PyTorch's
// shortcuts for an unchanged and a doubled axis; the bilinear blend runs in double and rounds once.
#include <algorithm>
#include <cmath>
#include <vector>

#include "interpolate_args.h"
#include "tessera.h"

namespace tessera {
namespace {

/** core's nearestSourceIndices: min(floor(fround(d * fround(scale))), in - 1). */
std::vector<int64_t> nearest_source_indices(int64_t in, int64_t out, double scale) {
  std::vector<int64_t> idx(static_cast<size_t>(out));
  const double s = static_cast<float>(scale);
  for (int64_t d = 0; d < out; d++) {
    if (out == in) {
      idx[d] = d;
    } else if (out == 2 * in) {
      idx[d] = d >> 1;
    } else {
      const double src = std::floor(static_cast<double>(static_cast<float>(static_cast<double>(d) * s)));
      // The clamp at 0 only guards a malformed scale; core's is positive.
      idx[d] = src >= static_cast<double>(in - 1) ? in - 1 : std::max<int64_t>(static_cast<int64_t>(src), 0);
    }
  }
  return idx;
}

/** core's bilinearTaps: out[d] = x[lo[d]]*w0[d] + x[hi[d]]*w1[d], weights in double. */
struct Taps {
  std::vector<int64_t> lo, hi;
  std::vector<double> w0, w1;
};

Taps bilinear_taps(int64_t in, int64_t out, double scale, bool align_corners) {
  Taps t;
  t.lo.resize(out);
  t.hi.resize(out);
  t.w0.assign(out, 0.0);
  t.w1.assign(out, 0.0);
  const double s = align_corners ? interp::align_corners_scale(in, out) : scale;
  for (int64_t d = 0; d < out; d++) {
    if (out == in) {
      t.lo[d] = t.hi[d] = d;
      t.w0[d] = 1;
      continue;
    }
    const double dd = static_cast<double>(d);
    const double src = std::max(align_corners ? s * dd : s * (dd + 0.5) - 0.5, 0.0);
    const double fl = std::floor(src);
    const int64_t i0 = fl >= static_cast<double>(in - 1) ? in - 1 : static_cast<int64_t>(fl);
    const double l1 = std::min(src - static_cast<double>(i0), 1.0);
    t.lo[d] = i0;
    t.hi[d] = i0 < in - 1 ? i0 + 1 : i0;
    t.w1[d] = l1;
    t.w0[d] = 1 - l1;
  }
  return t;
}

TESSERA_KERNEL(interpolate) {
  const interp::Interp args = interp::interpolate_args(call);
  if (args.empty) return;
  const spatial::Planes& p = args.p;
  const int64_t planes = p.planes;
  const int64_t H = p.H, W = p.W, Ho = p.Ho, Wo = p.Wo;
  const double scale_h = args.scale_h, scale_w = args.scale_w;
  const float* xp = p.x;
  float* yp = p.out;
  const int64_t grain = std::max<int64_t>(1, 32768 / (Ho * Wo));
  if (!args.bilinear) {
    const std::vector<int64_t> ys = nearest_source_indices(H, Ho, scale_h);
    const std::vector<int64_t> xs = nearest_source_indices(W, Wo, scale_w);
    parallel_for(planes, grain, [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; p++) {
        const float* xb = xp + p * H * W;
        float* o = yp + p * Ho * Wo;
        for (int64_t oy = 0; oy < Ho; oy++) {
          const float* row = xb + ys[oy] * W;
          for (int64_t ox = 0; ox < Wo; ox++) *o++ = row[xs[ox]];
        }
      }
    });
    return;
  }
  const Taps ay = bilinear_taps(H, Ho, scale_h, args.align_corners);
  const Taps ax = bilinear_taps(W, Wo, scale_w, args.align_corners);
  // Each output row blends two source rows already blended along W (the reference's w0*x[c0] + w1*x[c1],
  // in double); those horizontal blends are cached, since neighbouring output rows share source rows.
  parallel_for(planes, grain, [&](int64_t b, int64_t e) {
    std::vector<double> cache(2 * Wo);
    double* slots[2] = {cache.data(), cache.data() + Wo};
    for (int64_t p = b; p < e; p++) {
      const float* xb = xp + p * H * W;
      float* o = yp + p * Ho * Wo;
      int64_t key[2] = {-1, -1};
      auto blended = [&](int64_t r, int64_t keep) -> const double* {
        if (key[0] == r) return slots[0];
        if (key[1] == r) return slots[1];
        const int slot = key[0] == keep ? 1 : 0;
        const float* row = xb + r * W;
        double* dst = slots[slot];
        for (int64_t ox = 0; ox < Wo; ox++)
          dst[ox] = ax.w0[ox] * static_cast<double>(row[ax.lo[ox]]) + ax.w1[ox] * static_cast<double>(row[ax.hi[ox]]);
        key[slot] = r;
        return dst;
      };
      for (int64_t oy = 0; oy < Ho; oy++, o += Wo) {
        const int64_t r0 = ay.lo[oy], r1 = ay.hi[oy];
        const double* top = blended(r0, r1);
        const double* bottom = blended(r1, r0);
        const double h0 = ay.w0[oy], h1 = ay.w1[oy];
        for (int64_t ox = 0; ox < Wo; ox++) o[ox] = static_cast<float>(h0 * top[ox] + h1 * bottom[ox]);
      }
    }
  });
}

}  // namespace
}  // namespace tessera
