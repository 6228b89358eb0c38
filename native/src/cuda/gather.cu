// gather and scatterAdd along one dim on the cuda device (torch.gather / scatter_add_), as the cpu
// device's native/src/kernels/gather.cc: out[i] = x[i with coordinate dim replaced by index[i]];
// dst[.. index[i] ..] += src[i].
//
// The cpu device checks every index before it writes and throws on a bad one; here the indices live
// in device memory and reading them back would stall the stream, so a kernel never reads or writes out
// of bounds instead: gather writes 0 for an index outside [0, size), scatterAdd skips it. (Core
// validates indices where it can before calling either.)
#include <string>
#include <type_traits>

#include "kernels/gather_args.h"
#include "strided.cuh"

namespace tessera {
namespace {

using gather_args::Geometry;

/** A stand-in view of index's shape (optionally with dim collapsed to 1) with the given strides. */
View shaped(const View& index, const int64_t* strides, int collapse_dim) {
  View v;
  v.ndim = index.ndim;
  v.numel = 1;
  for (int d = 0; d < v.ndim; d++) {
    v.shape[d] = d == collapse_dim ? 1 : index.shape[d];
    v.strides[d] = strides[d];
    v.numel *= v.shape[d];
  }
  return v;
}

// ---- gather -------------------------------------------------------------------------------------

/** Index and out are contiguous; the plan gives x's offset of element i with its dim coordinate 0. */
template <typename T>
__global__ void gather_kernel(const T* x, const int32_t* idx, T* out, const __grid_constant__ Plan<1> p,
                              int64_t n, int64_t size, int64_t dstride) {
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    int64_t off[1];
    if (fits32(n))
      plan_offsets<1, uint32_t>(p, static_cast<uint32_t>(i), off);
    else
      plan_offsets<1, uint64_t>(p, static_cast<uint64_t>(i), off);
    const int64_t j = idx[i];
    out[i] = (j >= 0 && j < size) ? x[off[0] + j * dstride] : T{};
  }
}

// ---- scatterAdd ---------------------------------------------------------------------------------

/** dst[.] += src with the cpu device's per-dtype semantics (float32 rounds each addition). */
template <typename T>
__device__ __forceinline__ void add_to(T* p, T v) {
  if constexpr (std::is_same_v<T, int32_t>)  // wrapping, as float64 sum then ToInt32
    *p = static_cast<int32_t>(static_cast<uint32_t>(*p) + static_cast<uint32_t>(v));
  else
    *p = static_cast<T>(*p + v);  // bool: a Uint8Array store of the sum wraps modulo 256
}

/**
 * Ordered: one thread per index position outside dim (they own distinct dst elements, which differ
 * outside dim), walking dim in ascending order — every dst element receives its additions in the
 * cpu device's order, so float32 results are deterministic and equal to the cpu's. off[0]: dst,
 * off[1]: src, off[2]: index offsets of the position at dim coordinate 0.
 */
template <typename T>
__global__ void scatter_ordered(T* dst, const int32_t* idx, const T* src, const __grid_constant__ Plan<3> p,
                                int64_t positions, int64_t L, int64_t istep, int64_t sstep, int64_t size,
                                int64_t dstride) {
  for (int64_t u = thread_index(); u < positions; u += thread_count()) {
    int64_t off[3];
    if (fits32(positions))
      plan_offsets<3, uint32_t>(p, static_cast<uint32_t>(u), off);
    else
      plan_offsets<3, uint64_t>(p, static_cast<uint64_t>(u), off);
    for (int64_t j = 0; j < L; j++) {
      const int64_t k = idx[off[2] + j * istep];
      if (k >= 0 && k < size) add_to(dst + off[0] + k * dstride, src[off[1] + j * sstep]);
    }
  }
}

/** Atomic: one thread per index element (long dims over few positions: embedding gradients). */
template <typename T>
__global__ void scatter_atomic(T* dst, const int32_t* idx, const T* src, const __grid_constant__ Plan<2> p,
                               int64_t n, int64_t size, int64_t dstride) {
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    int64_t off[2];
    if (fits32(n))
      plan_offsets<2, uint32_t>(p, static_cast<uint32_t>(i), off);
    else
      plan_offsets<2, uint64_t>(p, static_cast<uint64_t>(i), off);
    const int64_t k = idx[i];
    if (k >= 0 && k < size) atomicAdd(dst + off[0] + k * dstride, src[off[1]]);
  }
}

