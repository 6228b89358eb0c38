// The cuda device's own matrix products behind cuda::gemm (gemm.cuh), and the choice between them and
// cuBLAS (cublas.cu, loaded at run time when present).
//
//   float16/bfloat16  tensor cores (mma.sync m16n8k16, f32 accumulators); tiles stream through shared
//                     memory with cp.async in a 3-stage ring and reach the tensor cores with ldmatrix
//                     (.trans for the operands whose K is not contiguous, so all four transpose
//                     combinations read their operands in place).
//   float32           register-tiled SIMT SGEMM, or TF32 tensor cores (mma m16n8k8) when tf32_enabled().
//
// Each has a 128×128 tile for large products and a 64×64 tile for small, skinny or few-tile ones (the
// 64×64 heads of attention, a linear layer on a handful of rows), so that the grid fills the GPU.
// Edges are zero-filled at load time and masked at the store, so M, N and K are arbitrary. The half
// kernels copy 16-byte chunks only when every row of a tile starts 16-byte aligned; otherwise they
// stage element by element (same pipeline, plain loads).
#include <algorithm>
#include <cstdint>
#include <string>

#include "gemm.cuh"

namespace tessera {
namespace cuda {
// cublas.cu: queues g on cuBLAS and returns true when cuBLAS is loaded, enabled and takes g.
bool cublas_gemm(const Gemm& g);
}  // namespace cuda

namespace {

using cuda::Gemm;

// ---- shared parameters ----------------------------------------------------------------------------

struct Params {
  const void* A;
  const void* B;
  void* C;
  int64_t M, N, K;
  int64_t lda, ldb, ldc;
  int64_t sA, sB, sC;  // batch strides in elements
  int64_t batch;
  int64_t tilesM, tilesN;
  float alpha, beta;
  bool c_f32;  // C is float32 (else the A/B dtype)
};

/**
 * The block's tile (tm, tn) from blockIdx.x. Tiles are visited in column strips of kGroup tile rows so
 * that blocks running together share A rows and B columns in L2.
 */
__device__ inline void tile_of_block(const Params& p, int64_t& tm, int64_t& tn) {
  constexpr int64_t kGroup = 8;
  const int64_t tile = blockIdx.x;
  const int64_t per_group = kGroup * p.tilesN;
  const int64_t first_m = tile / per_group * kGroup;
  const int64_t rows = min(p.tilesM - first_m, kGroup);
  const int64_t local = tile % per_group;
  tm = first_m + local % rows;
  tn = local / rows;
}

/**
 * Where a warp (or thread) writes its results: C's element (row0, col0) of batch entry b, with the
 * extent left in M and N from there, so that the unrolled stores need only small local offsets.
 */
template <typename TC>
struct Out {
  TC* c;
  int64_t ldc, rows, cols;
  float alpha, beta;

  __device__ Out(const Params& p, int64_t b, int64_t row0, int64_t col0)
      : c(static_cast<TC*>(p.C) + b * p.sC + row0 * p.ldc + col0),
        ldc(p.ldc),
        rows(p.M - row0),
        cols(p.N - col0),
        alpha(p.alpha),
        beta(p.beta) {}

  /** Stores results (r, j) and (r, j + 1); beta == 0 never reads C (it may hold NaN). */
  __device__ void pair(int r, int j, float v0, float v1) const {
    if (r >= rows || j >= cols) return;
    TC* q = c + r * ldc + j;
    v0 *= alpha;
    v1 *= alpha;
    if (j + 1 < cols) {
      if (beta != 0.f) {
        v0 += beta * Num<TC>::load(q[0]);
        v1 += beta * Num<TC>::load(q[1]);
      }
      store2(q, v0, v1);
    } else {
      if (beta != 0.f) v0 += beta * Num<TC>::load(q[0]);
      q[0] = Num<TC>::store(v0);
    }
  }

