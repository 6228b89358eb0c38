// AVX2/FMA SGEMM micro-kernel (6×16: 12 ymm accumulators, two B vectors and one broadcast of A) and
// the AVX2 FMA peak loop. Entered only after tessera::isa() reports "avx2" (or better). Uses no
// standard-library templates (see gemm_internal.h).
#if defined(__x86_64__)
// GCC 12's intrinsics headers build "undefined" vectors as `__m512 __Y = __Y;`, which -Wuninitialized
// reports wherever they inline; the values are never used.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "gemm/gemm_internal.h"
#include "gemm/gemm_skinny.h"

namespace tessera {
namespace gemm_detail {
namespace {

constexpr int kMR = 6;
constexpr int kNR = 16;

alignas(32) const int32_t kMaskTable[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

/** A maskload/maskstore mask selecting the first n (clamped to 0..8) lanes. */
inline __m256i lane_mask(int n) {
  n = n < 0 ? 0 : n > 8 ? 8 : n;
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMaskTable + 8 - n));
}

template <int R>
void micro(int64_t kc, const float* __restrict a, const float* __restrict b, float* c, int64_t ldc, int nr,
           float alpha, float beta) {
  __m256 c0[R], c1[R];
#pragma GCC unroll 6
  for (int r = 0; r < R; r++) {
    c0[r] = _mm256_setzero_ps();
    c1[r] = _mm256_setzero_ps();
  }
  // alpha and beta wait in memory during the k loop: its 12 accumulators, two B vectors and the
  // broadcast need 15 of the 16 ymm registers, and a live alpha would force a spill.
  float scal[2] = {alpha, beta};
  __asm__ __volatile__("" : : "r"(scal) : "memory");
  for (int64_t k = 0; k < kc; k++) {
    const __m256 b0 = _mm256_load_ps(b);
    const __m256 b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
      const __m256 av = _mm256_broadcast_ss(a + r);
      c0[r] = _mm256_fmadd_ps(av, b0, c0[r]);
      c1[r] = _mm256_fmadd_ps(av, b1, c1[r]);
    }
    a += kMR;
    b += kNR;
  }
  __asm__ __volatile__("" : : "r"(scal) : "memory");
  alpha = scal[0];
  beta = scal[1];
  const __m256 va = _mm256_set1_ps(alpha);
  if (nr == kNR) {
    if (beta == 0) {
#pragma GCC unroll 6
      for (int r = 0; r < R; r++) {
        _mm256_storeu_ps(c + r * ldc, _mm256_mul_ps(c0[r], va));
        _mm256_storeu_ps(c + r * ldc + 8, _mm256_mul_ps(c1[r], va));
      }
    } else {
      const __m256 vb = _mm256_set1_ps(beta);
#pragma GCC unroll 6
      for (int r = 0; r < R; r++) {
        float* cr = c + r * ldc;
        _mm256_storeu_ps(cr, _mm256_fmadd_ps(c0[r], va, _mm256_mul_ps(vb, _mm256_loadu_ps(cr))));
        _mm256_storeu_ps(cr + 8, _mm256_fmadd_ps(c1[r], va, _mm256_mul_ps(vb, _mm256_loadu_ps(cr + 8))));
      }
    }
    return;
  }
  const __m256i m0 = lane_mask(nr);
  const __m256i m1 = lane_mask(nr - 8);
  const __m256 vb = _mm256_set1_ps(beta);
#pragma GCC unroll 6
  for (int r = 0; r < R; r++) {
    float* cr = c + r * ldc;
    __m256 x0 = _mm256_mul_ps(c0[r], va);
    __m256 x1 = _mm256_mul_ps(c1[r], va);
    if (beta != 0) {
      x0 = _mm256_fmadd_ps(vb, _mm256_maskload_ps(cr, m0), x0);
      x1 = _mm256_fmadd_ps(vb, _mm256_maskload_ps(cr + 8, m1), x1);
    }
    _mm256_maskstore_ps(cr, m0, x0);
    _mm256_maskstore_ps(cr + 8, m1, x1);
  }
}

void micro_dispatch(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr, int nr,
                    float alpha, float beta) {
  switch (mr) {
    case 6: micro<6>(kc, a, b, c, ldc, nr, alpha, beta); break;
    case 5: micro<5>(kc, a, b, c, ldc, nr, alpha, beta); break;
    case 4: micro<4>(kc, a, b, c, ldc, nr, alpha, beta); break;
    case 3: micro<3>(kc, a, b, c, ldc, nr, alpha, beta); break;
    case 2: micro<2>(kc, a, b, c, ldc, nr, alpha, beta); break;
    case 1: micro<1>(kc, a, b, c, ldc, nr, alpha, beta); break;
    default: break;
  }
}

}  // namespace

MicroKernel avx2_kernel() { return MicroKernel{kMR, kNR, micro_dispatch}; }

void skinny_avx2(bool tb, int M, int64_t K, float alpha, const float* a, const float* B, int64_t ldb, float beta,
                 float* C, int64_t rsC, int64_t csC, int64_t j0, int64_t j1) {
  skinny_dispatch(tb, M, K, alpha, a, B, ldb, beta, C, rsC, csC, j0, j1);
}

double fma_loop_avx2(int64_t iters) {
  constexpr int kAcc = 12;
  __m256 acc[kAcc];
#pragma GCC unroll 12
  for (int i = 0; i < kAcc; i++) acc[i] = _mm256_set1_ps(0.001f * static_cast<float>(i + 1));
  const __m256 m = _mm256_set1_ps(0.99999994f);
  const __m256 add = _mm256_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; it++) {
#pragma GCC unroll 12
    for (int i = 0; i < kAcc; i++) acc[i] = _mm256_fmadd_ps(acc[i], m, add);
  }
  __m256 s = acc[0];
  for (int i = 1; i < kAcc; i++) s = _mm256_add_ps(s, acc[i]);
  alignas(32) float out[8];
  _mm256_store_ps(out, s);
  volatile float sink = out[0];
  (void)sink;
  return static_cast<double>(iters) * kAcc * 8 * 2;
}

}  // namespace gemm_detail
}  // namespace tessera
#endif
