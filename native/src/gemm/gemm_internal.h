// Internal interface between the GEMM driver (gemm.cc, baseline ISA) and the ISA-specific files
// (gemm_avx2.cc, gemm_avx512.cc). Only plain functions cross this boundary: the ISA files use no
// standard-library templates, so no inline function compiled with AVX flags can be picked by the
// linker for baseline code.
#pragma once

#include <cstdint>

namespace tessera {
namespace gemm_detail {

/**
 * The micro-kernel: acc[mr×nr] = Σ_k a[k·MR + i]·b[k·NR + j] over kc steps of packed panels (a is an
 * MR-wide panel, b an NR-wide panel, both zero-padded), then
 *   C[i,j] = alpha·acc + (beta == 0 ? 0 : beta·C[i,j])   for i < mr, j < nr (C row stride ldc).
 * beta == 0 never reads C.
 */
using MicroFn = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr, int nr,
                         float alpha, float beta);

struct MicroKernel {
  int mr;
  int nr;
  MicroFn fn;
};

#if defined(__x86_64__)
MicroKernel avx512_kernel();
MicroKernel avx2_kernel();
/** Runs `iters` iterations of a register-resident FMA loop; returns the floating-point operations done. */
double fma_loop_avx512(int64_t iters);
/** AVX-512 version of gemm.cc's pack_panels (widths ≤ 32, one of the strides 1); false if it does not apply. */
bool pack_avx512(int width, float* dst, const float* src, int64_t rs, int64_t ks, int64_t rows, int64_t kc);
double fma_loop_avx2(int64_t iters);
/** gemm_skinny.h's skinny_dispatch compiled for AVX-512 / AVX2 (M ≤ 4 rows packed densely in `a`). */
void skinny_avx512(bool tb, int M, int64_t K, float alpha, const float* a, const float* B, int64_t ldb, float beta,
                   float* C, int64_t rsC, int64_t csC, int64_t j0, int64_t j1);
void skinny_avx2(bool tb, int M, int64_t K, float alpha, const float* a, const float* B, int64_t ldb, float beta,
                 float* C, int64_t rsC, int64_t csC, int64_t j0, int64_t j1);
#endif

}  // namespace gemm_detail
}  // namespace tessera
