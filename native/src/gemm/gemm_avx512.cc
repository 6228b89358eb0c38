// AVX-512 SGEMM micro-kernel (14×32: 28 zmm accumulators, two B vectors and one broadcast of A) and
// the AVX-512 FMA peak loop. Entered only after tessera::isa() reports "avx512". Uses no
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

constexpr int kMR = 14;
constexpr int kNR = 32;

inline __mmask16 lane_mask(int n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : n <= 0 ? static_cast<__mmask16>(0)
                                                          : static_cast<__mmask16>((1u << n) - 1u);
}

template <int R>
void micro(int64_t kc, const float* __restrict a, const float* __restrict b, float* c, int64_t ldc, int nr,
           float alpha, float beta) {
  __m512 c0[R], c1[R];
  // C's rows are ldc apart, often a multiple of 4 KiB, so the tile's 2·R lines fall into two L1 sets:
  // fetched at the start they would evict each other (and A panel lines) long before the update.
  // So the next tile's lines (32 columns to the right, where the driver goes next) go to L2 now, and
  // this tile's rows into L1 during the last R k steps. Prefetches never fault, so addresses past
  // the end of C are harmless.
  const int64_t tail = kc >= 4 * R ? R : 0;
#pragma GCC unroll 14
  for (int r = 0; r < R; r++) {
    c0[r] = _mm512_setzero_ps();
    c1[r] = _mm512_setzero_ps();
    if (tail == 0) {
      _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + 16), _MM_HINT_T0);
    }
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + 32), _MM_HINT_T1);
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + 48), _MM_HINT_T1);
  }
  for (int64_t k = 0; k < kc - tail; k++) {
    // B panels stream from L2 (the A panel stays in L1): fetch 8 k steps (1 KiB) ahead.
    _mm_prefetch(reinterpret_cast<const char*>(b + 8 * kNR), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(b + 8 * kNR + 16), _MM_HINT_T0);
    const __m512 b0 = _mm512_load_ps(b);
    const __m512 b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 14
    for (int r = 0; r < R; r++) {
      const __m512 av = _mm512_set1_ps(a[r]);
      c0[r] = _mm512_fmadd_ps(av, b0, c0[r]);
      c1[r] = _mm512_fmadd_ps(av, b1, c1[r]);
    }
    a += kMR;
    b += kNR;
  }
  const float* cp = c;
  for (int64_t k = 0; k < tail; k++) {
    _mm_prefetch(reinterpret_cast<const char*>(cp), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(cp + 16), _MM_HINT_T0);
    cp += ldc;
    const __m512 b0 = _mm512_load_ps(b);
    const __m512 b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 14
    for (int r = 0; r < R; r++) {
      const __m512 av = _mm512_set1_ps(a[r]);
      c0[r] = _mm512_fmadd_ps(av, b0, c0[r]);
      c1[r] = _mm512_fmadd_ps(av, b1, c1[r]);
    }
    a += kMR;
    b += kNR;
  }
  const __m512 va = _mm512_set1_ps(alpha);
  if (nr == kNR) {
    if (beta == 0) {
#pragma GCC unroll 14
      for (int r = 0; r < R; r++) {
        _mm512_storeu_ps(c + r * ldc, _mm512_mul_ps(c0[r], va));
        _mm512_storeu_ps(c + r * ldc + 16, _mm512_mul_ps(c1[r], va));
      }
    } else {
      const __m512 vb = _mm512_set1_ps(beta);
#pragma GCC unroll 14
      for (int r = 0; r < R; r++) {
        float* cr = c + r * ldc;
        _mm512_storeu_ps(cr, _mm512_fmadd_ps(c0[r], va, _mm512_mul_ps(vb, _mm512_loadu_ps(cr))));
        _mm512_storeu_ps(cr + 16, _mm512_fmadd_ps(c1[r], va, _mm512_mul_ps(vb, _mm512_loadu_ps(cr + 16))));
      }
    }
    return;
  }
  // Partial width: masked loads and stores never touch columns at or beyond nr.
  const __mmask16 m0 = lane_mask(nr);
  const __mmask16 m1 = lane_mask(nr - 16);
  if (beta == 0) {
#pragma GCC unroll 14
    for (int r = 0; r < R; r++) {
      _mm512_mask_storeu_ps(c + r * ldc, m0, _mm512_mul_ps(c0[r], va));
      _mm512_mask_storeu_ps(c + r * ldc + 16, m1, _mm512_mul_ps(c1[r], va));
    }
  } else {
    const __m512 vb = _mm512_set1_ps(beta);
#pragma GCC unroll 14
    for (int r = 0; r < R; r++) {
      float* cr = c + r * ldc;
      _mm512_mask_storeu_ps(cr, m0,
                            _mm512_fmadd_ps(c0[r], va, _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(m0, cr))));
      _mm512_mask_storeu_ps(
          cr + 16, m1, _mm512_fmadd_ps(c1[r], va, _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(m1, cr + 16))));
    }
  }
}

