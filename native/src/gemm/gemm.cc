// SGEMM driver: the GotoBLAS/BLIS loop nest over packed panels, with the micro-kernel chosen at run time
// (AVX-512 14×32, AVX2 6×16, or a portable 4×8). This file is compiled for the baseline ISA; the SIMD
// micro-kernels live in gemm_avx512.cc / gemm_avx2.cc and are reached through function pointers.
//
//   for jc in N by NC:                      B block, shared by all threads
//     for pc in K by KC:
//       pack B[pc:pc+kc, jc:jc+nc] into NR-wide panels (threads take groups of panels)
//       threads take work items, an m-block of ≤ MC rows × a range of the B panels (all of them
//       unless M is short); for each item:
//         pack A[rows, pc:pc+kc] into MR-wide panels (the thread's own buffer)
//         for ir over its MR panels:  for jr over its NR panels:  micro-kernel (C += alpha·A·B)
//
// Packing absorbs the transpositions: a panel is read from A/B through (row stride, k stride), so the
// micro-kernel only ever sees k-major, zero-padded panels. The first K block applies beta (beta == 0
// overwrites C without reading it), later ones accumulate.
#include "gemm/gemm.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>
#include <vector>

#include "gemm/gemm_internal.h"
#include "gemm/gemm_skinny.h"
#include "tessera.h"

