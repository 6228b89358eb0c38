// reduce: x, out | op index in REDUCE_OPS (sum, prod, max, min, argmax, argmin), ...axes (sorted).
// The cpu kernel's semantics (kernels/reduce.cc): float32 sums and products accumulate in float64;
// int32 sums and products wrap modulo 2^32; max/min propagate NaN; argmax/argmin give the first index
// of the extreme and a NaN wins; bool prod is min, bool sum is refused; an empty reduction gives the
// identity (∓Inf for float max/min, 0 for int and bool max/min and for arg*).
// Extremes carry their index in the reduced order and break ties towards the smaller one (NaN beats
// every number, the first NaN beats later ones): that combine is associative and commutative, so any
// tree of lanes gives the sequential scan's answer, including which of −0 and +0 a max returns.
// After dropping size-1 dims and merging neighbours, x is a sequence of kept and reduced blocks:
//  - rows (innermost block reduced): each output reduces `per` elements, the innermost L contiguous;
//    a warp per output when per is small, else a block per output, split along `per` into slices
//    when there are too few outputs to fill the device (slices combined in order by a second kernel);
//  - columns (innermost block kept, I wide): a block covers up to 32 neighbouring outputs with 8..256
//    lanes walking the reduced rows, so every row read is coalesced; too few column tiles split the
//    rows into slices as above (e.g. a bias gradient [B·T, C] → [C]).
// Slices and lane trees are fixed by the shape alone, so results are the same on every run.
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/reduce_plan.h"
#include "rowops.cuh"