  __device__ static void store2(float* q, float v0, float v1) {
    if ((reinterpret_cast<uintptr_t>(q) & 7) == 0)
      *reinterpret_cast<float2*>(q) = make_float2(v0, v1);
    else
      q[0] = v0, q[1] = v1;
  }
  template <typename H>
  __device__ static void store2(H* q, float v0, float v1) {
    q[0] = Num<H>::store(v0);
    q[1] = Num<H>::store(v1);
  }
};

/** The m16n8 accumulators of one warp: c0,c1 at (g, 2t..2t+1), c2,c3 at (g+8, 2t..2t+1) of each tile. */
template <int MI, int NI, typename TC>
__device__ inline void store_warp_tile(const Out<TC>& out, const float (&acc)[MI][NI][4], int lane) {
  const int g = lane >> 2, t = lane & 3;
#pragma unroll
  for (int mi = 0; mi < MI; mi++)
#pragma unroll
    for (int ni = 0; ni < NI; ni++) {
      out.pair(mi * 16 + g, ni * 8 + 2 * t, acc[mi][ni][0], acc[mi][ni][1]);
      out.pair(mi * 16 + g + 8, ni * 8 + 2 * t, acc[mi][ni][2], acc[mi][ni][3]);
    }
}

// ---- PTX -----------------------------------------------------------------------------------------

__device__ inline uint32_t smem_u32(const void* p) { return static_cast<uint32_t>(__cvta_generic_to_shared(p)); }

/** 16-byte global→shared copy; bytes past src_bytes (0..16) are zero-filled. */
__device__ inline void cp_async16(void* dst, const void* src, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_u32(dst)), "l"(src), "r"(src_bytes)
               : "memory");
}
__device__ inline void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N>
__device__ inline void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

__device__ inline void ldmatrix_x4(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_u32(p))
               : "memory");
}
__device__ inline void ldmatrix_x4_trans(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_u32(p))
               : "memory");
}

