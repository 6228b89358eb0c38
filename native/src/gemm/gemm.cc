// Placeholder GEMM (replaced by the packed SIMD implementation).
#include "gemm/gemm.h"

#include "tessera.h"

namespace tessera {

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  parallel_for(M, 4, [&](int64_t m0, int64_t m1) {
    for (int64_t i = m0; i < m1; i++)
      for (int64_t j = 0; j < N; j++) {
        float acc = 0;
        for (int64_t k = 0; k < K; k++) {
          float a = trans_a ? A[k * lda + i] : A[i * lda + k];
          float b = trans_b ? B[j * ldb + k] : B[k * ldb + j];
          acc += a * b;
        }
        C[i * ldc + j] = beta == 0 ? alpha * acc : alpha * acc + beta * C[i * ldc + j];
      }
  });
}

double fma_peak_gflops(int, double) { return 0; }

}  // namespace tessera