namespace tessera {
namespace {

using reduce_plan::Op;

template <typename V>
struct Indexed {
  V v;
  int64_t i;
};

// ---- lane shuffles for every accumulator type ----------------------------------------------------

__device__ __forceinline__ float shfl_xor(float v, int o) { return __shfl_xor_sync(kFullMask, v, o); }
__device__ __forceinline__ double shfl_xor(double v, int o) { return __shfl_xor_sync(kFullMask, v, o); }
__device__ __forceinline__ int32_t shfl_xor(int32_t v, int o) { return __shfl_xor_sync(kFullMask, v, o); }
__device__ __forceinline__ uint32_t shfl_xor(uint32_t v, int o) { return __shfl_xor_sync(kFullMask, v, o); }
__device__ __forceinline__ uint8_t shfl_xor(uint8_t v, int o) {
  return static_cast<uint8_t>(__shfl_xor_sync(kFullMask, static_cast<int>(v), o));
}
template <typename V>
__device__ __forceinline__ Indexed<V> shfl_xor(Indexed<V> a, int o) {
  return {shfl_xor(a.v, o), static_cast<int64_t>(__shfl_xor_sync(kFullMask, static_cast<long long>(a.i), o))};
}

// ---- reducers: init, load, combine, store --------------------------------------------------------

/** Sum, product, or an extreme where equal values are indistinguishable (ints, bools). */
template <typename T, typename A, Op op>
struct Plain {
  using Acc = A;
  using Out = T;
  __device__ static Acc init() {
    if constexpr (op == Op::Sum) return A(0);
    else if constexpr (op == Op::Prod) return A(1);
    else if constexpr (op == Op::Max) return std::numeric_limits<A>::lowest();
    else return std::numeric_limits<A>::max();
  }
  __device__ static Acc load(T v, int64_t) { return static_cast<A>(v); }
  __device__ static Acc combine(Acc a, Acc b) {
    if constexpr (op == Op::Sum) return a + b;  // uint32 wraps for int32
    else if constexpr (op == Op::Prod) return a * b;
    else if constexpr (op == Op::Max) return b > a ? b : a;
    else return b < a ? b : a;
  }
  __device__ static Out store(Acc a) { return static_cast<T>(a); }
};

/** max/min (kArg: argmax/argmin) with the index of the extreme in the reduced order. */
template <typename T, bool kMax, bool kArg>
struct Extreme {
  using Acc = Indexed<T>;
  using Out = std::conditional_t<kArg, int32_t, T>;
  __device__ static Acc init() {
    T v;
    if constexpr (std::is_same_v<T, float>) v = kMax ? -INFINITY : INFINITY;
    else v = kMax ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
    return {v, INT64_MAX};
  }
  __device__ static Acc load(T v, int64_t i) { return {v, i}; }
  __device__ static Acc combine(Acc a, Acc b) {
    const bool an = a.v != a.v, bn = b.v != b.v;  // always false for ints
    if (an || bn) {
      if (an && bn) return a.i <= b.i ? a : b;
      return an ? a : b;
    }
    if (kMax ? b.v > a.v : b.v < a.v) return b;
    if (kMax ? a.v > b.v : a.v < b.v) return a;
    return a.i <= b.i ? a : b;
  }
  __device__ static Out store(Acc a) {
    if constexpr (kArg) return static_cast<int32_t>(a.i);
    else return a.v;
  }
};

template <typename R>
__device__ __forceinline__ typename R::Acc warp_combine(typename R::Acc v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = R::combine(v, shfl_xor(v, o));
  return v;
}

/** The block's combined value, valid in every thread; `sh` holds 32 accumulators of shared memory. */
template <typename R>
__device__ __forceinline__ typename R::Acc block_combine(typename R::Acc v, typename R::Acc* sh) {
  v = warp_combine<R>(v);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  __syncthreads();
  if (lane == 0) sh[warp] = v;
  __syncthreads();
  v = lane < nwarps ? sh[lane] : R::init();
  return warp_combine<R>(v);
}

// ---- index arithmetic ----------------------------------------------------------------------------

/** Dims of one kind (kept or reduced), outer first, with their strides in x. */
struct Dims {
  int n = 0;
  int64_t size[kMaxDims] = {};
  int64_t stride[kMaxDims] = {};
  int64_t total() const {
    int64_t t = 1;
    for (int i = 0; i < n; i++) t *= size[i];
    return t;
  }
};

/** Offset in x of the k-th position of d (k < d.total(): the outermost dim needs no modulo). */
__device__ __forceinline__ int64_t dims_offset(const Dims& d, int64_t k) {
  int64_t off = 0;
  for (int i = d.n - 1; i > 0; i--) {
    const int64_t s = d.size[i];
    const int64_t q = k / s;
    off += (k - q * s) * d.stride[i];
    k = q;
  }
  return d.n > 0 ? off + k * d.stride[0] : off;
}

/** Rows layout: reduced element i is row i / L of `red` (the outer reduced dims), column i % L. */
__device__ __forceinline__ int64_t row_elem_offset(const Dims& red, int64_t L, int64_t i) {
  if (red.n == 0) return i;
  const int64_t rr = i / L;
  return dims_offset(red, rr) + (i - rr * L);
}

// ---- kernels -------------------------------------------------------------------------------------

/** Rows layout, a warp per output. */
template <typename R, typename T>
__global__ void reduce_rows_warp_kernel(const T* __restrict__ x, typename R::Out* __restrict__ out, Dims kept, Dims red,
                                        int64_t L, int64_t per, int64_t outs) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x >> 5);
  for (int64_t o = static_cast<int64_t>(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5); o < outs; o += warps) {
    const T* base = x + dims_offset(kept, o);
    typename R::Acc acc = R::init();
    for (int64_t i = lane; i < per; i += 32) acc = R::combine(acc, R::load(base[row_elem_offset(red, L, i)], i));
    acc = warp_combine<R>(acc);
    if (lane == 0) out[o] = R::store(acc);
  }
}

/**
 * Rows layout, a block per (output, slice): slice p covers reduced elements [p·chunk, (p+1)·chunk).
 * With one slice the block stores the output; otherwise it writes its partial to part[o·splits + p].
 */
template <typename R, typename T>
__global__ void reduce_rows_block_kernel(const T* __restrict__ x, typename R::Out* __restrict__ out,
                                         typename R::Acc* __restrict__ part, Dims kept, Dims red, int64_t L,
                                         int64_t per, int64_t outs, int64_t splits, int64_t chunk) {
  __shared__ typename R::Acc sh[32];
  const int64_t items = outs * splits;
  for (int64_t item = blockIdx.x; item < items; item += gridDim.x) {
    const int64_t o = item / splits, p = item - o * splits;
    const T* base = x + dims_offset(kept, o);
    const int64_t s = p * chunk, e = s + chunk < per ? s + chunk : per;
    typename R::Acc acc = R::init();
    for (int64_t i = s + threadIdx.x; i < e; i += blockDim.x)
      acc = R::combine(acc, R::load(base[row_elem_offset(red, L, i)], i));
    acc = block_combine<R>(acc, sh);
    if (threadIdx.x == 0) {
      if (splits > 1) part[item] = acc;
      else out[o] = R::store(acc);
    }
  }
}

