// 2-D pooling over [N, C, H, W] float32 planes with PyTorch's window rules, bit for bit with
// backend-js's kernels/pool.ts: max pooling treats padding as -Inf and propagates NaN; average
// pooling sums in double in row-major window order and divides by core's avgPoolDivisors (the window
// clipped to the padded input, or to the input without countIncludePad); adaptive windows are
// [floor(i*H/Ho), ceil((i+1)*H/Ho)). Planes are spread over the thread pool.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "pool_args.h"
#include "spatial.h"
#include "tessera.h"

namespace tessera {
namespace {

using pool::PoolGeometry;
using spatial::Planes;
using spatial::planes_of;

/** Planes per parallel chunk so each chunk does at least ~32K window taps. */
int64_t plane_grain(int64_t per_plane) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(per_plane, 1)); }

/**
 * Per window column kx (input column ox*s + kx*d - p): the output columns [lo[kx], hi[kx]) whose tap
 * lies inside [0, W). Computed once per call: the divisions stay out of the row loops.
 */
struct ColumnRanges {
  std::vector<int64_t> lo, hi;
  ColumnRanges(int64_t k, int64_t s, int64_t p, int64_t d, int64_t W, int64_t Wo) : lo(k), hi(k) {
    for (int64_t kx = 0; kx < k; kx++) {
      const int64_t off = kx * d - p;
      int64_t ox0 = off >= 0 ? 0 : (-off + s - 1) / s;
      int64_t ox1 = off >= W ? 0 : (W - 1 - off) / s + 1;
      ox0 = std::min(ox0, Wo);
      lo[kx] = ox0;
      hi[kx] = std::clamp(ox1, ox0, Wo);
    }
  }
};

// Both pools sweep one output row at a time: for each window tap (ky, kx) in row-major order, every
// output column whose tap lies inside the input updates its accumulator. Per output that is the
// reference's tap order, so results match it bit for bit, and the column loop has no branches.

TESSERA_KERNEL(maxPool2d) {
  const pool::Pool args = pool::max_pool_args(call);
  const Planes& p = args.p;
  const PoolGeometry& a = args.a;
  if (p.planes * p.Ho * p.Wo == 0) return;
  const int64_t H = p.H, W = p.W, Ho = p.Ho, Wo = p.Wo;
  const ColumnRanges cols(a.kw, a.sw, a.pw, a.dw, W, Wo);
  parallel_for(p.planes, plane_grain(Ho * Wo * a.kh * a.kw), [&](int64_t b, int64_t e) {
    std::vector<float> acc(Wo);
    std::vector<int32_t> nan(Wo);
    for (int64_t plane = b; plane < e; plane++) {
      const float* xb = p.x + plane * H * W;
      float* o = p.out + plane * Ho * Wo;
      for (int64_t oy = 0; oy < Ho; oy++, o += Wo) {
        std::fill(acc.begin(), acc.end(), -std::numeric_limits<float>::infinity());
        std::fill(nan.begin(), nan.end(), 0);
        float* __restrict m = acc.data();
        int32_t* __restrict bad = nan.data();
        const int64_t y0 = oy * a.sh - a.ph;
        for (int64_t ky = 0; ky < a.kh; ky++) {
          const int64_t iy = y0 + ky * a.dh;
          if (iy < 0 || iy >= H) continue;
          const float* __restrict row = xb + iy * W;
          for (int64_t kx = 0; kx < a.kw; kx++) {
            const int64_t off = kx * a.dw - a.pw;
            for (int64_t ox = cols.lo[kx], ox1 = cols.hi[kx]; ox < ox1; ox++) {
              const float v = row[off + ox * a.sw];
              m[ox] = v > m[ox] ? v : m[ox];
              bad[ox] |= v != v;
            }
          }
        }
        for (int64_t ox = 0; ox < Wo; ox++) {
          if (!bad[ox]) {
            o[ox] = m[ox];
            continue;
          }
          // The reference keeps the last NaN of the window (a NaN replaces anything, NaN included).
          float last = m[ox];
          for (int64_t ky = 0; ky < a.kh; ky++) {
            const int64_t iy = y0 + ky * a.dh;
            if (iy < 0 || iy >= H) continue;
            for (int64_t kx = 0; kx < a.kw; kx++) {
              const int64_t ix = ox * a.sw - a.pw + kx * a.dw;
              if (ix >= 0 && ix < W && std::isnan(xb[iy * W + ix])) last = xb[iy * W + ix];
            }
          }
          o[ox] = last;
        }
      }
    }
  });
}