template <typename T>
__device__ inline void mma16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1);
template <>
__device__ inline void mma16816<__half>(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <>
__device__ inline void mma16816<__nv_bfloat16>(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ inline void mma1688_tf32(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/** Rounds to TF32 (nearest, ties away) once, when staged, rather than at every fragment load. */
__device__ inline float to_tf32(float x) {
  uint32_t u;
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(u) : "f"(x));
  return __uint_as_float(u);
}

// ---- float16 / bfloat16: tensor cores --------------------------------------------------------------

/**
 * Copies rows [r0, r0 + ROWS) × columns [c0, c0 + COLS) of a row-major global matrix (row stride ld,
 * rlim × clim valid) into a shared tile with row stride LD, zero-filling what lies outside. 16-bit
 * elements move as raw bits. VEC: 16-byte cp.async chunks (every chunk start is 16-byte aligned).
 * THREADS is a multiple of a row's chunks (elements), so each thread keeps one column and steps down
 * rows: one pointer and one stride per thread instead of an address per chunk.
 */
template <int ROWS, int COLS, int LD, int THREADS, bool VEC>
__device__ inline void stage_tile(uint16_t* s, const uint16_t* g, int64_t ld, int64_t r0, int64_t c0, int64_t rlim,
                                  int64_t clim, int tid) {
  constexpr int kPerRow = VEC ? COLS / 8 : COLS;  // chunks (elements) per row
  constexpr int kWidth = VEC ? 8 : 1;
  static_assert(THREADS % kPerRow == 0 && (ROWS * kPerRow) % THREADS == 0, "tile must split evenly");
  constexpr int kRowStep = THREADS / kPerRow;
  constexpr int kCount = ROWS * kPerRow / THREADS;
  const int r = tid / kPerRow, cc = tid % kPerRow * kWidth;
  const int64_t gc = c0 + cc;
  const int64_t left = clim - gc;  // valid elements from this thread's column on
  const int64_t gr = r0 + r;
  const uint16_t* src = g + gr * ld + gc;
  uint16_t* dst = s + r * LD + cc;
  // The element-wise path holds 16 loads in flight per operand; unrolling it fully would keep 16
  // 64-bit addresses live beside the accumulators.
#pragma unroll(VEC ? kCount : 4)
  for (int i = 0; i < kCount; i++) {
    const bool row_ok = gr + i * kRowStep < rlim;
    if constexpr (VEC) {
      const int bytes = row_ok && left > 0 ? (left >= 8 ? 16 : static_cast<int>(left) * 2) : 0;
      // Nothing is read when bytes is 0, but the address must still be a valid one.
      cp_async16(dst + i * kRowStep * LD, bytes ? src + i * kRowStep * ld : g, bytes);
    } else {
      dst[i * kRowStep * LD] = row_ok && left > 0 ? __ldg(src + i * kRowStep * ld) : uint16_t{0};
    }
  }
}

/**
 * One BM×BN tile of C per block, WARPS_M×WARPS_N warps each holding a (BM/WARPS_M)×(BN/WARPS_N) block of
 * f32 accumulators. Shared tiles keep each operand as it is stored: A as [BM][BK] (or [BK][BM] when
 * transA), B as [BK][BN] (or [BN][BK] when transB), rows padded by 8 halves so that the eight 16-byte
 * rows one ldmatrix phase reads fall in distinct banks.
 */
template <typename T, int BM, int BN, int BK, int WARPS_M, int WARPS_N, int STAGES, bool TA, bool TB, bool VEC>
struct TcConfig {
  static constexpr int kThreads = WARPS_M * WARPS_N * 32;
  static constexpr int kPad = 8;
  static constexpr int kARows = TA ? BK : BM, kACols = TA ? BM : BK;
  static constexpr int kBRows = TB ? BN : BK, kBCols = TB ? BK : BN;
  static constexpr int kALd = kACols + kPad, kBLd = kBCols + kPad;
  static constexpr int kAStage = kARows * kALd, kBStage = kBRows * kBLd;
  static constexpr size_t kSmem = static_cast<size_t>(STAGES) * (kAStage + kBStage) * sizeof(uint16_t);
};

template <typename T, int BM, int BN, int BK, int WARPS_M, int WARPS_N, int STAGES, bool TA, bool TB, bool VEC>
__global__ void __launch_bounds__(WARPS_M* WARPS_N * 32, 512 / (WARPS_M * WARPS_N * 32)) tc_gemm_kernel(Params p) {
  using Cfg = TcConfig<T, BM, BN, BK, WARPS_M, WARPS_N, STAGES, TA, TB, VEC>;
  constexpr int kThreads = Cfg::kThreads;
  constexpr int WM = BM / WARPS_M, WN = BN / WARPS_N;
  constexpr int MI = WM / 16, NI = WN / 8;
  static_assert(WM % 16 == 0 && WN % 16 == 0 && BK % 16 == 0, "tile shape");
  constexpr int kALd = Cfg::kALd, kBLd = Cfg::kBLd;

  extern __shared__ __align__(16) unsigned char smem_raw[];
  uint16_t* As = reinterpret_cast<uint16_t*>(smem_raw);
  uint16_t* Bs = As + STAGES * Cfg::kAStage;

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int wm = warp / WARPS_N, wn = warp % WARPS_N;
  int64_t tm, tn;
  tile_of_block(p, tm, tn);
  const int64_t m0 = tm * BM, n0 = tn * BN;
  const int64_t M = p.M, N = p.N, K = p.K;
  const int ktiles = static_cast<int>((K + BK - 1) / BK);

  for (int64_t b = blockIdx.y; b < p.batch; b += gridDim.y) {
    const uint16_t* A = static_cast<const uint16_t*>(p.A) + b * p.sA;
    const uint16_t* B = static_cast<const uint16_t*>(p.B) + b * p.sB;

    auto stage_k = [&](int slot, int64_t kt) {
      const int64_t k0 = kt * BK;
      uint16_t* as = As + slot * Cfg::kAStage;
      uint16_t* bs = Bs + slot * Cfg::kBStage;
      if constexpr (TA)
        stage_tile<BK, BM, kALd, kThreads, VEC>(as, A, p.lda, k0, m0, K, M, tid);
      else
        stage_tile<BM, BK, kALd, kThreads, VEC>(as, A, p.lda, m0, k0, M, K, tid);
      if constexpr (TB)
        stage_tile<BN, BK, kBLd, kThreads, VEC>(bs, B, p.ldb, n0, k0, N, K, tid);
      else
        stage_tile<BK, BN, kBLd, kThreads, VEC>(bs, B, p.ldb, k0, n0, K, N, tid);
    };

    float acc[MI][NI][4];
#pragma unroll
    for (int i = 0; i < MI; i++)
#pragma unroll
      for (int j = 0; j < NI; j++) acc[i][j][0] = acc[i][j][1] = acc[i][j][2] = acc[i][j][3] = 0.f;

    // Prologue: STAGES-1 tiles in flight (one commit group each, empty past the end).
#pragma unroll
    for (int s = 0; s < STAGES - 1; s++) {
      if (s < ktiles) stage_k(s, s);
      cp_async_commit();
    }

    for (int kt = 0; kt < ktiles; kt++) {
      // Groups committed so far: STAGES-1+kt; tile kt's is complete once at most STAGES-2 are pending.
      cp_async_wait<STAGES - 2>();
      __syncthreads();  // tile kt visible to all; every warp is done reading slot (kt-1) % STAGES
      {
        const int next = kt + STAGES - 1;
        if (next < ktiles) stage_k(next % STAGES, next);
        cp_async_commit();
      }
      const int slot = kt % STAGES;
      const uint16_t* as = As + slot * Cfg::kAStage;
      const uint16_t* bs = Bs + slot * Cfg::kBStage;
#pragma unroll 1
      for (int kk = 0; kk < BK / 16; kk++) {
        uint32_t af[MI][4];
        uint32_t bf[NI][2];
        // ldmatrix x4: lanes 8j..8j+7 address the rows of 8×8 matrix j. A's fragment wants matrices
        // (m0-7,k0-7), (m8-15,k0-7), (m0-7,k8-15), (m8-15,k8-15); B's (per pair of n8 tiles)
        // (n0-7,k0-7), (n0-7,k8-15), (n8-15,k0-7), (n8-15,k8-15). A stored k-major or B stored
        // n-major is read transposed.
#pragma unroll
        for (int mi = 0; mi < MI; mi++) {
          if constexpr (!TA) {
            const int r = wm * WM + mi * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
            const int c = kk * 16 + (lane >> 4) * 8;
            ldmatrix_x4(af[mi], as + r * kALd + c);
          } else {
            const int k = kk * 16 + (lane & 7) + (lane >> 4) * 8;
            const int m = wm * WM + mi * 16 + ((lane >> 3) & 1) * 8;
            ldmatrix_x4_trans(af[mi], as + k * kALd + m);
          }
        }
#pragma unroll
        for (int nj = 0; nj < NI / 2; nj++) {
          uint32_t r4[4];
          if constexpr (TB) {
            const int n = wn * WN + nj * 16 + (lane & 7) + (lane >> 4) * 8;
            const int k = kk * 16 + ((lane >> 3) & 1) * 8;
            ldmatrix_x4(r4, bs + n * kBLd + k);
          } else {
            const int k = kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
            const int n = wn * WN + nj * 16 + (lane >> 4) * 8;
            ldmatrix_x4_trans(r4, bs + k * kBLd + n);
          }
          bf[2 * nj][0] = r4[0];
          bf[2 * nj][1] = r4[1];
          bf[2 * nj + 1][0] = r4[2];
          bf[2 * nj + 1][1] = r4[3];
        }
#pragma unroll
        for (int mi = 0; mi < MI; mi++)
#pragma unroll
          for (int ni = 0; ni < NI; ni++) mma16816<T>(acc[mi][ni], af[mi], bf[ni][0], bf[ni][1]);
      }
    }
    cp_async_wait<0>();

    // Accumulator layout of m16n8: c0,c1 at (g, 2t..2t+1), c2,c3 at (g+8, 2t..2t+1).
    if (p.c_f32)
      store_warp_tile<MI, NI>(Out<float>(p, b, m0 + wm * WM, n0 + wn * WN), acc, lane);
    else
      store_warp_tile<MI, NI>(Out<T>(p, b, m0 + wm * WM, n0 + wn * WN), acc, lane);
    __syncthreads();  // the next batch entry refills the shared ring
  }
}

// ---- float32: TF32 tensor cores ---------------------------------------------------------------------

/**
 * Register-staged loads of a ROWS×BK slice of op(X) (rows r0.., k k0..), element e of the slice going to
 * thread e % THREADS. KCONTIG: X is stored ROWS-dim × K (k contiguous), else K × ROWS-dim. Consecutive
 * threads walk the contiguous dimension, so the loads coalesce either way, and each thread keeps one
 * position along it (one pointer and one stride per thread).
 */
template <int ROWS, int BK, int THREADS, bool KCONTIG>
struct Slice {
  static constexpr int kCount = ROWS * BK / THREADS;
  static constexpr int kInner = KCONTIG ? BK : ROWS;  // the contiguous extent
  static constexpr int kStep = THREADS / kInner;      // outer-index step between a thread's elements
  static_assert(ROWS * BK % THREADS == 0 && THREADS % kInner == 0, "slice must split evenly over the block");

  /** Element i of thread tid: row r of the slice, column k. */
  __device__ static void coords(int tid, int i, int& r, int& k) {
    if constexpr (KCONTIG) {
      r = tid / BK + i * kStep;
      k = tid % BK;
    } else {
      r = tid % ROWS;
      k = tid / ROWS + i * kStep;
    }
  }
  __device__ static void fetch(float (&v)[kCount], const float* X, int64_t ld, int64_t r0, int64_t k0, int64_t rlim,
                               int64_t K, int tid) {
    int r, k;
    coords(tid, 0, r, k);
    const int64_t gr = r0 + r, gk = k0 + k;
    const float* src = KCONTIG ? X + gr * ld + gk : X + gk * ld + gr;
#pragma unroll
    for (int i = 0; i < kCount; i++) {
      const bool ok = KCONTIG ? gr + i * kStep < rlim && gk < K : gr < rlim && gk + i * kStep < K;
      v[i] = ok ? __ldg(src + i * kStep * ld) : 0.f;
    }
  }
};

template <int BM, int BN, int WARPS_M, int WARPS_N, bool TA, bool TB>
__global__ void __launch_bounds__(WARPS_M* WARPS_N * 32, 512 / (WARPS_M * WARPS_N * 32)) tf32_gemm_kernel(Params p) {
  constexpr int kThreads = WARPS_M * WARPS_N * 32;
  constexpr int BK = 16;
  constexpr int kLd = BK + 4;  // row stride 20 floats: a fragment's 8 rows × 4 columns hit 32 banks
  constexpr int WM = BM / WARPS_M, WN = BN / WARPS_N;
  constexpr int MI = WM / 16, NI = WN / 8;
  using SA = Slice<BM, BK, kThreads, !TA>;
  using SB = Slice<BN, BK, kThreads, TB>;

  // Both operands k-contiguous in shared memory ([rows][k]), already rounded to TF32.
  __shared__ __align__(16) float As[2][BM * kLd];
  __shared__ __align__(16) float Bs[2][BN * kLd];

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int wm = warp / WARPS_N, wn = warp % WARPS_N;
  const int g = lane >> 2, t = lane & 3;
  int64_t tm, tn;
  tile_of_block(p, tm, tn);
  const int64_t m0 = tm * BM, n0 = tn * BN;
  const int ktiles = static_cast<int>((p.K + BK - 1) / BK);

  for (int64_t b = blockIdx.y; b < p.batch; b += gridDim.y) {
    const float* A = static_cast<const float*>(p.A) + b * p.sA;
    const float* B = static_cast<const float*>(p.B) + b * p.sB;
    float va[SA::kCount], vb[SB::kCount];
    auto stash = [&](int buf) {
#pragma unroll
      for (int i = 0; i < SA::kCount; i++) {
        int r, k;
        SA::coords(tid, i, r, k);
        As[buf][r * kLd + k] = to_tf32(va[i]);
      }
#pragma unroll
      for (int i = 0; i < SB::kCount; i++) {
        int r, k;
        SB::coords(tid, i, r, k);
        Bs[buf][r * kLd + k] = to_tf32(vb[i]);
      }
    };

    float acc[MI][NI][4];
#pragma unroll
    for (int i = 0; i < MI; i++)
#pragma unroll
      for (int j = 0; j < NI; j++) acc[i][j][0] = acc[i][j][1] = acc[i][j][2] = acc[i][j][3] = 0.f;

    SA::fetch(va, A, p.lda, m0, 0, p.M, p.K, tid);
    SB::fetch(vb, B, p.ldb, n0, 0, p.N, p.K, tid);
    stash(0);
    __syncthreads();

    for (int kt = 0; kt < ktiles; kt++) {
      const int cur = kt & 1;
      const bool more = kt + 1 < ktiles;
      if (more) {  // next slice's global loads overlap this slice's math
        SA::fetch(va, A, p.lda, m0, (kt + 1) * BK, p.M, p.K, tid);
        SB::fetch(vb, B, p.ldb, n0, (kt + 1) * BK, p.N, p.K, tid);
      }
      const float* as = As[cur];
      const float* bs = Bs[cur];
#pragma unroll 1
      for (int ks = 0; ks < BK / 8; ks++) {
        // m16n8k8 tf32: a0 (g, t), a1 (g+8, t), a2 (g, t+4), a3 (g+8, t+4); b0 (k t, n g), b1 (k t+4, n g).
        uint32_t af[MI][4], bf[NI][2];
#pragma unroll
        for (int mi = 0; mi < MI; mi++) {
          const float* a = as + (wm * WM + mi * 16 + g) * kLd + ks * 8 + t;
          af[mi][0] = __float_as_uint(a[0]);
          af[mi][1] = __float_as_uint(a[8 * kLd]);
          af[mi][2] = __float_as_uint(a[4]);
          af[mi][3] = __float_as_uint(a[8 * kLd + 4]);
        }
#pragma unroll
        for (int ni = 0; ni < NI; ni++) {
          const float* bp = bs + (wn * WN + ni * 8 + g) * kLd + ks * 8 + t;
          bf[ni][0] = __float_as_uint(bp[0]);
          bf[ni][1] = __float_as_uint(bp[4]);
        }
#pragma unroll
        for (int mi = 0; mi < MI; mi++)
#pragma unroll
          for (int ni = 0; ni < NI; ni++) mma1688_tf32(acc[mi][ni], af[mi], bf[ni][0], bf[ni][1]);
      }
      // The other buffer was last read in iteration kt-1, before the barrier that ended it.
      if (more) stash(cur ^ 1);
      __syncthreads();
    }

    store_warp_tile<MI, NI>(Out<float>(p, b, m0 + wm * WM, n0 + wn * WN), acc, lane);
  }
}

// ---- float32: SIMT ----------------------------------------------------------------------------------

/**
 * Classic register-tiled SGEMM: each thread owns TM×TN results as (TM/4)×(TN/4) blocks of 4×4 spread
 * BM/(TM/4) rows and BN/(TN/4) columns apart, so that its float4 reads of a shared k-row are
 * conflict-free across the warp. Shared tiles are k-major ([k][m], [k][n], rows padded by 4), double
 * buffered; the next slice's global loads sit in registers while the current one is multiplied.
 */
template <int BM, int BN, int TM, int TN, bool TA, bool TB>
__global__ void __launch_bounds__((BM / TM) * (BN / TN), 2) sgemm_kernel(Params p) {
  constexpr int BK = 8;
  constexpr int TX = BN / TN, TY = BM / TM;
  constexpr int kThreads = TX * TY;
  constexpr int RM = TM / 4, RN = TN / 4;
  constexpr int kALd = BM + 4, kBLd = BN + 4;
  using SA = Slice<BM, BK, kThreads, !TA>;
  using SB = Slice<BN, BK, kThreads, TB>;

  __shared__ __align__(16) float As[2][BK * kALd];
  __shared__ __align__(16) float Bs[2][BK * kBLd];

  const int tid = threadIdx.x;
  const int tx = tid % TX, ty = tid / TX;
  int64_t tm, tn;
  tile_of_block(p, tm, tn);
  const int64_t m0 = tm * BM, n0 = tn * BN;
  const int ktiles = static_cast<int>((p.K + BK - 1) / BK);

  for (int64_t b = blockIdx.y; b < p.batch; b += gridDim.y) {
    const float* A = static_cast<const float*>(p.A) + b * p.sA;
    const float* B = static_cast<const float*>(p.B) + b * p.sB;
    float va[SA::kCount], vb[SB::kCount];
    auto stash = [&](int buf) {
#pragma unroll
      for (int i = 0; i < SA::kCount; i++) {
        int r, k;
        SA::coords(tid, i, r, k);
        As[buf][k * kALd + r] = va[i];
      }
#pragma unroll
      for (int i = 0; i < SB::kCount; i++) {
        int r, k;
        SB::coords(tid, i, r, k);
        Bs[buf][k * kBLd + r] = vb[i];
      }
    };

    float acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; i++)
#pragma unroll
      for (int j = 0; j < TN; j++) acc[i][j] = 0.f;

    SA::fetch(va, A, p.lda, m0, 0, p.M, p.K, tid);
    SB::fetch(vb, B, p.ldb, n0, 0, p.N, p.K, tid);
    stash(0);
    __syncthreads();

    for (int kt = 0; kt < ktiles; kt++) {
      const int cur = kt & 1;
      const bool more = kt + 1 < ktiles;
      if (more) {
        SA::fetch(va, A, p.lda, m0, (kt + 1) * BK, p.M, p.K, tid);
        SB::fetch(vb, B, p.ldb, n0, (kt + 1) * BK, p.N, p.K, tid);
      }
      // Two k steps at a time: a full unroll lets the scheduler hoist every step's shared loads and
      // needs ~200 registers (one block per SM).
#pragma unroll 2
      for (int k = 0; k < BK; k++) {
        float a[TM], bv[TN];
#pragma unroll
        for (int i = 0; i < RM; i++) {
          const float4 v = *reinterpret_cast<const float4*>(&As[cur][k * kALd + i * (BM / RM) + ty * 4]);
          a[4 * i] = v.x, a[4 * i + 1] = v.y, a[4 * i + 2] = v.z, a[4 * i + 3] = v.w;
        }
#pragma unroll
        for (int j = 0; j < RN; j++) {
          const float4 v = *reinterpret_cast<const float4*>(&Bs[cur][k * kBLd + j * (BN / RN) + tx * 4]);
          bv[4 * j] = v.x, bv[4 * j + 1] = v.y, bv[4 * j + 2] = v.z, bv[4 * j + 3] = v.w;
        }
#pragma unroll
        for (int i = 0; i < TM; i++)
#pragma unroll
          for (int j = 0; j < TN; j++) acc[i][j] = fmaf(a[i], bv[j], acc[i][j]);
      }
      if (more) stash(cur ^ 1);
      __syncthreads();
    }

    const Out<float> out(p, b, m0 + ty * 4, n0 + tx * 4);
#pragma unroll
    for (int i = 0; i < TM; i++)
#pragma unroll
      for (int j = 0; j < TN; j += 2)
        out.pair((i / 4) * (BM / RM) + i % 4, (j / 4) * (BN / RN) + j % 4, acc[i][j], acc[i][j + 1]);
  }
}

// ---- C = beta·C when there is nothing to multiply (K == 0) ------------------------------------------

template <typename TC>
__global__ void scale_c_kernel(TC* C, int64_t M, int64_t N, int64_t ldc, int64_t sC, int64_t batch, float beta) {
  const int64_t total = batch * M * N;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t b = i / (M * N), r = i % (M * N) / N, c = i % N;
    TC* p = C + b * sC + r * ldc + c;
    *p = Num<TC>::store(beta == 0.f ? 0.f : beta * Num<TC>::load(*p));
  }
}