/** In-register transpose of 16 rows of 16 floats: afterwards r[c] holds column c. */
inline void transpose16(__m512 r[16]) {
  __m512 t[16];
#pragma GCC unroll 8
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; i++) {
    r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; i++) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD);
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xDD);
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; i++) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
    r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xDD);
  }
}

/**
 * Edge panels of mr rows through micro<RC> (RC > mr; the packed panel's rows past mr are zeros) into a
 * buffer, then C = alpha·acc + beta·C for the mr real rows, rounded as micro does. GCC 12 spills a B
 * vector to the stack in micro<11> and micro<13> (on every k step), which runs them at ~125 instead of
 * ~180 GFLOP/s; the computed extra row costs less.
 */
template <int RC>
void micro_via_buffer(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr, int nr,
                      float alpha, float beta) {
  alignas(64) float acc[RC * kNR];
  micro<RC>(kc, a, b, acc, kNR, kNR, 1.0f, 0.0f);
  const __mmask16 m0 = lane_mask(nr), m1 = lane_mask(nr - 16);
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  for (int r = 0; r < mr; r++) {
    float* cr = c + r * ldc;
    const __m512 a0 = _mm512_load_ps(acc + r * kNR), a1 = _mm512_load_ps(acc + r * kNR + 16);
    if (beta == 0) {
      _mm512_mask_storeu_ps(cr, m0, _mm512_mul_ps(a0, va));
      _mm512_mask_storeu_ps(cr + 16, m1, _mm512_mul_ps(a1, va));
    } else {
      _mm512_mask_storeu_ps(cr, m0, _mm512_fmadd_ps(a0, va, _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(m0, cr))));
      _mm512_mask_storeu_ps(cr + 16, m1,
                            _mm512_fmadd_ps(a1, va, _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(m1, cr + 16))));
    }
  }
}