TESSERA_KERNEL(avgPool2d) {
  const pool::Pool args = pool::avg_pool_args(call);
  const Planes& p = args.p;
  const PoolGeometry& a = args.a;
  if (p.planes * p.Ho * p.Wo == 0) return;
  const int64_t H = p.H, W = p.W, Ho = p.Ho, Wo = p.Wo;
  // Per output column: the divisor (avgPoolDivisors' width factor) and whether the clipped window is empty.
  std::vector<int64_t> wdiv(Wo);
  std::vector<unsigned char> wempty(Wo);
  for (int64_t ox = 0; ox < Wo; ox++) {
    int64_t x0 = ox * a.sw - a.pw;
    int64_t x1 = std::min(x0 + a.kw, W + a.pw);
    const int64_t padded = x1 - x0;
    x0 = std::max<int64_t>(x0, 0);
    x1 = std::min(x1, W);
    wdiv[ox] = a.count_include_pad ? padded : x1 - x0;
    wempty[ox] = x0 >= x1;
  }
  const ColumnRanges cols(a.kw, a.sw, a.pw, 1, W, Wo);
  parallel_for(p.planes, plane_grain(Ho * Wo * a.kh * a.kw), [&](int64_t b, int64_t e) {
    std::vector<double> acc(Wo);
    for (int64_t plane = b; plane < e; plane++) {
      const float* xb = p.x + plane * H * W;
      float* o = p.out + plane * Ho * Wo;
      for (int64_t oy = 0; oy < Ho; oy++, o += Wo) {
        int64_t y0 = oy * a.sh - a.ph;
        int64_t y1 = std::min(y0 + a.kh, H + a.ph);
        const int64_t h_pad = y1 - y0;
        y0 = std::max<int64_t>(y0, 0);
        y1 = std::min(y1, H);
        if (y0 >= y1) {
          std::fill(o, o + Wo, 0.0f);
          continue;
        }
        const int64_t hdiv = a.count_include_pad ? h_pad : y1 - y0;
        std::fill(acc.begin(), acc.end(), 0.0);
        double* __restrict s = acc.data();
        for (int64_t iy = y0; iy < y1; iy++) {
          const float* __restrict row = xb + iy * W;
          for (int64_t kx = 0; kx < a.kw; kx++) {
            const int64_t off = kx - a.pw;
            for (int64_t ox = cols.lo[kx], ox1 = cols.hi[kx]; ox < ox1; ox++) s[ox] += row[off + ox * a.sw];
          }
        }
        for (int64_t ox = 0; ox < Wo; ox++)
          o[ox] = wempty[ox] ? 0.0f : static_cast<float>(s[ox] / static_cast<double>(hdiv * wdiv[ox]));
      }
    }
  });
}

TESSERA_KERNEL(adaptiveAvgPool2d) {
  call.expect(2, 0);
  const Planes p = planes_of(call);
  if (p.planes * p.Ho * p.Wo == 0) return;
  // Every window is non-empty and inside the input only when both sizes are positive.
  call.check(p.H >= 1 && p.W >= 1, "input spatial dims must be positive for a non-empty output");
  const int64_t H = p.H, W = p.W, Ho = p.Ho, Wo = p.Wo;
  const int64_t taps = ((H + Ho - 1) / Ho + 1) * ((W + Wo - 1) / Wo + 1);
  parallel_for(p.planes, plane_grain(Ho * Wo * taps), [&](int64_t b, int64_t e) {
    for (int64_t plane = b; plane < e; plane++) {
      const float* xb = p.x + plane * H * W;
      float* o = p.out + plane * Ho * Wo;
      for (int64_t oy = 0; oy < Ho; oy++) {
        // floor(oy*H/Ho) and ceil((oy+1)*H/Ho) in exact integer arithmetic.
        const int64_t y0 = static_cast<int64_t>((__int128{oy} * H) / Ho);
        const int64_t y1 = static_cast<int64_t>((__int128{oy + 1} * H + Ho - 1) / Ho);
        for (int64_t ox = 0; ox < Wo; ox++) {
          const int64_t x0 = static_cast<int64_t>((__int128{ox} * W) / Wo);
          const int64_t x1 = static_cast<int64_t>((__int128{ox + 1} * W + Wo - 1) / Wo);
          double s = 0;
          for (int64_t iy = y0; iy < y1; iy++) {
            const float* row = xb + iy * W;
            for (int64_t ix = x0; ix < x1; ix++) s += row[ix];
          }
          *o++ = static_cast<float>(s / static_cast<double>((y1 - y0) * (x1 - x0)));
        }
      }
    }
  });
}

}  // namespace
}  // namespace tessera