// ---- host side --------------------------------------------------------------------------------------

Params params_of(const Gemm& g, int64_t BM, int64_t BN) {
  Params p{};
  p.A = g.A;
  p.B = g.B;
  p.C = g.C;
  p.M = g.M;
  p.N = g.N;
  p.K = g.K;
  p.lda = g.lda;
  p.ldb = g.ldb;
  p.ldc = g.ldc;
  p.sA = g.strideA;
  p.sB = g.strideB;
  p.sC = g.strideC;
  p.batch = g.batch;
  p.tilesM = (g.M + BM - 1) / BM;
  p.tilesN = (g.N + BN - 1) / BN;
  p.alpha = g.alpha;
  p.beta = g.beta;
  p.c_f32 = g.c == DType::F32;
  return p;
}

dim3 grid_of(const Params& p) {
  const int64_t tiles = p.tilesM * p.tilesN;
  tessera::check(tiles <= 0x7fffffff, "gemm: the product has too many tiles for one launch");
  return dim3(static_cast<unsigned>(tiles), static_cast<unsigned>(std::min<int64_t>(p.batch, 65535)), 1);
}

/** The large tile leaves SMs idle when the product has few tiles: then the 64×64 one. */
bool use_big_tile(const Gemm& g) {
  if (g.M < 128 || g.N < 128) return false;
  const int64_t tiles = ((g.M + 127) / 128) * ((g.N + 127) / 128) * g.batch;
  return tiles >= cuda::props().multiProcessorCount;
}