// Positions enough to fill an H100 (132 SMs × 2048 threads ≈ 270k) make the ordered walk as fast as
// atomics; with fewer, a long dim would run serially, so float sums go atomic (order unspecified).
constexpr int64_t kOrderedPositions = 1 << 16;
constexpr int64_t kShortDim = 16;

template <typename T>
void launch_scatter(const Call& call, const Geometry& g, const View& dst, const View& index, const View& src) {
  const int64_t n = index.numel;
  const int64_t L = g.rank ? index.shape[g.dim] : 1;
  if (L == 0) return;
  const int64_t positions = n / L;
  constexpr bool kAtomic = std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, int32_t>;
  // int32 sums are exact in any order: always atomic. bool has no byte atomics: always ordered.
  const bool ordered = !kAtomic || (!std::is_same_v<T, int32_t> && (positions >= kOrderedPositions || L <= kShortDim));
  const int32_t* idx = index.ptr<int32_t>();
  if (ordered) {
    const View d = shaped(index, g.xstride, g.dim);
    const View s = shaped(index, src.strides, g.dim);
    const View i = shaped(index, g.istride, g.dim);
    const View* vs[3] = {&d, &s, &i};
    const Plan<3> p = make_plan(vs, d);
    const int64_t istep = g.rank ? g.istride[g.dim] : 0;
    const int64_t sstep = g.rank ? src.strides[g.dim] : 0;
    scatter_ordered<<<grid_for(positions), kThreads, 0, cuda::stream()>>>(dst.ptr<T>(), idx, src.ptr<T>(), p,
                                                                          positions, L, istep, sstep, g.size, g.dstride);
  } else if constexpr (kAtomic) {
    int64_t xs[kMaxDims];
    for (int d = 0; d < g.rank; d++) xs[d] = d == g.dim ? 0 : g.xstride[d];
    const View d = shaped(index, xs, -1);
    const View s = shaped(index, src.strides, -1);
    const View* vs[2] = {&d, &s};
    const Plan<2> p = make_plan(vs, d);
    scatter_atomic<<<grid_for(n), kThreads, 0, cuda::stream()>>>(dst.ptr<T>(), idx, src.ptr<T>(), p, n, g.size,
                                                                 g.dstride);
  }
  TESSERA_CUDA_LAUNCHED(call);
}

}  // namespace

TESSERA_CUDA_KERNEL_HALF(gather) {
  const gather_args::Gather a = gather_args::gather(call);
  const View& x = *a.x;
  const View& index = *a.index;
  const View& out = *a.out;
  const Geometry& g = a.g;
  const int64_t n = index.numel;
  if (n == 0) return;
  // x offsets of each index element with its dim coordinate zeroed; index and out are contiguous.
  int64_t xs[kMaxDims];
  for (int d = 0; d < g.rank; d++) xs[d] = d == g.dim ? 0 : g.xstride[d];
  const View xv = shaped(index, xs, -1);
  const View* vs[1] = {&xv};
  const Plan<1> p = make_plan(vs, xv);
  dispatch_bytes(dtype_size(x.dtype), call, [&](auto tag) {
    using T = decltype(tag);
    gather_kernel<<<grid_for(n), kThreads, 0, cuda::stream()>>>(x.ptr<T>(), index.ptr<int32_t>(), out.ptr<T>(), p, n,
                                                                 g.size, g.dstride);
  });
  TESSERA_CUDA_LAUNCHED(call);
}

TESSERA_CUDA_KERNEL(scatterAdd) {
  const gather_args::Scatter a = gather_args::scatter(call);
  const View& dst = *a.dst;
  const View& index = *a.index;
  const View& src = *a.src;
  const Geometry& g = a.g;
  if (index.numel == 0) return;
  switch (dst.dtype) {
    case DType::F32:
      launch_scatter<float>(call, g, dst, index, src);
      break;
    case DType::F64:
      launch_scatter<double>(call, g, dst, index, src);
      break;
    case DType::I32:
      launch_scatter<int32_t>(call, g, dst, index, src);
      break;
    case DType::Bool:
      launch_scatter<uint8_t>(call, g, dst, index, src);
      break;
    default:
      call.fail("dst must be float32, float64, int32 or bool (half dtypes are converted by the caller)");
  }
}

}  // namespace tessera