namespace tessera {
namespace {

using gemm_detail::MicroKernel;

// ---- portable micro-kernel ---------------------------------------------------------------------

constexpr int kGenericMR = 4;
constexpr int kGenericNR = 8;

void micro_generic(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr, int nr,
                   float alpha, float beta) {
  float acc[kGenericMR][kGenericNR] = {};
  for (int64_t k = 0; k < kc; k++) {
    for (int i = 0; i < kGenericMR; i++) {
      const float av = a[i];
      for (int j = 0; j < kGenericNR; j++) acc[i][j] += av * b[j];
    }
    a += kGenericMR;
    b += kGenericNR;
  }
  for (int i = 0; i < mr; i++) {
    float* cr = c + i * ldc;
    if (beta == 0) {
      for (int j = 0; j < nr; j++) cr[j] = alpha * acc[i][j];
    } else {
      for (int j = 0; j < nr; j++) cr[j] = alpha * acc[i][j] + beta * cr[j];
    }
  }
}

const MicroKernel& micro_kernel() {
  static const MicroKernel k = [] {
    const char* which = isa();
#if defined(__x86_64__)
    if (std::strcmp(which, "avx512") == 0) return gemm_detail::avx512_kernel();
    if (std::strcmp(which, "avx2") == 0) return gemm_detail::avx2_kernel();
#endif
    (void)which;
    return MicroKernel{kGenericMR, kGenericNR, micro_generic};
  }();
  return k;
}

// ---- packing -------------------------------------------------------------------------------------

/**
 * Packs `rows` rows (rows ≤ panels·W) of a kc-long slice into W-wide, k-major panels:
 *   dst[p·kc·W + k·W + r] = src[(p·W + r)·rs + k·ks], zero for rows past `rows`.
 */
template <int W>
void pack_panels(float* dst, const float* src, int64_t rs, int64_t ks, int64_t rows, int64_t kc) {
  for (int64_t r0 = 0; r0 < rows; r0 += W) {
    const int n = rows - r0 < W ? static_cast<int>(rows - r0) : W;
    const float* s = src + r0 * rs;
    float* d = dst + r0 * kc;  // panel p = r0 / W starts at p·W·kc
    if (rs == 1) {
      // Each k step is n contiguous source elements.
      for (int64_t k = 0; k < kc; k++) {
        const float* sk = s + k * ks;
        float* dk = d + k * W;
        for (int r = 0; r < n; r++) dk[r] = sk[r];
        for (int r = n; r < W; r++) dk[r] = 0;
      }
    } else {
      // A transposition: walk k in short blocks so the W written lines stay in L1.
      constexpr int64_t kBlock = 16;
      for (int64_t k0 = 0; k0 < kc; k0 += kBlock) {
        const int64_t k1 = k0 + kBlock < kc ? k0 + kBlock : kc;
        for (int r = 0; r < n; r++) {
          const float* sr = s + r * rs;
          for (int64_t k = k0; k < k1; k++) d[k * W + r] = sr[k * ks];
        }
        if (n < W)
          for (int64_t k = k0; k < k1; k++)
            for (int r = n; r < W; r++) d[k * W + r] = 0;
      }
    }
  }
}

bool use_avx512_pack() {
#if defined(__x86_64__)
  static const bool yes = std::strcmp(isa(), "avx512") == 0;
  return yes;
#else
  return false;
#endif
}

void pack(int width, float* dst, const float* src, int64_t rs, int64_t ks, int64_t rows, int64_t kc) {
#if defined(__x86_64__)
  if (use_avx512_pack() && gemm_detail::pack_avx512(width, dst, src, rs, ks, rows, kc)) return;
#endif
  switch (width) {
    case 32: pack_panels<32>(dst, src, rs, ks, rows, kc); break;
    case 16: pack_panels<16>(dst, src, rs, ks, rows, kc); break;
    case 14: pack_panels<14>(dst, src, rs, ks, rows, kc); break;
    case 8: pack_panels<8>(dst, src, rs, ks, rows, kc); break;
    case 6: pack_panels<6>(dst, src, rs, ks, rows, kc); break;
    case 4: pack_panels<4>(dst, src, rs, ks, rows, kc); break;
    default: fail("sgemm: unsupported panel width");
  }
}

/** A 64-byte aligned float buffer that grows and is reused (one per thread and role). */
struct PackBuffer {
  float* data = nullptr;
  size_t capacity = 0;
  float* get(size_t n) {
    if (n > capacity) {
      std::free(data);
      data = nullptr;
      capacity = 0;
      size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
      data = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!data) throw std::bad_alloc();
      capacity = n;
    }
    return data;
  }
  ~PackBuffer() { std::free(data); }
};

thread_local PackBuffer tl_pack_a;
thread_local PackBuffer tl_pack_b;

// Cache blocking (floats). The MR×KC A panel (14 KiB) stays in L1 while the micro-kernel sweeps the
// B panels of the KC×NC packed B block (1 MiB), which stays in L2; C tiles are visited along a row
// of panels, so each C row is a sequential stream. MC bounds a work item's packed A block. Measured
// on the 2-core AVX-512 machine (loaded, CPU-time normalised): this order beat B-panel-outer with
// NC = 4096 by 5-15% at 1024³ and 2048³ and tied at 256³/512³; KC 192..384 and MC 168..672 tied.
// Re-measured at 1024³ (1 thread, CPU-time normalised): KC 384/512 with NC 512/768, KC 192 and 2 MiB
// transparent huge pages for the packed buffers all tied with these within noise (±3%).
constexpr int64_t kKC = 256;
constexpr int64_t kMCRows = 336;
constexpr int64_t kNC = 1024;

/** Below this many multiply-adds a product runs on one thread. */
constexpr double kParallelMacs = 1 << 20;
/** Below this many multiply-adds a product skips packing. */
constexpr int64_t kSmallMacs = 2048;

void scale_c(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  if (beta == 1) return;
  for (int64_t i = 0; i < M; i++) {
    float* cr = C + i * ldc;
    if (beta == 0)
      for (int64_t j = 0; j < N; j++) cr[j] = 0;
    else
      for (int64_t j = 0; j < N; j++) cr[j] *= beta;
  }
}

void small_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  const int64_t rsA = ta ? 1 : lda, ksA = ta ? lda : 1;
  const int64_t ksB = tb ? 1 : ldb, csB = tb ? ldb : 1;
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      float acc = 0;
      for (int64_t k = 0; k < K; k++) acc += A[i * rsA + k * ksA] * B[k * ksB + j * csB];
      float& c = C[i * ldc + j];
      c = beta == 0 ? alpha * acc : alpha * acc + beta * c;
    }
}