template <typename T, int BM, int BN, int WARPS_M, int WARPS_N, bool TA, bool TB, bool VEC>
void launch_tc(const Gemm& g) {
  constexpr int BK = 32, STAGES = 3;
  using Cfg = TcConfig<T, BM, BN, BK, WARPS_M, WARPS_N, STAGES, TA, TB, VEC>;
  auto kernel = tc_gemm_kernel<T, BM, BN, BK, WARPS_M, WARPS_N, STAGES, TA, TB, VEC>;
  // Above 48 KiB, dynamic shared memory must be opted into, once per kernel.
  static const cudaError_t opted =
      Cfg::kSmem > 48 * 1024
          ? cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(Cfg::kSmem))
          : cudaSuccess;
  cuda::check(opted, "gemm: shared memory opt-in");
  const Params p = params_of(g, BM, BN);
  kernel<<<grid_of(p), Cfg::kThreads, Cfg::kSmem, cuda::stream()>>>(p);
  cuda::check(cudaGetLastError(), "gemm");
}

template <typename T, int BM, int BN, int WARPS_M, int WARPS_N>
void dispatch_tc(const Gemm& g, bool vec) {
  const int sel = (g.transA ? 4 : 0) | (g.transB ? 2 : 0) | (vec ? 1 : 0);
  switch (sel) {
    case 0: return launch_tc<T, BM, BN, WARPS_M, WARPS_N, false, false, false>(g);
    case 1: return launch_tc<T, BM, BN, WARPS_M, WARPS_N, false, false, true>(g);
    case 2: return launch_tc<T, BM, BN, WARPS_M, WARPS_N, false, true, false>(g);
    case 3: return launch_tc<T, BM, BN, WARPS_M, WARPS_N, false, true, true>(g);
    case 4: return launch_tc<T, BM, BN, WARPS_M, WARPS_N, true, false, false>(g);
    case 5: return launch_tc<T, BM, BN, WARPS_M, WARPS_N, true, false, true>(g);
    case 6: return launch_tc<T, BM, BN, WARPS_M, WARPS_N, true, true, false>(g);
    default: return launch_tc<T, BM, BN, WARPS_M, WARPS_N, true, true, true>(g);
  }
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

/** 16-byte chunks need every row (and every batch entry) of A and B to start 16-byte aligned. */
bool vector_loads_ok(const Gemm& g) {
  const bool batched = g.batch > 1;
  return aligned16(g.A) && aligned16(g.B) && g.lda % 8 == 0 && g.ldb % 8 == 0 &&
         (!batched || (g.strideA % 8 == 0 && g.strideB % 8 == 0));
}

template <typename T>
void gemm_half(const Gemm& g) {
  const bool vec = vector_loads_ok(g);
  if (use_big_tile(g))
    dispatch_tc<T, 128, 128, 2, 4>(g, vec);  // 8 warps of 64×32
  else
    dispatch_tc<T, 64, 64, 2, 2>(g, vec);  // 4 warps of 32×32
}

template <int BM, int BN, int WARPS_M, int WARPS_N, bool TA, bool TB>
void launch_tf32(const Gemm& g) {
  const Params p = params_of(g, BM, BN);
  tf32_gemm_kernel<BM, BN, WARPS_M, WARPS_N, TA, TB><<<grid_of(p), WARPS_M * WARPS_N * 32, 0, cuda::stream()>>>(p);
  cuda::check(cudaGetLastError(), "gemm");
}

template <int BM, int BN, int TM, int TN, bool TA, bool TB>
void launch_sgemm(const Gemm& g) {
  const Params p = params_of(g, BM, BN);
  sgemm_kernel<BM, BN, TM, TN, TA, TB><<<grid_of(p), (BM / TM) * (BN / TN), 0, cuda::stream()>>>(p);
  cuda::check(cudaGetLastError(), "gemm");
}

template <bool TA, bool TB>
void gemm_f32_t(const Gemm& g) {
  const bool big = use_big_tile(g);
  if (cuda::tf32_enabled()) {
    if (big)
      launch_tf32<128, 128, 2, 4, TA, TB>(g);
    else
      launch_tf32<64, 64, 2, 2, TA, TB>(g);
  } else {
    if (big)
      launch_sgemm<128, 128, 8, 8, TA, TB>(g);
    else
      launch_sgemm<64, 64, 4, 4, TA, TB>(g);
  }
}

void gemm_f32(const Gemm& g) {
  if (g.transA)
    g.transB ? gemm_f32_t<true, true>(g) : gemm_f32_t<true, false>(g);
  else
    g.transB ? gemm_f32_t<false, true>(g) : gemm_f32_t<false, false>(g);
}

template <typename TC>
void scale_c(const Gemm& g) {
  const int64_t total = g.batch * g.M * g.N;
  unsigned blocks = cuda::blocks_for(total, 256);
  if (blocks > 65535u * 8) blocks = 65535u * 8;
  scale_c_kernel<TC><<<blocks, 256, 0, cuda::stream()>>>(static_cast<TC*>(g.C), g.M, g.N, g.ldc, g.strideC, g.batch,
                                                    g.beta);
  cuda::check(cudaGetLastError(), "gemm");
}

}  // namespace

