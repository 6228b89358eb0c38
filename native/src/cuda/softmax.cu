// softmax, logSoftmax: x, out | dim;  softmaxBackward, logSoftmaxBackward: y, dy, dx | dim.
// The tensor is [outer, len, inner] around dim, as on cpu (kernels/softmax.cc). The row max is
// subtracted first and a NaN never wins it, so a row of all -Inf, or one holding NaN or +Inf, comes out
// NaN as on cpu. Halves are loaded to float32 and rounded once at the store.
//   softmaxBackward:    dx = y · (dy − Σ dy·y)
//   logSoftmaxBackward: dx = dy − exp(y) · Σ dy
// inner == 1: one warp per row (len ≤ 1024) or one block per row, reading the row once per pass (the
// passes after the first hit L1/L2). inner > 1: one thread per column, walking the len rows; a warp
// reads 32 neighbouring columns, so every pass is coalesced.
#include <string>

#include "kernels/softmax_args.h"
#include "rowops.cuh"

namespace tessera {
namespace {

using softmax_args::Split;
using softmax_args::split_around;

/** View i, contiguous, of dtype d (empty views are never touched and pass unchecked). */
const View& dense_view(const Call& call, size_t i, DType d, const char* absent) {
  const View& v = call.view(i);
  if (v.numel == 0) return v;
  call.check(v.present(), absent);
  if (v.dtype != d) call.fail(std::string("views must share one dtype, got ") + dtype_name(v.dtype) + " and " + dtype_name(d));
  call.check(v.contiguous(), "views must be contiguous");
  return v;
}

template <typename T, bool kLog, bool kWarp>
__global__ void softmax_rows_kernel(const T* __restrict__ x, T* __restrict__ out, int64_t rows, int64_t n) {
  using G = RowGroup<kWarp>;
  __shared__ float sh[32];
  const int lane = G::lane(), step = G::size();
  for (int64_t r = G::first_row(); r < rows; r += G::row_step()) {
    const T* xr = x + r * n;
    T* orow = out + r * n;
    float m = -INFINITY;
    for (int64_t i = lane; i < n; i += step) m = fmaxf(m, Num<T>::load(xr[i]));
    m = G::max(m, sh);
    float s = 0.0f;
    for (int64_t i = lane; i < n; i += step) s += expf(Num<T>::load(xr[i]) - m);
    s = G::sum(s, sh);
    if constexpr (kLog) {
      const float lse = m + logf(s);
      for (int64_t i = lane; i < n; i += step) orow[i] = Num<T>::store(Num<T>::load(xr[i]) - lse);
    } else {
      const float inv = 1.0f / s;
      for (int64_t i = lane; i < n; i += step) orow[i] = Num<T>::store(expf(Num<T>::load(xr[i]) - m) * inv);
    }
  }
}

template <typename T, bool kLog>
__global__ void softmax_cols_kernel(const T* __restrict__ x, T* __restrict__ out, int64_t outer, int64_t len,
                                    int64_t inner) {
  const int64_t total = outer * inner;
  for (int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; c < total;
       c += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t o = c / inner, j = c - o * inner;
    const T* xc = x + o * len * inner + j;
    T* oc = out + o * len * inner + j;
    float m = -INFINITY;
    for (int64_t k = 0; k < len; k++) m = fmaxf(m, Num<T>::load(xc[k * inner]));
    float s = 0.0f;
    for (int64_t k = 0; k < len; k++) s += expf(Num<T>::load(xc[k * inner]) - m);
    if constexpr (kLog) {
      const float lse = m + logf(s);
      for (int64_t k = 0; k < len; k++) oc[k * inner] = Num<T>::store(Num<T>::load(xc[k * inner]) - lse);
    } else {
      const float inv = 1.0f / s;
      for (int64_t k = 0; k < len; k++) oc[k * inner] = Num<T>::store(expf(Num<T>::load(xc[k * inner]) - m) * inv);
    }
  }
}

template <typename T, bool kLog, bool kWarp>
__global__ void softmax_backward_rows_kernel(const T* __restrict__ y, const T* __restrict__ dy, T* __restrict__ dx,
                                             int64_t rows, int64_t n) {
  using G = RowGroup<kWarp>;
  __shared__ float sh[32];
  const int lane = G::lane(), step = G::size();
  for (int64_t r = G::first_row(); r < rows; r += G::row_step()) {
    const T* yr = y + r * n;
    const T* gr = dy + r * n;
    T* dr = dx + r * n;
    float s = 0.0f;
    for (int64_t i = lane; i < n; i += step) {
      const float g = Num<T>::load(gr[i]);
      s += kLog ? g : g * Num<T>::load(yr[i]);
    }
    s = G::sum(s, sh);
    for (int64_t i = lane; i < n; i += step) {
      const float yv = Num<T>::load(yr[i]), g = Num<T>::load(gr[i]);
      dr[i] = Num<T>::store(kLog ? g - expf(yv) * s : yv * (g - s));
    }
  }
}

template <typename T, bool kLog>
__global__ void softmax_backward_cols_kernel(const T* __restrict__ y, const T* __restrict__ dy, T* __restrict__ dx,
                                             int64_t outer, int64_t len, int64_t inner) {
  const int64_t total = outer * inner;
  for (int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; c < total;
       c += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t o = c / inner, j = c - o * inner;
    const int64_t base = o * len * inner + j;
    float s = 0.0f;
    for (int64_t k = 0; k < len; k++) {
      const float g = Num<T>::load(dy[base + k * inner]);
      s += kLog ? g : g * Num<T>::load(y[base + k * inner]);
    }
    for (int64_t k = 0; k < len; k++) {
      const int64_t i = base + k * inner;
      const float yv = Num<T>::load(y[i]), g = Num<T>::load(dy[i]);
      dx[i] = Num<T>::store(kLog ? g - expf(yv) * s : yv * (g - s));
    }
  }
}

template <bool kLog>
void softmax_forward(const Call& call) {
  call.expect(2, 1);
  const View& x0 = call.view(0);
  const View& x = dense_view(call, 0, x0.dtype, "x is required");
  const View& out = dense_view(call, 1, x.dtype, "out is required");
  call.check(out.same_shape(x), "out must have x's shape");
  const Split s = split_around(call, x, call.iattr(0));
  if (x.numel == 0) return;
  dispatch_float(x.dtype, call, [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.ptr<T>();
    T* op = out.ptr<T>();
    if (s.inner == 1) {
      const int64_t rows = s.outer;
      if (s.len <= kWarpRowMax) {
        softmax_rows_kernel<T, kLog, true>
            <<<row_blocks(rows, true), kRowThreads, 0, cuda::stream()>>>(xp, op, rows, s.len);
      } else {
        softmax_rows_kernel<T, kLog, false>
            <<<row_blocks(rows, false), kRowThreads, 0, cuda::stream()>>>(xp, op, rows, s.len);
      }
    } else {
      softmax_cols_kernel<T, kLog><<<cuda::blocks_for(s.outer * s.inner, kRowThreads), kRowThreads, 0,
                                     cuda::stream()>>>(xp, op, s.outer, s.len, s.inner);
    }
    TESSERA_CUDA_LAUNCHED(call);
  });
}

template <bool kLog>
void softmax_backward(const Call& call) {
  call.expect(3, 1);
  const View& y0 = call.view(0);
  const View& y = dense_view(call, 0, y0.dtype, "y is required");
  const View& dy = dense_view(call, 1, y.dtype, "dy is required");
  const View& dx = dense_view(call, 2, y.dtype, "dx is required");
  call.check(dy.same_shape(y) && dx.same_shape(y), "y, dy and dx must have one shape");
  const Split s = split_around(call, y, call.iattr(0));
  if (y.numel == 0) return;
  dispatch_float(y.dtype, call, [&](auto tag) {
    using T = decltype(tag);
    const T* yp = y.ptr<T>();
    const T* gp = dy.ptr<T>();
    T* op = dx.ptr<T>();
    if (s.inner == 1) {
      const int64_t rows = s.outer;
      if (s.len <= kWarpRowMax) {
        softmax_backward_rows_kernel<T, kLog, true>
            <<<row_blocks(rows, true), kRowThreads, 0, cuda::stream()>>>(yp, gp, op, rows, s.len);
      } else {
        softmax_backward_rows_kernel<T, kLog, false>
            <<<row_blocks(rows, false), kRowThreads, 0, cuda::stream()>>>(yp, gp, op, rows, s.len);
      }
    } else {
      softmax_backward_cols_kernel<T, kLog><<<cuda::blocks_for(s.outer * s.inner, kRowThreads), kRowThreads, 0,
                                              cuda::stream()>>>(yp, gp, op, s.outer, s.len, s.inner);
    }
    TESSERA_CUDA_LAUNCHED(call);
  });
}

}  // namespace

TESSERA_CUDA_KERNEL_HALF(softmax) { softmax_forward<false>(call); }
TESSERA_CUDA_KERNEL_HALF(logSoftmax) { softmax_forward<true>(call); }
TESSERA_CUDA_KERNEL_HALF(softmaxBackward) { softmax_backward<false>(call); }
TESSERA_CUDA_KERNEL_HALF(logSoftmaxBackward) { softmax_backward<true>(call); }

}  // namespace tessera
