// 2-D pooling of the cuda device over [N, C, H, W] float32 planes, one thread per output element, with
// the cpu kernels' rules (kernels/pool.cc): max pooling skips padding (an all-padding window gives
// -Inf) and a window with a NaN yields its last NaN; average pooling sums in double in row-major window
// order and divides by core's avgPoolDivisors; adaptive windows are [floor(i*H/Ho), ceil((i+1)*H/Ho)).
// Every tap is visited in the cpu kernel's order, so results match it bit for bit.
#include <climits>
#include <cmath>

#include "common.cuh"
#include "kernels/pool_args.h"

namespace tessera {
namespace {

using pool::PoolGeometry;
using spatial::Planes;
using spatial::planes_of;

constexpr int kThreads = 256;

/** Plane extents the kernels index with. */
struct Dims {
  int64_t H, W, Ho, Wo;
};

/**
 * The taps k in [lo, hi) of a window starting at `start` with dilation d whose position start + k*d
 * lies in [0, size). Clipping the range up front keeps the tap loops free of bounds tests.
 */
__device__ inline void tap_range(int64_t start, int64_t d, int64_t k, int64_t size, int64_t& lo, int64_t& hi) {
  lo = start >= 0 ? 0 : (-start + d - 1) / d;
  hi = start >= size ? 0 : (size - 1 - start) / d + 1;
  if (hi > k) hi = k;
  if (lo > hi) lo = hi;
}

/** Splits output element i of [planes, Ho, Wo] into (plane, oy, ox); I is the narrowest safe index type. */
template <typename I>
__device__ inline void split(I i, I Ho, I Wo, int64_t& plane, int64_t& oy, int64_t& ox) {
  const I row = i / Wo;
  ox = static_cast<int64_t>(i - row * Wo);
  plane = static_cast<int64_t>(row / Ho);
  oy = static_cast<int64_t>(row - static_cast<I>(plane) * Ho);
}

template <typename I>
__global__ void max_pool_kernel(const float* __restrict__ x, float* __restrict__ out, I n, Dims s,
                                PoolGeometry a) {
  for (I i = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<I>(gridDim.x) * blockDim.x) {
    int64_t plane, oy, ox;
    split<I>(i, static_cast<I>(s.Ho), static_cast<I>(s.Wo), plane, oy, ox);
    const int64_t y0 = oy * a.sh - a.ph, x0 = ox * a.sw - a.pw;
    int64_t ky0, ky1, kx0, kx1;
    tap_range(y0, a.dh, a.kh, s.H, ky0, ky1);
    tap_range(x0, a.dw, a.kw, s.W, kx0, kx1);
    const float* xb = x + plane * s.H * s.W;
    float m = -INFINITY;
    float last_nan = 0.0f;
    bool nan = false;
    for (int64_t ky = ky0; ky < ky1; ky++) {
      const float* row = xb + (y0 + ky * a.dh) * s.W;
      for (int64_t kx = kx0; kx < kx1; kx++) {
        const float v = row[x0 + kx * a.dw];
        m = v > m ? v : m;
        // The reference keeps the last NaN of the window (a NaN replaces anything, NaN included).
        if (v != v) {
          nan = true;
          last_nan = v;
        }
      }
    }
    out[i] = nan ? last_nan : m;
  }
}

template <typename I>
__global__ void avg_pool_kernel(const float* __restrict__ x, float* __restrict__ out, I n, Dims s,
                                PoolGeometry a) {
  for (I i = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<I>(gridDim.x) * blockDim.x) {
    int64_t plane, oy, ox;
    split<I>(i, static_cast<I>(s.Ho), static_cast<I>(s.Wo), plane, oy, ox);
    // avgPoolDivisors: the window clipped to the padded input (countIncludePad) or to the input.
    int64_t y0 = oy * a.sh - a.ph;
    int64_t y1 = min(y0 + a.kh, s.H + a.ph);
    const int64_t h_pad = y1 - y0;
    y0 = max(y0, int64_t{0});
    y1 = min(y1, s.H);
    int64_t x0 = ox * a.sw - a.pw;
    int64_t x1 = min(x0 + a.kw, s.W + a.pw);
    const int64_t w_pad = x1 - x0;
    x0 = max(x0, int64_t{0});
    x1 = min(x1, s.W);
    if (y0 >= y1 || x0 >= x1) {
      out[i] = 0.0f;
      continue;
    }
    const int64_t div = (a.count_include_pad ? h_pad : y1 - y0) * (a.count_include_pad ? w_pad : x1 - x0);
    const float* xb = x + plane * s.H * s.W;
    double sum = 0;
    for (int64_t iy = y0; iy < y1; iy++) {
      const float* row = xb + iy * s.W;
      for (int64_t ix = x0; ix < x1; ix++) sum += row[ix];
    }
    out[i] = static_cast<float>(sum / static_cast<double>(div));
  }
}

template <typename I>
__global__ void adaptive_avg_pool_kernel(const float* __restrict__ x, float* __restrict__ out, I n, Dims s) {
  for (I i = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<I>(gridDim.x) * blockDim.x) {
    int64_t plane, oy, ox;
    split<I>(i, static_cast<I>(s.Ho), static_cast<I>(s.Wo), plane, oy, ox);
    // floor(oy*H/Ho) and ceil((oy+1)*H/Ho) in exact integer arithmetic (the host checked the range).
    const int64_t y0 = oy * s.H / s.Ho;
    const int64_t y1 = ((oy + 1) * s.H + s.Ho - 1) / s.Ho;
    const int64_t x0 = ox * s.W / s.Wo;
    const int64_t x1 = ((ox + 1) * s.W + s.Wo - 1) / s.Wo;
    const float* xb = x + plane * s.H * s.W;
    double sum = 0;
    for (int64_t iy = y0; iy < y1; iy++) {
      const float* row = xb + iy * s.W;
      for (int64_t ix = x0; ix < x1; ix++) sum += row[ix];
    }
    out[i] = static_cast<float>(sum / static_cast<double>((y1 - y0) * (x1 - x0)));
  }
}

unsigned grid_for(int64_t n) {
  unsigned blocks = cuda::blocks_for(n, kThreads);
  return blocks > 65535u * 32 ? 65535u * 32 : blocks;
}

/**
 * Calls launch(index tag) with int32_t when the output's linear index (and the grid-stride step past
 * it) fits in 32 bits, else int64_t: the per-element divisions are then 32-bit.
 */
template <typename F>
void with_index(int64_t n, F&& launch) {
  if (n + int64_t{grid_for(n)} * kThreads < INT32_MAX)
    launch(int32_t{});
  else
    launch(int64_t{});
}

Dims dims_of(const Planes& p) { return {p.H, p.W, p.Ho, p.Wo}; }

/** One thread per output of max (Avg false) or average pooling, with 32- or 64-bit indices. */
template <bool Avg>
void launch_pool(const Call& call, const pool::Pool& args) {
  const Planes& p = args.p;
  const PoolGeometry& a = args.a;
  const int64_t n = p.planes * p.Ho * p.Wo;
  if (n == 0) return;
  with_index(n, [&](auto tag) {
    using I = decltype(tag);
    if constexpr (Avg)
      avg_pool_kernel<I><<<grid_for(n), kThreads, 0, cuda::stream()>>>(p.x, p.out, static_cast<I>(n), dims_of(p), a);
    else
      max_pool_kernel<I><<<grid_for(n), kThreads, 0, cuda::stream()>>>(p.x, p.out, static_cast<I>(n), dims_of(p), a);
  });
  TESSERA_CUDA_LAUNCHED(call);
}

}  // namespace

TESSERA_CUDA_KERNEL(maxPool2d) {
  launch_pool<false>(call, pool::max_pool_args(call));
}

TESSERA_CUDA_KERNEL(avgPool2d) {
  launch_pool<true>(call, pool::avg_pool_args(call));
}

TESSERA_CUDA_KERNEL(adaptiveAvgPool2d) {
  call.expect(2, 0);
  const Planes p = planes_of(call);
  const int64_t n = p.planes * p.Ho * p.Wo;
  if (n == 0) return;
  // Every window is non-empty and inside the input only when both sizes are positive.
  call.check(p.H >= 1 && p.W >= 1, "input spatial dims must be positive for a non-empty output");
  // The device computes (o+1)*size + out - 1 in int64; tensors that fit in memory never come close.
  const __int128 lim = INT64_MAX;
  call.check(__int128{p.Ho + 1} * p.H + p.Ho <= lim && __int128{p.Wo + 1} * p.W + p.Wo <= lim,
             "spatial dims are too large");
  with_index(n, [&](auto tag) {
    using I = decltype(tag);
    adaptive_avg_pool_kernel<I>
        <<<grid_for(n), kThreads, 0, cuda::stream()>>>(p.x, p.out, static_cast<I>(n), dims_of(p));
  });
  TESSERA_CUDA_LAUNCHED(call);
}

}  // namespace tessera