/**
 * Walks the cache lines of a strided source region (`outer` runs of `inner` contiguous floats, `stride`
 * floats apart) and prefetches them into L2, `per_step` lines per step() so that the region is covered
 * in `steps` steps.
 */
struct SourcePrefetch {
  const char* base = nullptr;
  int64_t outer = 0, stride_bytes = 0, lines = 0, per_step = 0, o = 0, l = 0;
  void init(const float* src, int64_t outer_n, int64_t stride, int64_t inner, int64_t steps) {
    const uintptr_t start = reinterpret_cast<uintptr_t>(src);
    base = reinterpret_cast<const char*>(start & ~uintptr_t{63});
    outer = outer_n;
    stride_bytes = stride * static_cast<int64_t>(sizeof(float));
    lines = (static_cast<int64_t>(start & 63) + inner * static_cast<int64_t>(sizeof(float)) + 63) / 64;
    const int64_t total = outer * lines;
    per_step = steps > 0 ? (total + steps - 1) / steps : total;
  }
  void step() {
    for (int64_t n = 0; n < per_step && o < outer; n++) {
      __builtin_prefetch(base + o * stride_bytes + l * 64, 0, 2);
      if (++l == lines) {
        l = 0;
        o++;
      }
    }
  }
};

/** `threads`: the threads that share this product (1 for one of sgemm's column blocks). */
void packed_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* C, int64_t ldc, int threads) {
  const MicroKernel& mk = micro_kernel();
  const int MR = mk.mr, NR = mk.nr;
  // A read as rows i (stride rsA) along k (stride ksA); B read as "rows" j along k.
  const int64_t rsA = ta ? 1 : lda, ksA = ta ? lda : 1;
  const int64_t rsB = tb ? ldb : 1, ksB = tb ? 1 : ldb;
  const int64_t mpanels = (M + MR - 1) / MR;
  const int64_t mc_panels_max = kMCRows / MR > 0 ? kMCRows / MR : 1;

  // Work items: a grid of m-blocks (each packs its own A block) × n-blocks of the packed B block.
  // Threads take items from a shared counter, so a thread the OS delays holds up at most one item.
  // With several threads there are at least two items per thread and the m-blocks come in a multiple
  // of the thread count (even shares on an idle machine); short M splits N instead.
  int64_t mblocks = (mpanels + mc_panels_max - 1) / mc_panels_max;
  const int64_t want = 2 * static_cast<int64_t>(threads);
  if (threads > 1 && mpanels >= want) {
    if (mblocks < want) mblocks = want;
    mblocks = (mblocks + threads - 1) / threads * threads;
    if (mblocks > mpanels) mblocks = mpanels;
  }
  const int64_t max_mcp = (mpanels + mblocks - 1) / mblocks;

  for (int64_t jc = 0; jc < N; jc += kNC) {
    const int64_t nc = N - jc < kNC ? N - jc : kNC;
    const int64_t npanels = (nc + NR - 1) / NR;
    int64_t nblocks = 1;
    if (threads > 1 && mblocks < want) {
      nblocks = (want + mblocks - 1) / mblocks;
      if (nblocks > npanels) nblocks = npanels;
    }
    const int64_t items = mblocks * nblocks;
    for (int64_t pc = 0; pc < K; pc += kKC) {
      const int64_t kc = K - pc < kKC ? K - pc : kKC;
      const float beta_k = pc == 0 ? beta : 1.0f;
      float* bp = tl_pack_b.get(static_cast<size_t>(npanels * NR * kc));
      const float* bsrc = B + jc * rsB + pc * ksB;

      constexpr int64_t kPackPanels = 4;  // B panels per packing item
      const int64_t pack_items = (npanels + kPackPanels - 1) / kPackPanels;
      std::atomic<int64_t> next_pack{0};
      parallel_for(threads < pack_items ? threads : pack_items, 1, [&](int64_t, int64_t) {
        for (int64_t w; (w = next_pack.fetch_add(1, std::memory_order_relaxed)) < pack_items;) {
          const int64_t p0 = w * kPackPanels;
          const int64_t r0 = p0 * NR;
          const int64_t r1 = (p0 + kPackPanels) * NR < nc ? (p0 + kPackPanels) * NR : nc;
          pack(NR, bp + p0 * NR * kc, bsrc + r0 * rsB, rsB, ksB, r1 - r0, kc);
        }
      });

      std::atomic<int64_t> next_item{0};
      parallel_for(threads < items ? threads : items, 1, [&](int64_t, int64_t) {
        float* ap = tl_pack_a.get(static_cast<size_t>(max_mcp * MR * kc));
        for (int64_t w; (w = next_item.fetch_add(1, std::memory_order_relaxed)) < items;) {
          const int64_t mb = w / nblocks, nb = w % nblocks;
          const int64_t ib = mpanels * mb / mblocks, ie = mpanels * (mb + 1) / mblocks;
          const int64_t j0 = npanels * nb / nblocks, j1 = npanels * (nb + 1) / nblocks;
          if (ib >= ie || j0 >= j1) continue;
          const int64_t row0 = ib * MR;
          const int64_t rows = (ie * MR < M ? ie * MR : M) - row0;
          pack(MR, ap, A + row0 * rsA + pc * ksA, rsA, ksA, rows, kc);
          // While computing, pull the source of the A block this thread probably packs next into L2
          // (A usually comes from L3 and its packing is latency-bound), a few lines per kernel call.
          SourcePrefetch pf;
          {
            int64_t wn = w + threads, pcn = pc;
            if (wn >= items) {
              wn -= items;
              pcn += kKC;
            }
            if (pcn < K && wn < items) {
              const int64_t mbn = wn / nblocks;
              const int64_t ibn = mpanels * mbn / mblocks, ien = mpanels * (mbn + 1) / mblocks;
              const int64_t r0n = ibn * MR, rowsn = (ien * MR < M ? ien * MR : M) - r0n;
              const int64_t kcn = K - pcn < kKC ? K - pcn : kKC;
              const float* src = A + r0n * rsA + pcn * ksA;
              if (ksA == 1)
                pf.init(src, rowsn, lda, kcn, (ie - ib) * (j1 - j0));
              else
                pf.init(src, kcn, lda, rowsn, (ie - ib) * (j1 - j0));
            }
          }
          for (int64_t ip = ib; ip < ie; ip++) {
            const int64_t row = ip * MR;
            const int mr = static_cast<int>(M - row < MR ? M - row : MR);
            const float* apanel = ap + (ip - ib) * MR * kc;
            for (int64_t jp = j0; jp < j1; jp++) {
              const int64_t col = jc + jp * NR;
              const int nr = static_cast<int>(nc - jp * NR < NR ? nc - jp * NR : NR);
              pf.step();
              mk.fn(kc, apanel, bp + jp * NR * kc, C + row * ldc + col, ldc, mr, nr, alpha, beta_k);
            }
          }
        }
      });
    }
  }
}

