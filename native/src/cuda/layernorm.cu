// layerNorm: x, weight?, bias?, out | normalizedSize, eps
// layerNormBackward: x, weight?, dy, dx?, dweight?, dbias? | normalizedSize, eps
// Rows of the trailing normalizedSize elements, as on cpu (kernels/layernorm.cc): biased variance, eps
// inside the square root, mean and variance from two passes (Σx, then Σ(x − mean)²) so a large mean
// does not cancel the variance; float32 throughout, the sums as trees across lanes. Backward recomputes
// mean and rstd per row:
//   g = dy·w,  dx = rstd · (g − mean(g) − x̂ · mean(g·x̂)),  dweight = Σ_rows dy·x̂,  dbias = Σ_rows dy
// One warp per row up to 1024 elements, one block beyond. dweight/dbias are column sums over the rows:
// a second kernel sums fixed slices of rows into a float32 workspace and a third adds the slices in
// order, so the result is the same on every run (no atomics).
// Halves: x, dy, out and dx share one dtype (float32, float16 or bfloat16); weight, bias, dweight and
// dbias are each float32 or that same dtype (mixed precision keeps parameters in float32).
#include <cuda_runtime.h>

#include <string>

#include "kernels/layernorm_args.h"
#include "rowops.cuh"

namespace tessera {
namespace {

/** A parameter-sized vector stored either as float32 or as the activations' dtype T. */
struct Param {
  const void* p = nullptr;
  bool as_t = false;
};
struct ParamOut {
  void* p = nullptr;
  bool as_t = false;
};

template <typename T>
__device__ __forceinline__ float load_param(Param w, int64_t i) {
  return w.as_t ? Num<T>::load(static_cast<const T*>(w.p)[i]) : static_cast<const float*>(w.p)[i];
}
template <typename T>
__device__ __forceinline__ void store_param(ParamOut w, int64_t i, float v) {
  if (w.as_t) static_cast<T*>(w.p)[i] = Num<T>::store(v);
  else static_cast<float*>(w.p)[i] = v;
}

/** Mean and 1/√(var + eps) of a row, every lane of the group getting both. */
template <typename T, bool kWarp>
__device__ __forceinline__ void row_stats(const T* xr, int64_t n, float eps, float* sh, float& mean, float& rstd) {
  using G = RowGroup<kWarp>;
  const int lane = G::lane(), step = G::size();
  float s = 0.0f;
  for (int64_t i = lane; i < n; i += step) s += Num<T>::load(xr[i]);
  mean = G::sum(s, sh) / static_cast<float>(n);
  float q = 0.0f;
  for (int64_t i = lane; i < n; i += step) {
    const float d = Num<T>::load(xr[i]) - mean;
    q += d * d;
  }
  const float var = G::sum(q, sh) / static_cast<float>(n);
  rstd = 1.0f / sqrtf(var + eps);
}

template <typename T, bool kWarp>
__global__ void layernorm_kernel(const T* __restrict__ x, Param w, Param b, T* __restrict__ out, int64_t rows,
                                 int64_t n, float eps) {
  using G = RowGroup<kWarp>;
  __shared__ float sh[32];
  const int lane = G::lane(), step = G::size();
  for (int64_t r = G::first_row(); r < rows; r += G::row_step()) {
    const T* xr = x + r * n;
    T* orow = out + r * n;
    float mean, rstd;
    row_stats<T, kWarp>(xr, n, eps, sh, mean, rstd);
    for (int64_t i = lane; i < n; i += step) {
      float v = (Num<T>::load(xr[i]) - mean) * rstd;
      if (w.p) v *= load_param<T>(w, i);
      if (b.p) v += load_param<T>(b, i);
      orow[i] = Num<T>::store(v);
    }
  }
}

/** dx of each row (when dx is given) and each row's mean and rstd (when `mean` is given). */
template <typename T, bool kWarp>
__global__ void layernorm_backward_rows_kernel(const T* __restrict__ x, Param w, const T* __restrict__ dy,
                                               T* __restrict__ dx, float* __restrict__ mean_out,
                                               float* __restrict__ rstd_out, int64_t rows, int64_t n, float eps) {
  using G = RowGroup<kWarp>;
  __shared__ float sh[32];
  const int lane = G::lane(), step = G::size();
  for (int64_t r = G::first_row(); r < rows; r += G::row_step()) {
    const T* xr = x + r * n;
    const T* gr = dy + r * n;
    float mean, rstd;
    row_stats<T, kWarp>(xr, n, eps, sh, mean, rstd);
    if (mean_out && lane == 0) {
      mean_out[r] = mean;
      rstd_out[r] = rstd;
    }
    if (!dx) continue;
    float sg = 0.0f, sgx = 0.0f;
    for (int64_t i = lane; i < n; i += step) {
      float g = Num<T>::load(gr[i]);
      if (w.p) g *= load_param<T>(w, i);
      const float xh = (Num<T>::load(xr[i]) - mean) * rstd;
      sg += g;
      sgx += g * xh;
    }
    const float mg = G::sum(sg, sh) / static_cast<float>(n);
    const float mgx = G::sum(sgx, sh) / static_cast<float>(n);
    T* dr = dx + r * n;
    for (int64_t i = lane; i < n; i += step) {
      float g = Num<T>::load(gr[i]);
      if (w.p) g *= load_param<T>(w, i);
      const float xh = (Num<T>::load(xr[i]) - mean) * rstd;
      dr[i] = Num<T>::store(rstd * ((g - mg) - xh * mgx));
    }
  }
}

constexpr int kColX = 32;  // columns per block of the parameter-gradient kernel
constexpr int kColY = 8;   // row lanes per block

/**
 * Partial dweight/dbias: block (bx, split) sums rows [split·per, (split+1)·per) of columns
 * [bx·32, bx·32 + 32), the 8 row lanes of the block combined by a fixed tree.
 * pw/pb are [splits, n] (either may be null).
 */
template <typename T>
__global__ void layernorm_param_partials_kernel(const T* __restrict__ x, const T* __restrict__ dy,
                                                const float* __restrict__ mean, const float* __restrict__ rstd,
                                                int64_t rows, int64_t n, int64_t per, float* __restrict__ pw,
                                                float* __restrict__ pb) {
  __shared__ float sw[kColY][kColX + 1];
  __shared__ float sb[kColY][kColX + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t j = static_cast<int64_t>(blockIdx.x) * kColX + tx;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * per;
  const int64_t r1 = r0 + per < rows ? r0 + per : rows;
  float aw = 0.0f, ab = 0.0f;
  if (j < n) {
    for (int64_t r = r0 + ty; r < r1; r += kColY) {
      const float g = Num<T>::load(dy[r * n + j]);
      ab += g;
      if (pw) aw += g * ((Num<T>::load(x[r * n + j]) - mean[r]) * rstd[r]);
    }
  }
  sw[ty][tx] = aw;
  sb[ty][tx] = ab;
  __syncthreads();
#pragma unroll
  for (int h = kColY / 2; h > 0; h >>= 1) {
    if (ty < h) {
      sw[ty][tx] += sw[ty + h][tx];
      sb[ty][tx] += sb[ty + h][tx];
    }
    __syncthreads();
  }
  if (ty == 0 && j < n) {
    if (pw) pw[blockIdx.y * n + j] = sw[0][tx];
    if (pb) pb[blockIdx.y * n + j] = sb[0][tx];
  }
}

/** dweight/dbias = the split partials added in split order. */
template <typename T>
__global__ void layernorm_param_finish_kernel(const float* __restrict__ pw, const float* __restrict__ pb,
                                              int64_t splits, int64_t n, ParamOut dw, ParamOut db) {
  for (int64_t j = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; j < n;
       j += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    if (dw.p) {
      float s = 0.0f;
      for (int64_t p = 0; p < splits; p++) s += pw[p * n + j];
      store_param<T>(dw, j, s);
    }
    if (db.p) {
      float s = 0.0f;
      for (int64_t p = 0; p < splits; p++) s += pb[p * n + j];
      store_param<T>(db, j, s);
    }
  }
}

using layernorm_args::Shape;
using layernorm_args::row_shape;

bool is_float_dtype(DType d) { return d == DType::F32 || d == DType::F16 || d == DType::BF16; }

/** An activation-shaped view: contiguous, of dtype d (empty views are never touched). */
const View& act_view(const Call& call, size_t i, DType d, const char* what) {
  const View& v = call.view(i);
  if (v.numel == 0) return v;
  if (!v.present()) call.fail(std::string(what) + " is required");
  if (v.dtype != d)
    call.fail(std::string(what) + " must have x's dtype (" + dtype_name(d) + "), got " + dtype_name(v.dtype));
  call.check(v.contiguous(), "views must be contiguous");
  return v;
}

/** An optional parameter view: normalizedSize contiguous elements of float32 or of x's dtype. */
const View* param_view(const Call& call, size_t i, int64_t size, DType xd, const char* what) {
  const View& v = call.view(i);
  if (!v.present()) return nullptr;
  if (v.dtype != DType::F32 && v.dtype != xd)
    call.fail(std::string(what) + " must be float32 or x's dtype (" + dtype_name(xd) + "), got " +
              dtype_name(v.dtype));
  call.check(v.contiguous(), "views must be contiguous");
  if (v.numel != size) call.fail(std::string(what) + " must have normalizedSize elements");
  return &v;
}

Param param_of(const View* v) {
  Param p;
  if (v) {
    p.p = v->data ? static_cast<const char*>(v->data) + v->offset * static_cast<int64_t>(dtype_size(v->dtype)) : nullptr;
    p.as_t = v->dtype != DType::F32;
  }
  return p;
}
ParamOut param_out_of(const View* v) {
  ParamOut p;
  if (v) {
    p.p = static_cast<char*>(v->data) + v->offset * static_cast<int64_t>(dtype_size(v->dtype));
    p.as_t = v->dtype != DType::F32;
  }
  return p;
}

}  // namespace

TESSERA_CUDA_KERNEL_HALF(layerNorm) {
  call.expect(4, 2);
  const DType xd = call.view(0).dtype;
  call.check(is_float_dtype(xd), "x must be float32, float16 or bfloat16");
  const View& x = act_view(call, 0, xd, "x");
  const View& out = act_view(call, 3, xd, "out");
  call.check(out.same_shape(x), "out must have x's shape");
  const Shape s = row_shape(call, x);
  const float eps = static_cast<float>(call.attr(1));
  const Param w = param_of(param_view(call, 1, s.size, xd, "weight"));
  const Param b = param_of(param_view(call, 2, s.size, xd, "bias"));
  if (s.rows == 0 || s.size == 0) return;
  dispatch_float(xd, call, [&](auto tag) {
    using T = decltype(tag);
    if (s.size <= kWarpRowMax) {
      layernorm_kernel<T, true><<<row_blocks(s.rows, true), kRowThreads, 0, cuda::stream()>>>(
          x.ptr<T>(), w, b, out.ptr<T>(), s.rows, s.size, eps);
    } else {
      layernorm_kernel<T, false><<<row_blocks(s.rows, false), kRowThreads, 0, cuda::stream()>>>(
          x.ptr<T>(), w, b, out.ptr<T>(), s.rows, s.size, eps);
    }
    TESSERA_CUDA_LAUNCHED(call);
  });
}

TESSERA_CUDA_KERNEL_HALF(layerNormBackward) {
  call.expect(6, 2);
  const DType xd = call.view(0).dtype;
  call.check(is_float_dtype(xd), "x must be float32, float16 or bfloat16");
  const View& x = act_view(call, 0, xd, "x");
  const View& dy = act_view(call, 2, xd, "dy");
  call.check(dy.same_shape(x), "dy must have x's shape");
  const Shape s = row_shape(call, x);
  const float eps = static_cast<float>(call.attr(1));
  const Param w = param_of(param_view(call, 1, s.size, xd, "weight"));
  const View& dxv = call.view(3);
  const bool has_dx = dxv.present();
  if (has_dx) {
    act_view(call, 3, xd, "dx");
    call.check(dxv.same_shape(x), "dx must have x's shape");
  }
  const View* dwv = param_view(call, 4, s.size, xd, "dweight");
  const View* dbv = param_view(call, 5, s.size, xd, "dbias");
  if (s.size == 0) return;
  const int64_t n = s.size;
  if (s.rows == 0) {
    // No rows: the parameter gradients are sums over nothing (all-zero bits are 0 in every dtype).
    for (const View* v : {dwv, dbv})
      if (v)
        cuda::check(cudaMemsetAsync(param_out_of(v).p, 0, static_cast<size_t>(n) * dtype_size(v->dtype),
                                    cuda::stream()),
                    call.op);
    return;
  }
  const bool params = dwv || dbv;
  // Slices of rows for the parameter sums: enough blocks to fill the device, at least 64 rows each.
  const int64_t col_tiles = (n + kColX - 1) / kColX;
  int64_t splits = 1;
  if (params) {
    const int64_t want = (busy_blocks() + col_tiles - 1) / col_tiles;
    const int64_t most = (s.rows + 63) / 64;
    splits = want < most ? want : most;
    if (splits > 1024) splits = 1024;
    if (splits < 1) splits = 1;
  }
  const int64_t per = (s.rows + splits - 1) / splits;
  splits = (s.rows + per - 1) / per;
  // Workspace: mean[rows], rstd[rows], then the [splits, n] partials of dweight and dbias.
  const size_t stat_floats = params ? static_cast<size_t>(2 * s.rows) : 0;
  const size_t part_floats = static_cast<size_t>(splits * n);
  const size_t total = stat_floats + (dwv ? part_floats : 0) + (dbv ? part_floats : 0);
  cuda::Workspace ws(total * sizeof(float) + 1);
  float* base = ws.as<float>();
  float* mean = params ? base : nullptr;
  float* rstd = params ? base + s.rows : nullptr;
  float* pw = dwv ? base + stat_floats : nullptr;
  float* pb = dbv ? base + stat_floats + (dwv ? part_floats : 0) : nullptr;
  const ParamOut dw = param_out_of(dwv), db = param_out_of(dbv);
  dispatch_float(xd, call, [&](auto tag) {
    using T = decltype(tag);
    T* dxp = has_dx && dxv.numel > 0 ? dxv.ptr<T>() : nullptr;
    if (dxp || params) {
      if (n <= kWarpRowMax) {
        layernorm_backward_rows_kernel<T, true><<<row_blocks(s.rows, true), kRowThreads, 0, cuda::stream()>>>(
            x.ptr<T>(), w, dy.ptr<T>(), dxp, mean, rstd, s.rows, n, eps);
      } else {
        layernorm_backward_rows_kernel<T, false><<<row_blocks(s.rows, false), kRowThreads, 0, cuda::stream()>>>(
            x.ptr<T>(), w, dy.ptr<T>(), dxp, mean, rstd, s.rows, n, eps);
      }
      TESSERA_CUDA_LAUNCHED(call);
    }
    if (!params) return;
    layernorm_param_partials_kernel<T><<<dim3(static_cast<unsigned>(col_tiles), static_cast<unsigned>(splits)),
                                         dim3(kColX, kColY), 0, cuda::stream()>>>(x.ptr<T>(), dy.ptr<T>(), mean, rstd,
                                                                                 s.rows, n, per, pw, pb);
    TESSERA_CUDA_LAUNCHED(call);
    layernorm_param_finish_kernel<T><<<cuda::blocks_for(n, kRowThreads), kRowThreads, 0, cuda::stream()>>>(
        pw, pb, splits, n, dw, db);
    TESSERA_CUDA_LAUNCHED(call);
  });
}

}  // namespace tessera