namespace cuda {

void gemm(const Gemm& g) {
  const bool ab_ok = g.ab == DType::F32 || g.ab == DType::F16 || g.ab == DType::BF16;
  if (!ab_ok || !(g.c == DType::F32 || g.c == g.ab))
    tessera::fail(std::string("gemm: A/B ") + dtype_name(g.ab) + " with C " + dtype_name(g.c) +
         " is not supported (A/B float32, float16 or bfloat16; C float32 or the A/B dtype)");
  tessera::check(g.M >= 0 && g.N >= 0 && g.K >= 0 && g.batch >= 0, "gemm: negative size");
  tessera::check(g.lda >= 0 && g.ldb >= 0 && g.ldc >= 0, "gemm: negative leading dimension");
  if (g.M == 0 || g.N == 0 || g.batch == 0) return;
  tessera::check(g.C != nullptr, "gemm: C is null");
  if (g.K == 0) {  // an empty sum: C = beta·C
    if (g.c == DType::F32)
      scale_c<float>(g);
    else if (g.c == DType::F16)
      scale_c<__half>(g);
    else
      scale_c<__nv_bfloat16>(g);
    return;
  }
  tessera::check(g.A != nullptr && g.B != nullptr, "gemm: A or B is null");
  tessera::check(g.K <= 0x7fffffff, "gemm: K is beyond 2^31 - 1");
  if (cublas_gemm(g)) return;
  switch (g.ab) {
    case DType::F16:
      gemm_half<__half>(g);
      break;
    case DType::BF16:
      gemm_half<__nv_bfloat16>(g);
      break;
    default:
      gemm_f32(g);
  }
}

}  // namespace cuda
}  // namespace tessera