/**
 * C (element (i, j) at C[i·rsC + j·csC]) = alpha·op(A)·op(B) + beta·C for M ≤ 4 rows: the rows of op(A)
 * are gathered densely once, then threads split the columns and stream B directly.
 */
void skinny_gemm(int M, int64_t N, int64_t K, float alpha, const float* A, int64_t rsA, int64_t ksA, bool tb,
                 const float* B, int64_t ldb, float beta, float* C, int64_t rsC, int64_t csC) {
  float* a = tl_pack_a.get(static_cast<size_t>(M * K));
  for (int i = 0; i < M; i++)
    for (int64_t k = 0; k < K; k++) a[i * K + k] = A[i * rsA + k * ksA];
  const char* which = isa();
  const bool use512 = std::strcmp(which, "avx512") == 0, use2 = std::strcmp(which, "avx2") == 0;
  const int64_t per_col = M * K;
  const int64_t grain = per_col >= (1 << 16) ? 16 : ((1 << 16) / per_col + 15) / 16 * 16;
  parallel_for(N, grain, [&](int64_t j0, int64_t j1) {
#if defined(__x86_64__)
    if (use512) return gemm_detail::skinny_avx512(tb, M, K, alpha, a, B, ldb, beta, C, rsC, csC, j0, j1);
    if (use2) return gemm_detail::skinny_avx2(tb, M, K, alpha, a, B, ldb, beta, C, rsC, csC, j0, j1);
#endif
    (void)use512;
    (void)use2;
    gemm_detail::skinny_dispatch(tb, M, K, alpha, a, B, ldb, beta, C, rsC, csC, j0, j1);
  });
}