/** out[o] = the slices of output o combined in order. */
template <typename R>
__global__ void reduce_rows_finish_kernel(const typename R::Acc* __restrict__ part, typename R::Out* __restrict__ out,
                                          int64_t outs, int64_t splits) {
  for (int64_t o = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; o < outs;
       o += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    typename R::Acc acc = part[o * splits];
    for (int64_t p = 1; p < splits; p++) acc = R::combine(acc, part[o * splits + p]);
    out[o] = R::store(acc);
  }
}

constexpr int kColThreads = 256;

/**
 * Columns layout: out[g, j] = reduction over t of x[kept(g) + red(t) + j]. Block (item, slice): item
 * picks g and a tile of blockDim.x columns; threadIdx.y strides the slice's rows [t0, t1); the
 * blockDim.y lanes (a power of two) are combined by a fixed tree in shared memory. With one slice the
 * block stores out, otherwise part[(slice·G + g)·I + j].
 */
template <typename R, typename T>
__global__ void reduce_cols_kernel(const T* __restrict__ x, typename R::Out* __restrict__ out,
                                   typename R::Acc* __restrict__ part, Dims kept, Dims red, int64_t G, int64_t I,
                                   int64_t NR, int64_t chunk, int64_t ntiles) {
  __shared__ typename R::Acc sh[kColThreads];
  const int tx = threadIdx.x, ty = threadIdx.y, bx = blockDim.x, by = blockDim.y;
  const int64_t t0 = static_cast<int64_t>(blockIdx.y) * chunk;
  const int64_t t1 = t0 + chunk < NR ? t0 + chunk : NR;
  const bool sliced = gridDim.y > 1;
  for (int64_t item = blockIdx.x; item < G * ntiles; item += gridDim.x) {
    const int64_t g = item / ntiles;
    const int64_t j = (item - g * ntiles) * bx + tx;
    typename R::Acc acc = R::init();
    if (j < I) {
      const T* base = x + dims_offset(kept, g) + j;
      for (int64_t t = t0 + ty; t < t1; t += by) acc = R::combine(acc, R::load(base[dims_offset(red, t)], t));
    }
    sh[ty * bx + tx] = acc;
    __syncthreads();
    for (int h = by >> 1; h > 0; h >>= 1) {
      if (ty < h) sh[ty * bx + tx] = R::combine(sh[ty * bx + tx], sh[(ty + h) * bx + tx]);
      __syncthreads();
    }
    if (ty == 0 && j < I) {
      if (sliced) part[(static_cast<int64_t>(blockIdx.y) * G + g) * I + j] = sh[tx];
      else out[g * I + j] = R::store(sh[tx]);
    }
    __syncthreads();  // sh is rewritten by the next item
  }
}

/** out[k] = the slices' partials part[p·n + k] combined in order. */
template <typename R>
__global__ void reduce_cols_finish_kernel(const typename R::Acc* __restrict__ part, typename R::Out* __restrict__ out,
                                          int64_t n, int64_t splits) {
  for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < n;
       k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    typename R::Acc acc = part[k];
    for (int64_t p = 1; p < splits; p++) acc = R::combine(acc, part[p * n + k]);
    out[k] = R::store(acc);
  }
}

template <typename T>
__global__ void fill_value_kernel(T* __restrict__ out, int64_t n, T value) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    out[i] = value;
}

// ---- host side -----------------------------------------------------------------------------------

using reduce_plan::Block;

constexpr int kThreads = 256;
/** Rows layouts reducing at most this many elements per output get a warp each. */
constexpr int64_t kWarpPer = 1024;
/** Elements a slice reduces, at least, when one output's reduction is split. */
constexpr int64_t kMinSlice = 8192;
/** Grid-stride launches never need more blocks than this. */
constexpr int64_t kMaxGrid = int64_t{1} << 20;

