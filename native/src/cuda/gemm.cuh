// The cuda device's matrix product, shared by matmul, conv (im2col + GEMM) and the unfused attention
// path. Implemented in gemm.cu.
#pragma once

#include <cstdint>

#include "common.cuh"

namespace tessera {
namespace cuda {

/**
 * C[b] = alpha · op(A[b]) · op(B[b]) + beta · C[b] for b in [0, batch), row-major, queued on stream().
 * op(A) is M×K: A is stored M×K with row stride lda, or K×M when transA (lda is then its row stride).
 * op(B) is K×N: B is stored K×N (ldb), or N×K when transB. C is M×N with row stride ldc.
 * Batch strides are in elements; 0 broadcasts one matrix over the batch.
 * A and B share a dtype (F32, F16 or BF16); C is F32 or that same dtype. Products accumulate in float32;
 * F16/BF16 use tensor cores, F32 uses TF32 tensor cores only when tf32_enabled().
 * When beta == 0, C is not read (it may hold NaN).
 */
struct Gemm {
  DType ab = DType::F32;
  DType c = DType::F32;
  bool transA = false, transB = false;
  int64_t M = 0, N = 0, K = 0;
  const void* A = nullptr;
  int64_t lda = 0, strideA = 0;
  const void* B = nullptr;
  int64_t ldb = 0, strideB = 0;
  void* C = nullptr;
  int64_t ldc = 0, strideC = 0;
  int64_t batch = 1;
  float alpha = 1.f, beta = 0.f;
};

/** Queues the product; throws tessera::Error on an unsupported dtype combination. */
void gemm(const Gemm& g);

/**
 * What gemm() runs on: "tessera" (this addon's kernels) or "cublas (<library path>)" when cuBLAS was
 * found at run time (TESSERA_CUBLAS_PATH, else libcublas.so.13/.12) and is enabled. TESSERA_CUBLAS=0
 * never loads it.
 */
const char* gemm_backend();
/** Turns the cuBLAS path on or off for later calls (benchmarks compare both in one process). */
void set_cublas_enabled(bool on);

}  // namespace cuda
}  // namespace tessera