thread_local PackBuffer tl_split;

/**
 * Long-K products with a small C (a linear layer's weight gradient xᵀ·dy over B·N rows): K is cut into
 * `chunks` slices, each a single-threaded product (chunk 0 into C with beta, the others into partials),
 * then C += the partials in chunk order. The chunk count depends on the shape only, so the result does
 * not depend on the thread count. Sharing each KC block instead left 4-8 work items between barriers
 * per 256 k steps.
 */
void split_k_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, int64_t chunks, float alpha, const float* A,
                  int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc, int threads) {
  const int64_t ksA = ta ? lda : 1, ksB = tb ? 1 : ldb;
  float* part = tl_split.get(static_cast<size_t>((chunks - 1) * M * N));
  // Chunk edges on multiples of KC, so every chunk but the last packs whole KC blocks.
  const auto edge = [&](int64_t c) { return c == chunks ? K : K * c / chunks / kKC * kKC; };
  std::atomic<int64_t> next{0};
  parallel_for(threads < chunks ? threads : chunks, 1, [&](int64_t, int64_t) {
    for (int64_t c; (c = next.fetch_add(1, std::memory_order_relaxed)) < chunks;) {
      const int64_t k0 = edge(c), k1 = edge(c + 1);
      float* dst = c == 0 ? C : part + (c - 1) * M * N;
      packed_gemm(ta, tb, M, N, k1 - k0, alpha, A + k0 * ksA, lda, B + k0 * ksB, ldb, c == 0 ? beta : 0.0f, dst,
                  c == 0 ? ldc : N, 1);
    }
  });
  parallel_for(M, 16, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) {
      float* cr = C + i * ldc;
      for (int64_t c = 1; c < chunks; c++) {
        const float* pr = part + (c - 1) * M * N + i * N;
        for (int64_t j = 0; j < N; j++) cr[j] += pr[j];
      }
    }
  });
}