unsigned capped(int64_t blocks) {
  if (blocks < 1) blocks = 1;
  return static_cast<unsigned>(blocks < kMaxGrid ? blocks : kMaxGrid);
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

template <typename R, typename T>
void run_reduce(const Call& call, const View& xv, const View& ov, const std::vector<Block>& blocks) {
  using Acc = typename R::Acc;
  using Out = typename R::Out;
  const T* x = xv.ptr<T>();
  Out* out = ov.ptr<Out>();
  cudaStream_t st = cuda::stream();
  const int64_t busy = busy_blocks();
  Dims kept, red;
  if (!blocks.empty() && blocks.back().reduced) {
    reduce_plan::split_leading(blocks, kept, red);
    const int64_t L = blocks.back().size;
    const int64_t outs = kept.total();
    const int64_t per = red.total() * L;
    if (per <= kWarpPer) {
      reduce_rows_warp_kernel<R, T><<<capped(ceil_div(outs, kThreads / 32)), kThreads, 0, st>>>(x, out, kept, red, L,
                                                                                              per, outs);
      TESSERA_CUDA_LAUNCHED(call);
      return;
    }
    int64_t splits = 1;
    if (outs < busy) {
      const int64_t want = ceil_div(busy, outs), most = ceil_div(per, kMinSlice);
      splits = want < most ? want : most;
    }
    const int64_t chunk = ceil_div(per, splits);
    splits = ceil_div(per, chunk);
    if (splits == 1) {
      reduce_rows_block_kernel<R, T><<<capped(outs), kThreads, 0, st>>>(x, out, nullptr, kept, red, L, per, outs, 1,
                                                                       chunk);
      TESSERA_CUDA_LAUNCHED(call);
      return;
    }
    cuda::Workspace ws(static_cast<size_t>(outs * splits) * sizeof(Acc));
    Acc* part = ws.as<Acc>();
    reduce_rows_block_kernel<R, T><<<capped(outs * splits), kThreads, 0, st>>>(x, out, part, kept, red, L, per, outs,
                                                                              splits, chunk);
    TESSERA_CUDA_LAUNCHED(call);
    reduce_rows_finish_kernel<R><<<capped(ceil_div(outs, kThreads)), kThreads, 0, st>>>(part, out, outs, splits);
    TESSERA_CUDA_LAUNCHED(call);
    return;
  }

  // Columns layout (also x with a single element, where there are no blocks at all).
  int64_t I = 1;
  if (!blocks.empty()) {
    I = blocks.back().size;
    reduce_plan::split_leading(blocks, kept, red);
  }
  const int64_t G = kept.total(), NR = red.total();
  int bx = 1;
  while (bx < 32 && bx < I) bx <<= 1;
  const int by = kColThreads / bx;
  const int64_t ntiles = ceil_div(I, bx);
  const int64_t items = G * ntiles;
  int64_t splits = 1;
  if (items < busy) {
    const int64_t want = ceil_div(busy, items), most = ceil_div(NR, static_cast<int64_t>(by) * 16);
    splits = want < most ? want : most;
    if (splits > 65535) splits = 65535;
    if (splits < 1) splits = 1;
  }
  const int64_t chunk = ceil_div(NR, splits);
  splits = ceil_div(NR, chunk);
  const dim3 grid(capped(items), static_cast<unsigned>(splits));
  const dim3 block(static_cast<unsigned>(bx), static_cast<unsigned>(by));
  if (splits == 1) {
    reduce_cols_kernel<R, T><<<grid, block, 0, st>>>(x, out, nullptr, kept, red, G, I, NR, chunk, ntiles);
    TESSERA_CUDA_LAUNCHED(call);
    return;
  }
  const int64_t n = G * I;
  cuda::Workspace ws(static_cast<size_t>(n * splits) * sizeof(Acc));
  Acc* part = ws.as<Acc>();
  reduce_cols_kernel<R, T><<<grid, block, 0, st>>>(x, out, part, kept, red, G, I, NR, chunk, ntiles);
  TESSERA_CUDA_LAUNCHED(call);
  reduce_cols_finish_kernel<R><<<capped(ceil_div(n, kThreads)), kThreads, 0, st>>>(part, out, n, splits);
  TESSERA_CUDA_LAUNCHED(call);
}

template <typename T>
void fill_value(const Call& call, const View& ov, T value) {
  fill_value_kernel<T><<<capped(ceil_div(ov.numel, kThreads)), kThreads, 0, cuda::stream()>>>(ov.ptr<T>(), ov.numel,
                                                                                              value);
  TESSERA_CUDA_LAUNCHED(call);
}

/** Some reduced dim has size 0: every output is the op's value for no elements (cpu's choice). */
void fill_empty(const Call& call, Op op, const View& x, const View& out) {
  if (op == Op::ArgMax || op == Op::ArgMin) return fill_value<int32_t>(call, out, 0);
  const double one = op == Op::Prod ? 1.0 : 0.0;
  switch (x.dtype) {
    case DType::F32:
      return fill_value<float>(call, out, op == Op::Max ? -INFINITY : op == Op::Min ? INFINITY : static_cast<float>(one));
    case DType::I32:
      return fill_value<int32_t>(call, out, static_cast<int32_t>(one));
    case DType::Bool:
      if (op == Op::Sum) call.fail("sum of bool is not supported (cast to int32 first)");
      return fill_value<uint8_t>(call, out, static_cast<uint8_t>(one));
    default:
      call.fail(std::string("unsupported dtype ") + dtype_name(x.dtype));
  }
}

template <bool kMax, bool kArg>
void run_extreme(const Call& call, const View& x, const View& out, const std::vector<Block>& blocks) {
  switch (x.dtype) {
    case DType::F32:
      return run_reduce<Extreme<float, kMax, kArg>, float>(call, x, out, blocks);
    case DType::I32:
      if constexpr (kArg) return run_reduce<Extreme<int32_t, kMax, true>, int32_t>(call, x, out, blocks);
      else return run_reduce<Plain<int32_t, int32_t, kMax ? Op::Max : Op::Min>, int32_t>(call, x, out, blocks);
    case DType::Bool:
      if constexpr (kArg) return run_reduce<Extreme<uint8_t, kMax, true>, uint8_t>(call, x, out, blocks);
      else return run_reduce<Plain<uint8_t, uint8_t, kMax ? Op::Max : Op::Min>, uint8_t>(call, x, out, blocks);
    default:
      call.fail(std::string("unsupported dtype ") + dtype_name(x.dtype));
  }
}

template <Op op>
void run_sum_prod(const Call& call, const View& x, const View& out, const std::vector<Block>& blocks) {
  switch (x.dtype) {
    case DType::F32:
      return run_reduce<Plain<float, double, op>, float>(call, x, out, blocks);
    case DType::I32:
      return run_reduce<Plain<int32_t, uint32_t, op>, int32_t>(call, x, out, blocks);
    case DType::Bool:
      // bool is 0/1 in a byte: the product is the minimum; a sum would not fit (core sums bools as int32).
      if constexpr (op == Op::Sum) call.fail("sum of bool is not supported (cast to int32 first)");
      else return run_reduce<Plain<uint8_t, uint8_t, Op::Min>, uint8_t>(call, x, out, blocks);
    default:
      call.fail(std::string("unsupported dtype ") + dtype_name(x.dtype));
  }
}

}  // namespace

