// Resampling of [N, C, H, W] float32 planes on the cuda device: legacy nearest and bilinear without
// antialiasing, one thread per output element. Each thread derives its source indices and weights with
// the cpu kernel's arithmetic (kernels/interpolate.cc, after core's nearestSourceIndices and
// bilinearTaps), including PyTorch's shortcuts for an unchanged and a doubled axis. The double-precision
// steps use the _rn intrinsics: nvcc would otherwise fuse a*b + c into one FMA, rounding once where the
// cpu rounds twice, and the results would no longer match bit for bit.
#include <climits>
#include <cmath>

#include "common.cuh"
#include "kernels/interpolate_args.h"

namespace tessera {
namespace {

constexpr int kThreads = 256;

struct Dims {
  int64_t H, W, Ho, Wo;
};

/** core's nearestSourceIndices for destination d: min(floor(fround(d * fround(scale))), in - 1). */
__device__ inline int64_t nearest_source(int64_t d, int64_t in, int64_t out, float scale) {
  if (out == in) return d;
  if (out == 2 * in) return d >> 1;
  const double src = floor(static_cast<double>(static_cast<float>(static_cast<double>(d) * scale)));
  // The clamp at 0 only guards a malformed scale; core's is positive.
  return src >= static_cast<double>(in - 1) ? in - 1 : max(static_cast<int64_t>(src), int64_t{0});
}

/** core's bilinearTaps for destination d: out[d] = x[lo]*w0 + x[hi]*w1, weights in double. */
struct Tap {
  int64_t lo, hi;
  double w0, w1;
};

/** `s` is the scale attribute, or (in-1)/(out-1) (0 for one output) with alignCorners. */
__device__ inline Tap bilinear_tap(int64_t d, int64_t in, int64_t out, double s, bool align_corners) {
  if (out == in) return {d, d, 1.0, 0.0};
  const double dd = static_cast<double>(d);
  const double src = fmax(align_corners ? __dmul_rn(s, dd) : __dsub_rn(__dmul_rn(s, __dadd_rn(dd, 0.5)), 0.5), 0.0);
  const double fl = floor(src);
  const int64_t i0 = fl >= static_cast<double>(in - 1) ? in - 1 : static_cast<int64_t>(fl);
  const double l1 = fmin(__dsub_rn(src, static_cast<double>(i0)), 1.0);
  return {i0, i0 < in - 1 ? i0 + 1 : i0, __dsub_rn(1.0, l1), l1};
}

/** Splits output element i of [planes, Ho, Wo] into (plane, oy, ox). */
template <typename I>
__device__ inline void split(I i, I Ho, I Wo, int64_t& plane, int64_t& oy, int64_t& ox) {
  const I row = i / Wo;
  ox = static_cast<int64_t>(i - row * Wo);
  plane = static_cast<int64_t>(row / Ho);
  oy = static_cast<int64_t>(row - static_cast<I>(plane) * Ho);
}

template <typename I>
__global__ void nearest_kernel(const float* __restrict__ x, float* __restrict__ out, I n, Dims s, float scale_h,
                               float scale_w) {
  for (I i = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<I>(gridDim.x) * blockDim.x) {
    int64_t plane, oy, ox;
    split<I>(i, static_cast<I>(s.Ho), static_cast<I>(s.Wo), plane, oy, ox);
    const int64_t iy = nearest_source(oy, s.H, s.Ho, scale_h);
    const int64_t ix = nearest_source(ox, s.W, s.Wo, scale_w);
    out[i] = x[(plane * s.H + iy) * s.W + ix];
  }
}

template <typename I>
__global__ void bilinear_kernel(const float* __restrict__ x, float* __restrict__ out, I n, Dims s, double scale_h,
                                double scale_w, bool align_corners) {
  for (I i = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<I>(gridDim.x) * blockDim.x) {
    int64_t plane, oy, ox;
    split<I>(i, static_cast<I>(s.Ho), static_cast<I>(s.Wo), plane, oy, ox);
    const Tap ty = bilinear_tap(oy, s.H, s.Ho, scale_h, align_corners);
    const Tap tx = bilinear_tap(ox, s.W, s.Wo, scale_w, align_corners);
    const float* top = x + (plane * s.H + ty.lo) * s.W;
    const float* bottom = x + (plane * s.H + ty.hi) * s.W;
    // PyTorch's order h0*(w0*x00 + w1*x01) + h1*(w0*x10 + w1*x11), in double, rounded once.
    const double t = __dadd_rn(__dmul_rn(tx.w0, static_cast<double>(top[tx.lo])),
                               __dmul_rn(tx.w1, static_cast<double>(top[tx.hi])));
    const double b = __dadd_rn(__dmul_rn(tx.w0, static_cast<double>(bottom[tx.lo])),
                               __dmul_rn(tx.w1, static_cast<double>(bottom[tx.hi])));
    out[i] = static_cast<float>(__dadd_rn(__dmul_rn(ty.w0, t), __dmul_rn(ty.w1, b)));
  }
}

unsigned grid_for(int64_t n) {
  unsigned blocks = cuda::blocks_for(n, kThreads);
  return blocks > 65535u * 32 ? 65535u * 32 : blocks;
}

}  // namespace

TESSERA_CUDA_KERNEL(interpolate) {
  const interp::Interp args = interp::interpolate_args(call);
  if (args.empty) return;
  const spatial::Planes& p = args.p;
  const int64_t n = p.planes * p.Ho * p.Wo;
  const double scale_h = args.scale_h, scale_w = args.scale_w;
  const Dims s{p.H, p.W, p.Ho, p.Wo};
  const unsigned blocks = grid_for(n);
  const bool narrow = n + int64_t{blocks} * kThreads < INT32_MAX;
  cudaStream_t st = cuda::stream();
  if (!args.bilinear) {
    // nearestSourceIndices rounds the scale to float32 first (Math.fround).
    const float sh = static_cast<float>(scale_h), sw = static_cast<float>(scale_w);
    if (narrow)
      nearest_kernel<int32_t><<<blocks, kThreads, 0, st>>>(p.x, p.out, static_cast<int32_t>(n), s, sh, sw);
    else
      nearest_kernel<int64_t><<<blocks, kThreads, 0, st>>>(p.x, p.out, n, s, sh, sw);
  } else {
    const bool ac = args.align_corners;
    // With alignCorners the scale attributes are unused: (in-1)/(out-1), or 0 for a single output.
    const double sh = ac ? interp::align_corners_scale(p.H, p.Ho) : scale_h;
    const double sw = ac ? interp::align_corners_scale(p.W, p.Wo) : scale_w;
    if (narrow)
      bilinear_kernel<int32_t><<<blocks, kThreads, 0, st>>>(p.x, p.out, static_cast<int32_t>(n), s, sh, sw, ac);
    else
      bilinear_kernel<int64_t><<<blocks, kThreads, 0, st>>>(p.x, p.out, n, s, sh, sw, ac);
  }
  TESSERA_CUDA_LAUNCHED(call);
}

}  // namespace tessera