/** K slices for split_k_gemm (shape-only), or 1 where sharing KC blocks keeps the threads busy. */
int64_t split_k_chunks(int64_t M, int64_t N, int64_t K) {
  if (M * N > 512 * 512 || K < 4 * (M > N ? M : N) || K < 8 * kKC) return 1;
  const int64_t c = 2 * (K / (12 * kKC));  // even, for two threads; slices of 6 to 12 KC blocks
  return c < 2 ? 2 : c > 8 ? 8 : c;
}

}  // namespace

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  if (M * N * K <= kSmallMacs) {
    small_gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  if (M <= gemm_detail::kSkinnyMaxRows) {
    skinny_gemm(static_cast<int>(M), N, K, alpha, A, trans_a ? 1 : lda, trans_a ? lda : 1, trans_b, B, ldb, beta, C,
                ldc, 1);
    return;
  }
  if (N <= gemm_detail::kSkinnyMaxRows) {
    // Cᵀ = op(B)ᵀ·op(A)ᵀ: the rows of op(B)ᵀ are B's columns (or rows when transposed), and op(A)ᵀ
    // read as [K, M] is A itself with the transposition flag flipped.
    skinny_gemm(static_cast<int>(N), M, K, alpha, B, trans_b ? ldb : 1, trans_b ? 1 : ldb, !trans_a, A, lda, beta, C,
                1, ldc);
    return;
  }
  const int threads = static_cast<double>(M) * N * K >= kParallelMacs ? num_threads() : 1;
  if (const int64_t chunks = split_k_chunks(M, N, K); chunks > 1) {
    split_k_gemm(trans_a, trans_b, M, N, K, chunks, alpha, A, lda, B, ldb, beta, C, ldc, threads);
    return;
  }
  // With at least one NC-wide column block per thread, the threads take whole column blocks, each a
  // single-threaded product with its own packed B block in its own L2 and no barriers: A is packed
  // once per column block either way. Measured on the 2-core machine (idle), 2 threads: 2048³
  // ~295 -> ~313 GFLOP/s, 1536³ +1-4%; at 1024³ (which would pack A twice) it tied and 512³ lost, so
  // narrower products share each B block between the threads.
  // The blocks come in a multiple of the thread count: N = 3072 as 3 blocks on 2 threads left one
  // thread idle for a third of the product (ViT-B's fc1 and qkv at M = 1576, 2 cores: 236 -> 310
  // GFLOP/s).
  int64_t cblocks = (N + kNC - 1) / kNC;
  if (threads > 1 && cblocks >= threads) {
    cblocks = (cblocks + threads - 1) / threads * threads;
    std::atomic<int64_t> next{0};
    parallel_for(threads, 1, [&](int64_t, int64_t) {
      for (int64_t w; (w = next.fetch_add(1, std::memory_order_relaxed)) < cblocks;) {
        // Even blocks, their edges on multiples of 32 columns (the widest NR).
        const int64_t j0 = w == 0 ? 0 : N * w / cblocks / 32 * 32;
        const int64_t j1 = w + 1 == cblocks ? N : N * (w + 1) / cblocks / 32 * 32;
        if (j0 >= j1) continue;
        packed_gemm(trans_a, trans_b, M, j1 - j0, K, alpha, A, lda, B + j0 * (trans_b ? ldb : 1), ldb, beta, C + j0,
                    ldc, 1);
      }
    });
    return;
  }
  // Otherwise the threads share each packed B block and take work items from a counter. Static
  // row shares (each thread a single-threaded product packing its own B) measured 3-5% faster on an
  // idle machine but were not robust: in the bench, right after backend-js's runs left V8's
  // background threads busy, 1024³ on 2 threads fell to 247-264 GFLOP/s against 287-295 here.
  packed_gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, threads);
}

namespace {

/** Flops of one FMA loop call of `iters` iterations on the current ISA. */
double fma_loop(int64_t iters) {
  const char* which = isa();
#if defined(__x86_64__)
  if (std::strcmp(which, "avx512") == 0) return gemm_detail::fma_loop_avx512(iters);
  if (std::strcmp(which, "avx2") == 0) return gemm_detail::fma_loop_avx2(iters);
#endif
  (void)which;
  // Scalar: 8 independent multiply-add chains (no FMA instruction in the baseline ISA).
  float acc[8];
  for (int i = 0; i < 8; i++) acc[i] = 0.001f * static_cast<float>(i + 1);
  const float m = 0.99999994f, add = 1e-7f;
  for (int64_t it = 0; it < iters; it++)
    for (int i = 0; i < 8; i++) acc[i] = acc[i] * m + add;
  volatile float sink = acc[0] + acc[1] + acc[2] + acc[3] + acc[4] + acc[5] + acc[6] + acc[7];
  (void)sink;
  return static_cast<double>(iters) * 8 * 2;
}

}  // namespace

double fma_peak_gflops(int threads, double seconds) {
  if (threads < 1) threads = 1;
  if (threads > 1024) threads = 1024;
  if (!(seconds > 0)) seconds = 0.1;
  if (seconds > 10) seconds = 10;
  using Clock = std::chrono::steady_clock;
  constexpr int64_t kIters = 1 << 16;
  fma_loop(kIters);  // warm up (clock ramp, AVX-512 licence)
  std::vector<double> flops(static_cast<size_t>(threads), 0.0);
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration<double>(seconds);
  auto body = [&](int t) {
    double f = 0;
    do f += fma_loop(kIters);
    while (Clock::now() < deadline);
    flops[static_cast<size_t>(t)] = f;
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; t++) pool.emplace_back(body, t);
  body(0);
  for (auto& th : pool) th.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  double total = 0;
  for (double f : flops) total += f;
  return elapsed > 0 ? total / elapsed / 1e9 : 0;
}

}  // namespace tessera