TESSERA_CUDA_KERNEL(reduce) {
  const reduce_plan::Plan p = reduce_plan::plan(call);
  const View& x = *p.x;
  const View& out = *p.out;
  const Op op = p.op;
  const bool arg = p.arg;
  call.check(x.dtype == DType::F32 || x.dtype == DType::I32 || x.dtype == DType::Bool,
             "reduce supports float32, int32 and bool (TS converts halves)");
  if (!arg && op == Op::Sum) call.check(x.dtype != DType::Bool, "sum of bool is not supported (cast to int32 first)");
  if (out.numel == 0) return;
  if (x.numel == 0) {
    fill_empty(call, op, x, out);
    return;
  }

  // Coalesce: drop size-1 dims, merge neighbours that are both kept or both reduced (x is contiguous).
  const std::vector<Block> blocks = reduce_plan::coalesce(x, p.reduced);
  switch (op) {
    case Op::Sum:
      return run_sum_prod<Op::Sum>(call, x, out, blocks);
    case Op::Prod:
      return run_sum_prod<Op::Prod>(call, x, out, blocks);
    case Op::Max:
      return run_extreme<true, false>(call, x, out, blocks);
    case Op::Min:
      return run_extreme<false, false>(call, x, out, blocks);
    case Op::ArgMax:
      return run_extreme<true, true>(call, x, out, blocks);
    case Op::ArgMin:
      return run_extreme<false, true>(call, x, out, blocks);
  }
}

}  // namespace tessera
