// AVX-512 tile primitives of the attention kernels (attention.cc): a small row-major GEMM on
// L1-resident tiles and a vectorised exp with a running sum. Entered only after cpu_features()
// reports AVX-512F.
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>

namespace tessera {
namespace {

inline __mmask16 lane_mask(int64_t rem) {
  return rem >= 16 ? static_cast<__mmask16>(0xFFFF) : rem <= 0 ? 0 : static_cast<__mmask16>((1u << rem) - 1);
}

// C[R, nc] (+)= A[R, k] · B[k, nc] with nc <= 16 * NQ; lanes past nc are neither read nor written.
// TA: A is stored transposed, [k, R] with leading dimension lda.
template <int R, int NQ, bool TA>
inline void micro(int64_t k, const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc,
                  int64_t nc, bool acc) {
  __mmask16 m[NQ];
  for (int q = 0; q < NQ; q++) m[q] = lane_mask(nc - 16 * q);
  __m512 c[R][NQ];
#pragma GCC unroll 8
  for (int r = 0; r < R; r++)
#pragma GCC unroll 4
    for (int q = 0; q < NQ; q++) c[r][q] = _mm512_setzero_ps();
  for (int64_t kk = 0; kk < k; kk++) {
    __m512 b[NQ];
#pragma GCC unroll 4
    for (int q = 0; q < NQ; q++) b[q] = _mm512_maskz_loadu_ps(m[q], B + kk * ldb + 16 * q);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
      const __m512 a = _mm512_set1_ps(TA ? A[kk * lda + r] : A[r * lda + kk]);
#pragma GCC unroll 4
      for (int q = 0; q < NQ; q++) c[r][q] = _mm512_fmadd_ps(a, b[q], c[r][q]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; r++)
#pragma GCC unroll 4
    for (int q = 0; q < NQ; q++) {
      float* dst = C + r * ldc + 16 * q;
      const __m512 x = acc ? _mm512_add_ps(c[r][q], _mm512_maskz_loadu_ps(m[q], dst)) : c[r][q];
      _mm512_mask_storeu_ps(dst, m[q], x);
    }
}

template <int R, bool TA>
inline void micro_cols(int64_t k, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                       int64_t ldc, int64_t nc, bool acc) {
  switch ((nc + 15) / 16) {
    case 1: micro<R, 1, TA>(k, A, lda, B, ldb, C, ldc, nc, acc); break;
    case 2: micro<R, 2, TA>(k, A, lda, B, ldb, C, ldc, nc, acc); break;
    case 3: micro<R, 3, TA>(k, A, lda, B, ldb, C, ldc, nc, acc); break;
    default: micro<R, 4, TA>(k, A, lda, B, ldb, C, ldc, nc, acc); break;
  }
}

// exp(x) for x in float range: Cephes' expf polynomial on x - n·ln2, scaled by 2^n with scalef
// (which underflows to 0 and overflows to Inf correctly). NaN stays NaN; -Inf gives 0.
inline __m512 exp512(__m512 x) {
  const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  __m512 xc = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-104.0f)), _mm512_set1_ps(88.8f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), xc);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  const __m512 r2 = _mm512_mul_ps(r, r);
  __m512 y = _mm512_fmadd_ps(p, r2, r);
  y = _mm512_add_ps(y, _mm512_set1_ps(1.0f));
  y = _mm512_scalef_ps(y, n);
  return _mm512_mask_blend_ps(nan, y, x);
}


template <bool TA>
void gemm_tile(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
               int64_t ldc, bool acc) {
  for (int64_t c0 = 0; c0 < n; c0 += 64) {
    const int64_t nc = n - c0 < 64 ? n - c0 : 64;
    int64_t r0 = 0;
    const auto a_at = [&](int64_t r) { return TA ? A + r : A + r * lda; };
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

}  // namespace

void attn_gemm_nn_avx512(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* B,
                         int64_t ldb, float* C, int64_t ldc, bool acc) {
  gemm_tile<false>(m, n, k, A, lda, B, ldb, C, ldc, acc);
}

// C[m,n] (+)= Aᵀ·B with A stored [k, m].
void attn_gemm_tn_avx512(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* B,
                         int64_t ldb, float* C, int64_t ldc, bool acc) {
  gemm_tile<true>(m, n, k, A, lda, B, ldb, C, ldc, acc);
}

float attn_exp_sum_avx512(float* s, int64_t n, float shift) {
  const __m512 sh = _mm512_set1_ps(shift);
  __m512 sum = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(s + i), sh));
    _mm512_storeu_ps(s + i, e);
    sum = _mm512_add_ps(sum, e);
  }
  if (i < n) {
    const __mmask16 m = lane_mask(n - i);
    const __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, s + i), sh));
    _mm512_mask_storeu_ps(s + i, m, e);
    sum = _mm512_mask_add_ps(sum, m, sum, e);
  }
  return _mm512_reduce_add_ps(sum);
}

float attn_prep_row_avx512(float* s, int64_t tk, float scale, const float* mrow, int64_t limit) {
  if (limit < 0) limit = 0;
  if (limit > tk) limit = tk;
  const __m512 sc = _mm512_set1_ps(scale);
  const __m512 ninf = _mm512_set1_ps(-__builtin_inff());
  __m512 mx = ninf;
  for (int64_t c = 0; c < tk; c += 16) {
    const __mmask16 valid = lane_mask(limit - c) & lane_mask(tk - c);
    const __mmask16 all = lane_mask(tk - c);
    __m512 x = _mm512_mul_ps(_mm512_maskz_loadu_ps(valid, s + c), sc);
    if (mrow) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(valid, mrow + c));
    x = _mm512_mask_blend_ps(valid, ninf, x);
    _mm512_mask_storeu_ps(s + c, all, x);
    mx = _mm512_max_ps(x, mx);  // a NaN in x keeps mx (second operand)
  }
  return _mm512_reduce_max_ps(mx);
}

}  // namespace tessera
#endif