void micro_dispatch(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr, int nr,
                    float alpha, float beta) {
  switch (mr) {
    case 14: micro<14>(kc, a, b, c, ldc, nr, alpha, beta); break;
    case 13: micro_via_buffer<14>(kc, a, b, c, ldc, 13, nr, alpha, beta); break;
    case 12: micro<12>(kc, a, b, c, ldc, nr, alpha, beta); break;
    case 11: micro_via_buffer<12>(kc, a, b, c, ldc, 11, nr, alpha, beta); break;
    case 10: micro<10>(kc, a, b, c, ldc, nr, alpha, beta); break;
    case 9: micro<9>(kc, a, b, c, ldc, nr, alpha, beta); break;
    case 8: micro<8>(kc, a, b, c, ldc, nr, alpha, beta); break;
    case 7: micro<7>(kc, a, b, c, ldc, nr, alpha, beta); break;
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

MicroKernel avx512_kernel() { return MicroKernel{kMR, kNR, micro_dispatch}; }

bool pack_avx512(int width, float* dst, const float* src, int64_t rs, int64_t ks, int64_t rows, int64_t kc) {
  if (width > 32 || (rs != 1 && ks != 1)) return false;
  const __mmask16 w0 = lane_mask(width), w1 = lane_mask(width - 16);
  if (rs == 1) {
    // Rows adjacent in memory (each k is a contiguous source row): walk k outermost so the source is
    // read sequentially; every panel receives n floats per k, zero-filled up to the width.
    const int64_t panels = (rows + width - 1) / width;
    const int64_t full = rows / width;
    for (int64_t k = 0; k < kc; k++) {
      const float* sk = src + k * ks;
      float* dk = dst + k * width;
      int64_t p = 0;
      if (width == 32) {
        for (; p < full; p++) {
          _mm512_storeu_ps(dk + p * 32 * kc, _mm512_loadu_ps(sk + p * 32));
          _mm512_storeu_ps(dk + p * 32 * kc + 16, _mm512_loadu_ps(sk + p * 32 + 16));
        }
      }
      for (; p < panels; p++) {
        const int64_t r0 = p * width;
        const int n = rows - r0 < width ? static_cast<int>(rows - r0) : width;
        float* d = dk + p * width * kc;
        _mm512_mask_storeu_ps(d, w0, _mm512_maskz_loadu_ps(lane_mask(n), sk + r0));
        if (width > 16) _mm512_mask_storeu_ps(d + 16, w1, _mm512_maskz_loadu_ps(lane_mask(n - 16), sk + r0 + 16));
      }
    }
    return true;
  }
  // k adjacent in memory: transpose 16×16 tiles (rows past n read as zeros).
  for (int64_t r0 = 0; r0 < rows; r0 += width) {
    const int n = rows - r0 < width ? static_cast<int>(rows - r0) : width;
    const float* s = src + r0 * rs;
    float* d = dst + r0 * kc;
    for (int64_t k0 = 0; k0 < kc; k0 += 16) {
      const int kt = kc - k0 < 16 ? static_cast<int>(kc - k0) : 16;
      const __mmask16 km = lane_mask(kt);
      for (int g = 0; g < width; g += 16) {
        __m512 t[16];
        for (int i = 0; i < 16; i++)
          t[i] = g + i < n ? _mm512_maskz_loadu_ps(km, s + (g + i) * rs + k0) : _mm512_setzero_ps();
        transpose16(t);
        const __mmask16 wm = lane_mask(width - g);
        for (int i = 0; i < kt; i++) _mm512_mask_storeu_ps(d + (k0 + i) * width + g, wm, t[i]);
      }
    }
  }
  return true;
}

void skinny_avx512(bool tb, int M, int64_t K, float alpha, const float* a, const float* B, int64_t ldb, float beta,
                 float* C, int64_t rsC, int64_t csC, int64_t j0, int64_t j1) {
  skinny_dispatch(tb, M, K, alpha, a, B, ldb, beta, C, rsC, csC, j0, j1);
}

double fma_loop_avx512(int64_t iters) {
  constexpr int kAcc = 24;  // 24 independent chains hide the 4-cycle FMA latency on two ports
  __m512 acc[kAcc];
#pragma GCC unroll 24
  for (int i = 0; i < kAcc; i++) acc[i] = _mm512_set1_ps(0.001f * static_cast<float>(i + 1));
  const __m512 m = _mm512_set1_ps(0.99999994f);
  const __m512 add = _mm512_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; it++) {
#pragma GCC unroll 24
    for (int i = 0; i < kAcc; i++) acc[i] = _mm512_fmadd_ps(acc[i], m, add);
  }
  __m512 s = acc[0];
  for (int i = 1; i < kAcc; i++) s = _mm512_add_ps(s, acc[i]);
  volatile float sink = _mm512_reduce_add_ps(s);
  (void)sink;
  return static_cast<double>(iters) * kAcc * 16 * 2;
}

}  // namespace gemm_detail
}  // namespace tessera
#endif
