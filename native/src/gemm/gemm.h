// Single-precision GEMM with runtime ISA dispatch. Row-major operands:
//   C[M,N] = alpha * op(A) * op(B) + beta * C,  op(A) = A[M,K] (lda) or A^T with A stored [K,M];
//   op(B) = B[K,N] (ldb) or B^T with B stored [N,K]. beta == 0 ignores C's previous contents (NaN too).
// Called from outside a parallel region it runs on the thread pool; inside one, serially.
#pragma once

#include <cstdint>

namespace tessera {

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

/** GFLOP/s of a register-resident FMA loop on `threads` threads for about `seconds` (the peak). */
double fma_peak_gflops(int threads, double seconds);

}  // namespace tessera
