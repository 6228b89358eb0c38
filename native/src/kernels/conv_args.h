// Argument checks and output-shape formulas of conv2d and convTranspose2d, shared by the cpu kernels
// (conv.cc) and the cuda ones (cuda/conv.cu). Host code only; compiles as C++17 under nvcc.
#pragma once

#include <cstdint>

#include "spatial.h"
#include "tessera.h"

namespace tessera {
namespace conv {

/** Attributes 0-6 of both kernels: stride, padding, dilation (H then W) and groups. */
struct Geometry {
  int64_t sh, sw, ph, pw, dh, dw, g;
};

inline int64_t attr_in(const Call& call, size_t i, int64_t lo, const char* what) {
  return spatial::attr_in(call, i, lo, spatial::kAttrMax, what);
}

inline Geometry geometry(const Call& call) {
  Geometry a;
  a.sh = attr_in(call, 0, 1, "strideH");
  a.sw = attr_in(call, 1, 1, "strideW");
  a.ph = attr_in(call, 2, 0, "padH");
  a.pw = attr_in(call, 3, 0, "padW");
  a.dh = attr_in(call, 4, 1, "dilationH");
  a.dw = attr_in(call, 5, 1, "dilationW");
  a.g = attr_in(call, 6, 1, "groups");
  return a;
}

/** out must be [N, O, ho, wo] with ho, wo the (non-negative) sizes the geometry implies. */
inline void check_out(const Call& call, const View& out, int64_t N, int64_t O, __int128 ho, __int128 wo,
                      const char* msg) {
  call.check(out.shape[0] == N && out.shape[1] == O && ho >= 0 && wo >= 0 && out.shape[2] == ho &&
                 out.shape[3] == wo,
             msg);
}

/** Optional bias [O], float32, contiguous; null when absent. */
inline const float* bias_of(const Call& call, size_t i, int64_t O) {
  const View& b = call.view(i);
  if (!b.present()) return nullptr;
  spatial::dense_f32(call, i);
  call.check(b.ndim == 1 && b.shape[0] == O, "bias must have shape [O] (one per output channel)");
  return b.ptr<float>();
}

/**
 * A checked conv2d or convTranspose2d call: views x [N,C,H,W], weight, bias (optional) and
 * out [N,O,Ho,Wo], all float32 and dense, and the geometry. For conv2d the weight is [O,Cg,kh,kw] and
 * Og = O/g; for convTranspose2d it is [C,Og,kh,kw] and O = Og·g. Cg = C/g either way.
 */
struct Conv {
  const float* x;
  const float* w;
  const float* bias;  // null when absent
  float* y;
  int64_t out_numel;
  Geometry a;
  int64_t N, C, H, W, O, Og, Cg, kh, kw, Ho, Wo;
};

/** The views and geometry both kernels start from: x, weight, out (4-D float32) and attributes 0-6. */
struct ConvViews {
  const View& x;
  const View& w;
  const View& out;
  Geometry a;
};

inline ConvViews conv_views(const Call& call, size_t nattrs, const char* weight_msg) {
  call.expect(4, nattrs);
  const View& x = spatial::dense_f32(call, 0);
  const View& w = spatial::dense_f32(call, 1);
  const View& out = spatial::dense_f32(call, 3);
  call.check(x.ndim == 4, "x must be 4-D [N,C,H,W]");
  call.check(w.ndim == 4, weight_msg);
  call.check(out.ndim == 4, "out must be 4-D [N,O,Ho,Wo]");
  return {x, w, out, geometry(call)};
}

/** conv2d: x, weight, bias, out | strideH, strideW, padH, padW, dilationH, dilationW, groups. */
inline Conv conv2d_args(const Call& call) {
  const ConvViews v = conv_views(call, 7, "weight must be 4-D [O,C/groups,kh,kw]");
  const Geometry& a = v.a;
  const int64_t N = v.x.shape[0], C = v.x.shape[1], H = v.x.shape[2], W = v.x.shape[3];
  const int64_t O = v.w.shape[0], Cg = v.w.shape[1], kh = v.w.shape[2], kw = v.w.shape[3];
  call.check(C % a.g == 0, "groups must divide the input channels");
  call.check(O % a.g == 0, "groups must divide the output channels");
  call.check(Cg * a.g == C, "weight's input channels times groups must equal the input's channels");
  const float* bias = bias_of(call, 2, O);
  const __int128 ho =
      spatial::floor_div(__int128{H} + 2 * __int128{a.ph} - __int128{a.dh} * (kh - 1) - 1, a.sh) + 1;
  const __int128 wo =
      spatial::floor_div(__int128{W} + 2 * __int128{a.pw} - __int128{a.dw} * (kw - 1) - 1, a.sw) + 1;
  check_out(call, v.out, N, O, ho, wo,
            "out shape must be [N, O, Ho, Wo] with Ho = floor((H + 2p - d(kh-1) - 1)/s) + 1");
  return {v.x.ptr<float>(), v.w.ptr<float>(), bias, v.out.ptr<float>(), v.out.numel, a,
          N, C, H, W, O, O / a.g, Cg, kh, kw, v.out.shape[2], v.out.shape[3]};
}

/**
 * convTranspose2d: x, weight, bias, out | the attributes of conv2d, then outputPaddingH and
 * outputPaddingW.
 */
inline Conv conv_transpose2d_args(const Call& call) {
  const ConvViews v = conv_views(call, 9, "weight must be 4-D [C,O/groups,kh,kw]");
  const Geometry& a = v.a;
  const int64_t oph = attr_in(call, 7, 0, "outputPaddingH");
  const int64_t opw = attr_in(call, 8, 0, "outputPaddingW");
  call.check((oph < a.sh || oph < a.dh) && (opw < a.sw || opw < a.dw),
             "outputPadding must be smaller than stride or dilation");
  const int64_t N = v.x.shape[0], C = v.x.shape[1], H = v.x.shape[2], W = v.x.shape[3];
  const int64_t Og = v.w.shape[1], kh = v.w.shape[2], kw = v.w.shape[3];
  call.check(v.w.shape[0] == C, "weight's first dim must equal the input's channels");
  call.check(C % a.g == 0, "groups must divide the input channels");
  const int64_t O = Og * a.g, Cg = C / a.g;
  const float* bias = bias_of(call, 2, O);
  const __int128 ho = (__int128{H} - 1) * a.sh - 2 * __int128{a.ph} + __int128{a.dh} * (kh - 1) + oph + 1;
  const __int128 wo = (__int128{W} - 1) * a.sw - 2 * __int128{a.pw} + __int128{a.dw} * (kw - 1) + opw + 1;
  check_out(call, v.out, N, O, ho, wo,
            "out shape must be [N, O, Ho, Wo] with Ho = (H-1)s - 2p + d(kh-1) + outputPadding + 1");
  return {v.x.ptr<float>(), v.w.ptr<float>(), bias, v.out.ptr<float>(), v.out.numel, a,
          N, C, H, W, O, Og, Cg, kh, kw, v.out.shape[2], v.out.shape[3]};
}

}  // namespace conv
}  // namespace tessera
