// Shared pieces of the cuda row kernels (softmax, layerNorm, crossEntropy, reduce): warp and block
// all-reductions and the "one warp or one block per row" schedule. Private to those files; everything
// has internal linkage so each .cu gets its own copy.
#pragma once

#include <cstdint>

#include "common.cuh"

namespace tessera {
namespace {

constexpr unsigned kFullMask = 0xffffffffu;
/** Threads of a row kernel's block (both schedules): a multiple of 32, at most 1024. */
constexpr int kRowThreads = 256;
/** Rows up to this length get one warp each; longer rows get a whole block. */
constexpr int64_t kWarpRowMax = 1024;

struct SumOp {
  __device__ float operator()(float a, float b) const { return a + b; }
  __device__ double operator()(double a, double b) const { return a + b; }
};
/** fmaxf: a NaN never wins while a number is there, like the cpu kernels' `v > m` scans. */
struct MaxOp {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

/** Every lane of the warp gets op over the warp's 32 values (xor butterfly: same order on every lane). */
template <typename V, typename Op>
__device__ __forceinline__ V warp_allreduce(V v, Op op) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}

/**
 * Every thread of the block gets op over the block's values. `sh` holds 32 values of shared memory;
 * the leading barrier makes back-to-back calls on the same buffer safe. blockDim.x is a multiple of 32
 * and every thread of the block must call it.
 */
template <typename V, typename Op>
__device__ __forceinline__ V block_allreduce(V v, Op op, V identity, V* sh) {
  v = warp_allreduce(v, op);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  __syncthreads();
  if (lane == 0) sh[warp] = v;
  __syncthreads();
  v = lane < nwarps ? sh[lane] : identity;
  return warp_allreduce(v, op);
}

/**
 * One row per warp (kWarp) or per block. Rows are walked grid-stride; in the block schedule every
 * thread of a block walks the same rows, so block_allreduce may be called inside the loop.
 */
template <bool kWarp>
struct RowGroup {
  __device__ static int lane() { return kWarp ? static_cast<int>(threadIdx.x & 31) : static_cast<int>(threadIdx.x); }
  __device__ static int size() { return kWarp ? 32 : static_cast<int>(blockDim.x); }
  __device__ static int64_t first_row() {
    return kWarp ? static_cast<int64_t>(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5)
                 : static_cast<int64_t>(blockIdx.x);
  }
  __device__ static int64_t row_step() {
    return kWarp ? static_cast<int64_t>(gridDim.x) * (blockDim.x >> 5) : static_cast<int64_t>(gridDim.x);
  }
  template <typename V, typename Op>
  __device__ static V all(V v, Op op, V identity, V* sh) {
    if constexpr (kWarp) {
      (void)identity;
      (void)sh;
      return warp_allreduce(v, op);
    } else {
      return block_allreduce(v, op, identity, sh);
    }
  }
  __device__ static float sum(float v, float* sh) { return all(v, SumOp{}, 0.0f, sh); }
  __device__ static float max(float v, float* sh) { return all(v, MaxOp{}, -INFINITY, sh); }
};

/** Blocks for `rows` rows of kRowThreads-thread blocks: a warp or a block per row. */
inline unsigned row_blocks(int64_t rows, bool warp) {
  return cuda::blocks_for(warp ? rows * 32 : rows * kRowThreads, kRowThreads);
}

/** Blocks that keep every multiprocessor busy: the target when a reduction is split. */
inline int64_t busy_blocks() { return 8 * static_cast<int64_t>(cuda::props().multiProcessorCount); }

}  // namespace
}  // namespace tessera
