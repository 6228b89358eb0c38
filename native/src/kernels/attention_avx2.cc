// AVX2+FMA tile primitives of the attention kernels (attention.cc), the same contracts as the
// AVX-512 ones in attention_avx512.cc: a small row-major GEMM on L1-resident tiles (A plain or
// transposed), a vectorised exp with a running sum, and the logits row preparation. Entered only
// after cpu_features() reports AVX2 and FMA.
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>

namespace tessera {
namespace {

// Lanes [0, rem) of an 8-lane vector, as a maskload/maskstore mask.
inline __m256i lane_mask8(int64_t rem) {
  const int r = rem >= 8 ? 8 : rem <= 0 ? 0 : static_cast<int>(rem);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(r), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// C[R, nc] (+)= A[R, k] · B[k, nc] with nc <= 8 * NQ; TA: A stored transposed, [k, R] (lda).
template <int R, int NQ, bool TA>
inline void micro(int64_t k, const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc,
                  int64_t nc, bool acc) {
  __m256i m[NQ];
  for (int q = 0; q < NQ; q++) m[q] = lane_mask8(nc - 8 * q);
  const bool full = nc == 8 * NQ;
  __m256 c[R][NQ];
#pragma GCC unroll 8
  for (int r = 0; r < R; r++)
#pragma GCC unroll 4
    for (int q = 0; q < NQ; q++) c[r][q] = _mm256_setzero_ps();
  for (int64_t kk = 0; kk < k; kk++) {
    __m256 b[NQ];
#pragma GCC unroll 4
    for (int q = 0; q < NQ; q++)
      b[q] = full ? _mm256_loadu_ps(B + kk * ldb + 8 * q) : _mm256_maskload_ps(B + kk * ldb + 8 * q, m[q]);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
      const __m256 a = _mm256_broadcast_ss(TA ? A + kk * lda + r : A + r * lda + kk);
#pragma GCC unroll 4
      for (int q = 0; q < NQ; q++) c[r][q] = _mm256_fmadd_ps(a, b[q], c[r][q]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; r++)
#pragma GCC unroll 4
    for (int q = 0; q < NQ; q++) {
      float* dst = C + r * ldc + 8 * q;
      const __m256 x = acc ? _mm256_add_ps(c[r][q], _mm256_maskload_ps(dst, m[q])) : c[r][q];
      _mm256_maskstore_ps(dst, m[q], x);
    }
}

template <int R, bool TA>
inline void micro_cols(int64_t k, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                       int64_t ldc, int64_t nc, bool acc) {
  if (nc > 8) {
    micro<R, 2, TA>(k, A, lda, B, ldb, C, ldc, nc, acc);
  } else {
    micro<R, 1, TA>(k, A, lda, B, ldb, C, ldc, nc, acc);
  }
}

template <bool TA>
void gemm_tile(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
               int64_t ldc, bool acc) {
  for (int64_t c0 = 0; c0 < n; c0 += 16) {
    const int64_t nc = n - c0 < 16 ? n - c0 : 16;
    const auto a_at = [&](int64_t r) { return TA ? A + r : A + r * lda; };
    int64_t r0 = 0;
    for (; r0 + 6 <= m; r0 += 6) micro_cols<6, TA>(k, a_at(r0), lda, B + c0, ldb, C + r0 * ldc + c0, ldc, nc, acc);
    const float* a = a_at(r0);
    float* c = C + r0 * ldc + c0;
    switch (m - r0) {
      case 1: micro_cols<1, TA>(k, a, lda, B + c0, ldb, c, ldc, nc, acc); break;
      case 2: micro_cols<2, TA>(k, a, lda, B + c0, ldb, c, ldc, nc, acc); break;
      case 3: micro_cols<3, TA>(k, a, lda, B + c0, ldb, c, ldc, nc, acc); break;
      case 4: micro_cols<4, TA>(k, a, lda, B + c0, ldb, c, ldc, nc, acc); break;
      case 5: micro_cols<5, TA>(k, a, lda, B + c0, ldb, c, ldc, nc, acc); break;
      default: break;
    }
  }
}

// exp(x): Cephes' expf polynomial on x - n·ln2 times 2^n built in the exponent field. Inputs below
// -87.33 give 0 (the true value is a float32 denormal or 0), above 88.72 give +Inf; NaN stays NaN.
// (The attention kernels only pass x <= 0 up to rounding.)
inline __m256 exp256(__m256 x) {
  const __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
  const __m256 under = _mm256_cmp_ps(x, _mm256_set1_ps(-87.33f), _CMP_LT_OQ);
  const __m256 over = _mm256_cmp_ps(x, _mm256_set1_ps(88.72f), _CMP_GT_OQ);
  const __m256 xc = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.33f)), _mm256_set1_ps(88.3f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  __m256 y = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
  y = _mm256_add_ps(y, _mm256_set1_ps(1.0f));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  y = _mm256_mul_ps(y, _mm256_castsi256_ps(e));
  y = _mm256_blendv_ps(y, _mm256_setzero_ps(), under);
  y = _mm256_blendv_ps(y, _mm256_set1_ps(__builtin_inff()), over);
  return _mm256_blendv_ps(y, x, nan);
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

}  // namespace

void attn_gemm_nn_avx2(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* B, int64_t ldb,
                       float* C, int64_t ldc, bool acc) {
  gemm_tile<false>(m, n, k, A, lda, B, ldb, C, ldc, acc);
}

void attn_gemm_tn_avx2(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* B, int64_t ldb,
                       float* C, int64_t ldc, bool acc) {
  gemm_tile<true>(m, n, k, A, lda, B, ldb, C, ldc, acc);
}

float attn_exp_sum_avx2(float* s, int64_t n, float shift) {
  const __m256 sh = _mm256_set1_ps(shift);
  __m256 sum = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(s + i), sh));
    _mm256_storeu_ps(s + i, e);
    sum = _mm256_add_ps(sum, e);
  }
  if (i < n) {
    const __m256i m = lane_mask8(n - i);
    const __m256 e = exp256(_mm256_sub_ps(_mm256_maskload_ps(s + i, m), sh));
    _mm256_maskstore_ps(s + i, m, e);
    sum = _mm256_add_ps(sum, _mm256_and_ps(e, _mm256_castsi256_ps(m)));
  }
  return hsum(sum);
}

float attn_prep_row_avx2(float* s, int64_t tk, float scale, const float* mrow, int64_t limit) {
  if (limit < 0) limit = 0;
  if (limit > tk) limit = tk;
  const __m256 sc = _mm256_set1_ps(scale);
  const __m256 ninf = _mm256_set1_ps(-__builtin_inff());
  __m256 mx = ninf;
  for (int64_t c = 0; c < tk; c += 8) {
    const __m256i valid = lane_mask8(limit - c);
    const __m256i all = lane_mask8(tk - c);
    __m256 x = _mm256_mul_ps(_mm256_maskload_ps(s + c, valid), sc);
    if (mrow) x = _mm256_add_ps(x, _mm256_maskload_ps(mrow + c, valid));
    x = _mm256_blendv_ps(ninf, x, _mm256_castsi256_ps(valid));
    _mm256_maskstore_ps(s + c, all, x);
    mx = _mm256_max_ps(x, mx);  // a NaN in x keeps mx (second operand)
  }
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  return _mm_cvtss_f32(m4);
}

}  // namespace tessera
#endif
