// Products with at most 4 rows (matrix-vector and thin matrix products): C = alpha·a·op(B) + beta·C
// without packing B, which such a product reads only once. Included by gemm.cc (baseline) and by the
// ISA files (which compile it with their own flags); everything here has internal linkage, so each
// translation unit keeps its own copy (no inline function shared across ISA flags). The loops keep
// independent per-lane partial sums so the compiler vectorises them without reassociating anything.
#pragma once

#include <cstdint>

namespace tessera {
namespace gemm_detail {
namespace {

constexpr int kSkinnyMaxRows = 4;

/**
 * For i < MM and j in [j0, j1): C[i·rsC + j·csC] = alpha·Σ_k a[i·K + k]·op(B)[k, j] (+ beta·C unless
 * beta == 0), with op(B)[k, j] = tb ? B[j·ldb + k] : B[k·ldb + j] and `a` the MM rows packed densely.
 */
template <int MM>
void skinny_rows(bool tb, int64_t K, float alpha, const float* a, const float* B, int64_t ldb, float beta,
                 float* C, int64_t rsC, int64_t csC, int64_t j0, int64_t j1) {
  auto store = [&](int i, int64_t j, float v) {
    float& c = C[i * rsC + j * csC];
    c = beta == 0 ? alpha * v : alpha * v + beta * c;
  };
  if (tb) {
    // Row j of B is contiguous in k: dot products with 16 lane-wise partial sums per row of a.
    constexpr int kL = 16;
    for (int64_t j = j0; j < j1; j++) {
      const float* b = B + j * ldb;
      float acc[MM][kL] = {};
      int64_t k = 0;
      for (; k + kL <= K; k += kL)
        for (int i = 0; i < MM; i++)
          for (int l = 0; l < kL; l++) acc[i][l] += a[i * K + k + l] * b[k + l];
      for (int i = 0; i < MM; i++) {
        float s = 0;
        for (int l = 0; l < kL; l++) s += acc[i][l];
        for (int64_t kk = k; kk < K; kk++) s += a[i * K + kk] * b[kk];
        store(i, j, s);
      }
    }
    return;
  }
  // Row k of B is contiguous in j: accumulate a chunk of output columns, streaming B's rows once.
  constexpr int64_t kChunk = 256;
  float acc[MM][kChunk];
  for (int64_t jb = j0; jb < j1; jb += kChunk) {
    const int64_t w = j1 - jb < kChunk ? j1 - jb : kChunk;
    for (int i = 0; i < MM; i++)
      for (int64_t j = 0; j < w; j++) acc[i][j] = 0;
    for (int64_t k = 0; k < K; k++) {
      const float* b = B + k * ldb + jb;
      for (int i = 0; i < MM; i++) {
        const float av = a[i * K + k];
        for (int64_t j = 0; j < w; j++) acc[i][j] += av * b[j];
      }
    }
    for (int i = 0; i < MM; i++)
      for (int64_t j = 0; j < w; j++) store(i, jb + j, acc[i][j]);
  }
}

inline void skinny_dispatch(bool tb, int M, int64_t K, float alpha, const float* a, const float* B, int64_t ldb,
                            float beta, float* C, int64_t rsC, int64_t csC, int64_t j0, int64_t j1) {
  switch (M) {
    case 1: skinny_rows<1>(tb, K, alpha, a, B, ldb, beta, C, rsC, csC, j0, j1); break;
    case 2: skinny_rows<2>(tb, K, alpha, a, B, ldb, beta, C, rsC, csC, j0, j1); break;
    case 3: skinny_rows<3>(tb, K, alpha, a, B, ldb, beta, C, rsC, csC, j0, j1); break;
    case 4: skinny_rows<4>(tb, K, alpha, a, B, ldb, beta, C, rsC, csC, j0, j1); break;
    default: break;
  }
}

}  // namespace
}  // namespace gemm_detail
}  // namespace tessera
