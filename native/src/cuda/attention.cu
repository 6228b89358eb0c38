// Scaled dot-product attention on the cuda device, forward and backward.
//
// Views and semantics are the cpu kernel's (native/src/kernels/attention.cc, after backend-js):
// q [B,Sq,D], k [B,Sk,D], v [B,Sk,Dv], mask? [B,Sq,Sk] (additive, q's dtype), out [B,Sq,Dv],
// weights? [B,Sq,Sk]; logits = scale·q·kᵀ + mask, causal sets keys j > i to -Inf (top-left aligned,
// also when Sq != Sk), a row with every key masked is NaN (0/0), Sk == 0 gives out = 0. The backward
// gets no saved statistics: it recomputes them. dmask is the gradient w.r.t. the logits, P∘(dP − D).
// Every view shares q's dtype (core casts masks and allocates outputs like q); products accumulate in
// float32 and round once at the store.
//
// Paths:
// - float16/bfloat16 with max(D, Dv) ≤ 256, no weights: flash attention on tensor cores (mma.sync
//   m16n8k16). One CTA of 4 warps per (batch, 64 queries); key/value tiles stream through shared
//   memory (cp.async, double buffered) with an online softmax in float32, P rounded to q's dtype for
//   P·V as FlashAttention-2 does. Head dims are zero-padded to 64, 128 or 256 in shared memory, so
//   any D, Dv up to 256 runs here (64 and 128 without waste).
// - float32 (and half heads over 256), no weights: a SIMT flash kernel, same online softmax.
// - weights wanted, dmask wanted, f32 backward, or heads too wide: unfused — S = scale·q·kᵀ by
//   cuda::gemm into a float32 workspace, a row-softmax kernel, then the products by cuda::gemm,
//   batch elements (or query rows) chunked so the workspace stays bounded.
// - half backward with max(D, Dv) ≤ 128: flash backward (FlashAttention-2 style). A stats pass (the
//   forward kernel without its store) gives each row's log-sum-exp and D_i = dout_i·out_i, then one CTA
//   per (batch, 64 keys) walks the query blocks that see those keys, keeping dK and dV in registers and
//   adding dQ into a float32 workspace with atomics, scaled and rounded by a last small kernel.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

#include "common.cuh"
#include "gemm.cuh"
#include "kernels/attention_args.h"

namespace tessera {
namespace {

constexpr float kLog2e = 1.4426950408889634f;
constexpr int kThreads = 128;  // every attention kernel runs 4 warps
constexpr int kBR = 64;        // queries per CTA in the tensor-core kernels (16 per warp)

// ---- PTX wrappers ----------------------------------------------------------------------------------

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16 bytes global → shared, bypassing L1; src_bytes = 0 writes zeros (rows past the end).
__device__ __forceinline__ void cp_async16(void* dst, const void* src, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

// Four 8×8 b16 matrices; lanes 8m..8m+7 give the row addresses of matrix m.
__device__ __forceinline__ void ldsm_x4(uint32_t r[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}
__device__ __forceinline__ void ldsm_x4_t(uint32_t r[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}

// c += a·b for one m16n8k16 tile (a row-major 16×16, b column-major 16×8, c float32 16×8).
template <typename T>
struct Mma;
template <>
struct Mma<__half> {
  static __device__ __forceinline__ void run(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
  // Two floats as one register of the A operand: the lower column in the low half.
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    __half2 h = __floats2half2_rn(lo, hi);
    uint32_t u;
    memcpy(&u, &h, 4);
    return u;
  }
};
template <>
struct Mma<__nv_bfloat16> {
  static __device__ __forceinline__ void run(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    uint32_t u;
    memcpy(&u, &h, 4);
    return u;
  }
};

__device__ __forceinline__ float quad_max(float x) {
  x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
  return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
}
__device__ __forceinline__ float quad_sum(float x) {
  x += __shfl_xor_sync(0xffffffffu, x, 1);
  return x + __shfl_xor_sync(0xffffffffu, x, 2);
}
__device__ __forceinline__ float warp_max(float x) {
  for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
  return x;
}
__device__ __forceinline__ float warp_sum(float x) {
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

// ---- tensor-core flash attention ----------------------------------------------------------------

template <typename T>
struct FlashParams {
  const T* q;
  const T* k;
  const T* v;
  const T* mask;  // null when absent
  const T* dout;  // stats pass and backward
  T* out;         // forward
  float* lse;     // stats pass: per row, log2 units (max·log2e + log2 Σ)
  float* drow;    // stats pass: D_i = dout_i · out_i
  float* dqacc;   // backward: [B, Sq, D] float32, unscaled
  T* dk;
  T* dv;
  int64_t B, Sq, Sk;
  int D, Dv;
  float scale;
  int causal;
  int vec;  // q, k, v (and dout) rows 16-byte aligned: cp.async; else element loads
};

/**
 * ROWS rows of ncols elements (row stride ncols in global) into shared rows of DP + 8 elements,
 * zero-filled past rows_valid and past ncols so padded head dims add nothing to the products.
 * rows_valid ≥ 1, so g is a valid address even for the zero-fill copies.
 */
template <typename T, int DP, int ROWS>
__device__ __forceinline__ void load_tile(T* s, const T* g, int64_t rows_valid, int ncols, bool vec) {
  constexpr int LDS = DP + 8;
  if (vec) {
    constexpr int CH = DP / 8;
    for (int idx = threadIdx.x; idx < ROWS * CH; idx += kThreads) {
      const int r = idx / CH, c = (idx % CH) * 8;
      const bool ok = r < rows_valid && c < ncols;
      cp_async16(s + r * LDS + c, ok ? g + static_cast<int64_t>(r) * ncols + c : g, ok ? 16 : 0);
    }
  } else {
    const T zero = Num<T>::store(0.f);
    for (int idx = threadIdx.x; idx < ROWS * DP; idx += kThreads) {
      const int r = idx / DP, c = idx % DP;
      s[r * LDS + c] = (r < rows_valid && c < ncols) ? g[static_cast<int64_t>(r) * ncols + c] : zero;
    }
  }
}

/**
 * acc[NT][4] += A·Bᵀ for one warp: A is 16 rows of `a` (shared, row stride lda), B is NT·8 rows of `b`
 * (row stride ldb), both KD wide; the k-dim is contiguous in both (q·kᵀ, dout·vᵀ).
 */
template <typename T, int NT, int KD>
__device__ __forceinline__ void mma_abt(float (*acc)[4], const T* a, int lda, const T* b, int ldb, int lane) {
#pragma unroll
  for (int kk = 0; kk < KD / 16; kk++) {
    uint32_t af[4];
    ldsm_x4(af, a + ((lane & 7) + ((lane >> 3) & 1) * 8) * lda + kk * 16 + (lane >> 4) * 8);
#pragma unroll
    for (int np = 0; np < NT / 2; np++) {
      uint32_t bf[4];
      ldsm_x4(bf, b + (np * 16 + (lane & 7) + (lane >> 4) * 8) * ldb + kk * 16 + ((lane >> 3) & 1) * 8);
      Mma<T>::run(acc[2 * np], af, bf[0], bf[1]);
      Mma<T>::run(acc[2 * np + 1], af, bf[2], bf[3]);
    }
  }
}

/**
 * acc[NO][4] += Aᵀ·B for one warp: Aᵀ's 16 rows are columns m0.. of `a` (stored [KR][lda], k-dim = its
 * rows), B is `b` stored [KR][ldb] with NO·8 columns (dv += Pᵀ·dout, dk += dSᵀ·q).
 */
template <typename T, int NO, int KR>
__device__ __forceinline__ void mma_atb(float (*acc)[4], const T* a, int lda, int m0, const T* b, int ldb,
                                        int lane) {
#pragma unroll
  for (int kk = 0; kk < KR / 16; kk++) {
    uint32_t af[4];
    ldsm_x4_t(af, a + (kk * 16 + (lane & 7) + (lane >> 4) * 8) * lda + m0 + ((lane >> 3) & 1) * 8);
#pragma unroll
    for (int dp = 0; dp < NO / 2; dp++) {
      uint32_t bf[4];
      ldsm_x4_t(bf, b + (kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * ldb + dp * 16 + (lane >> 4) * 8);
      Mma<T>::run(acc[2 * dp], af, bf[0], bf[1]);
      Mma<T>::run(acc[2 * dp + 1], af, bf[2], bf[3]);
    }
  }
}

/**
 * Forward over 64 queries of one batch element. Thread (warp w, lane = 4g + t) owns rows w·16 + g and
 * w·16 + g + 8 of the block and, per 8-column tile, columns 2t and 2t + 1 (the mma accumulator layout).
 * STATS: instead of out, writes each row's log-sum-exp (log2 units) and D_i = dout_i·out_i for the
 * backward. Logits are kept in log2 units so exp2 does the softmax.
 */
template <typename T, int DP, int BC, bool STATS>
__global__ void __launch_bounds__(kThreads) flash_fwd_kernel(const FlashParams<T> p) {
  constexpr int LDS = DP + 8, NT = BC / 8, NO = DP / 8;
  constexpr float kNegInf = -INFINITY;
  extern __shared__ uint4 smem_raw[];
  T* Qs = reinterpret_cast<T*>(smem_raw);  // [64][LDS]
  T* Ks = Qs + kBR * LDS;                   // [2][BC][LDS]
  T* Vs = Ks + 2 * BC * LDS;                // [2][BC][LDS]

  // Longest (causal) query blocks first, batch elements interleaved so they share the K/V in L2.
  const int64_t nqb = (p.Sq + kBR - 1) / kBR;
  const int64_t bid = blockIdx.x;
  const int64_t b = bid % p.B;
  const int64_t i0 = (nqb - 1 - bid / p.B) * kBR;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane >> 2, t = lane & 3;
  const int64_t kend = p.causal ? min(p.Sk, i0 + kBR) : p.Sk;  // keys ≥ kend are masked for all rows
  const int nkt = static_cast<int>((kend + BC - 1) / BC);
  const T* kb = p.k + b * p.Sk * p.D;
  const T* vb = p.v + b * p.Sk * p.Dv;
  const bool vec = p.vec != 0;

  load_tile<T, DP, kBR>(Qs, p.q + (b * p.Sq + i0) * p.D, p.Sq - i0, p.D, vec);
  load_tile<T, DP, BC>(Ks, kb, p.Sk, p.D, vec);
  load_tile<T, DP, BC>(Vs, vb, p.Sk, p.Dv, vec);
  cp_async_commit();

  float o[NO][4];
#pragma unroll
  for (int n = 0; n < NO; n++) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.f;
  float m[2] = {kNegInf, kNegInf}, l[2] = {0.f, 0.f};  // l: this thread's columns only, summed at the end
  const int64_t rowA = i0 + warp * 16 + g;            // rows rowA and rowA + 8
  const float scaleLog2 = p.scale * kLog2e;
  const T* maskb = p.mask ? p.mask + b * p.Sq * p.Sk : nullptr;

  for (int it = 0; it < nkt; it++) {
    const int buf = it & 1;
    if (it + 1 < nkt) {
      const int64_t jn = static_cast<int64_t>(it + 1) * BC;
      load_tile<T, DP, BC>(Ks + (buf ^ 1) * BC * LDS, kb + jn * p.D, p.Sk - jn, p.D, vec);
      load_tile<T, DP, BC>(Vs + (buf ^ 1) * BC * LDS, vb + jn * p.Dv, p.Sk - jn, p.Dv, vec);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    const T* Kt = Ks + buf * BC * LDS;
    const T* Vt = Vs + buf * BC * LDS;
    const int64_t j0 = static_cast<int64_t>(it) * BC;

    float s[NT][4];
#pragma unroll
    for (int n = 0; n < NT; n++) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
    mma_abt<T, NT, DP>(s, Qs + warp * 16 * LDS, LDS, Kt, LDS, lane);

    float mx[2] = {kNegInf, kNegInf};
    // Most tiles have no mask, no key past Sk and none above this warp's diagonal: no per-element tests.
    const bool plain = maskb == nullptr && j0 + BC <= p.Sk && (!p.causal || j0 + BC - 1 <= i0 + warp * 16);
#pragma unroll
    for (int n = 0; n < NT; n++) {
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const int h = e >> 1;
        const int64_t row = rowA + h * 8;
        const int64_t col = j0 + n * 8 + 2 * t + (e & 1);
        float x;
        if (plain) {
          x = s[n][e] * scaleLog2;
        } else if (col >= p.Sk || (p.causal && col > row)) {
          x = kNegInf;
        } else {
          x = s[n][e] * p.scale;
          if (maskb && row < p.Sq) x += Num<T>::load(maskb[row * p.Sk + col]);
          x *= kLog2e;
        }
        s[n][e] = x;
        mx[h] = fmaxf(mx[h], x);  // fmaxf skips NaN, like the cpu's `s > mt`
      }
    }
    float mu[2];
#pragma unroll
    for (int h = 0; h < 2; h++) {
      const float mn = fmaxf(m[h], quad_max(mx[h]));
      // Nothing unmasked yet: shift by 0 so masked logits give exp2(-Inf) = 0, not exp2(NaN).
      mu[h] = mn == kNegInf ? 0.f : mn;
      const float corr = exp2f(m[h] - mu[h]);
      m[h] = mn;
      l[h] *= corr;
#pragma unroll
      for (int n = 0; n < NO; n++) {
        o[n][2 * h] *= corr;
        o[n][2 * h + 1] *= corr;
      }
    }
#pragma unroll
    for (int n = 0; n < NT; n++) {
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const float pe = exp2f(s[n][e] - mu[e >> 1]);
        s[n][e] = pe;
        l[e >> 1] += pe;
      }
    }
    // P·V: the accumulator of two adjacent 8-key tiles is the A operand of one 16-key step.
#pragma unroll
    for (int kk = 0; kk < BC / 16; kk++) {
      uint32_t af[4];
      af[0] = Mma<T>::pack(s[2 * kk][0], s[2 * kk][1]);
      af[1] = Mma<T>::pack(s[2 * kk][2], s[2 * kk][3]);
      af[2] = Mma<T>::pack(s[2 * kk + 1][0], s[2 * kk + 1][1]);
      af[3] = Mma<T>::pack(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
      for (int dp = 0; dp < NO / 2; dp++) {
        uint32_t bf[4];
        ldsm_x4_t(bf, Vt + (kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * LDS + dp * 16 + (lane >> 4) * 8);
        Mma<T>::run(o[2 * dp], af, bf[0], bf[1]);
        Mma<T>::run(o[2 * dp + 1], af, bf[2], bf[3]);
      }
    }
    __syncthreads();  // the next iteration's loads overwrite this buffer
  }

#pragma unroll
  for (int h = 0; h < 2; h++) {
    const float lt = quad_sum(l[h]);
    const float inv = 1.f / lt;  // 0 for a fully masked row: 0·Inf = NaN, as on the cpu
    const int64_t row = rowA + h * 8;
    if constexpr (STATS) {
      float dsum = 0.f;
      if (row < p.Sq) {
        const T* dr = p.dout + (b * p.Sq + row) * p.Dv;
#pragma unroll
        for (int n = 0; n < NO; n++) {
#pragma unroll
          for (int e = 0; e < 2; e++) {
            const int col = n * 8 + 2 * t + e;
            if (col < p.Dv) dsum += Num<T>::load(dr[col]) * (o[n][2 * h + e] * inv);
          }
        }
      }
      dsum = quad_sum(dsum);
      if (t == 0 && row < p.Sq) {
        p.lse[b * p.Sq + row] = m[h] + log2f(lt);
        p.drow[b * p.Sq + row] = dsum;
      }
    } else {
      if (row < p.Sq) {
        T* orow = p.out + (b * p.Sq + row) * p.Dv;
#pragma unroll
        for (int n = 0; n < NO; n++) {
#pragma unroll
          for (int e = 0; e < 2; e++) {
            const int col = n * 8 + 2 * t + e;
            if (col < p.Dv) orow[col] = Num<T>::store(o[n][2 * h + e] * inv);
          }
        }
      }
    }
  }
}

/**
 * Backward over 64 keys of one batch element (FlashAttention-2): per query block that sees them,
 * S = q·kᵀ and dP = dout·vᵀ (warp w: queries w·16..), P = exp2(S·log2e − lse), dS = P∘(dP − D_i), both
 * through shared memory; then dv += Pᵀ·dout and dk += dSᵀ·q (warp w: keys w·16.., in registers) and
 * dq += dS·k (warp w: queries w·16.., atomically into dqacc).
 */
template <typename T, int DP>
__global__ void __launch_bounds__(kThreads) flash_bwd_kernel(const FlashParams<T> p) {
  constexpr int BC = 64, LDS = DP + 8, LDP = BC + 8, NT = BC / 8, NO = DP / 8;
  constexpr float kNegInf = -INFINITY;
  extern __shared__ uint4 smem_raw[];
  T* Ks = reinterpret_cast<T*>(smem_raw);  // [BC][LDS]
  T* Vs = Ks + BC * LDS;                    // [BC][LDS]
  T* Qs = Vs + BC * LDS;                    // [64][LDS]
  T* dOs = Qs + kBR * LDS;                  // [64][LDS]
  T* Ps = dOs + kBR * LDS;                  // [64][LDP]
  T* dSs = Ps + kBR * LDP;                  // [64][LDP]
  float* lse_s = reinterpret_cast<float*>(dSs + kBR * LDP);
  float* di_s = lse_s + kBR;

  // Causal: the first key blocks are seen by the most query blocks, so they start first.
  const int64_t bid = blockIdx.x;
  const int64_t b = bid % p.B;
  const int64_t j0 = (bid / p.B) * BC;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane >> 2, t = lane & 3;
  const bool vec = p.vec != 0;
  const T* maskb = p.mask ? p.mask + b * p.Sq * p.Sk : nullptr;
  const float scaleLog2 = p.scale * kLog2e;

  load_tile<T, DP, BC>(Ks, p.k + (b * p.Sk + j0) * p.D, p.Sk - j0, p.D, vec);
  load_tile<T, DP, BC>(Vs, p.v + (b * p.Sk + j0) * p.Dv, p.Sk - j0, p.Dv, vec);
  cp_async_commit();

  float dk[NO][4], dv[NO][4];
#pragma unroll
  for (int n = 0; n < NO; n++) {
    dk[n][0] = dk[n][1] = dk[n][2] = dk[n][3] = 0.f;
    dv[n][0] = dv[n][1] = dv[n][2] = dv[n][3] = 0.f;
  }
  // Causal: query blocks whose rows all lie before j0 see none of these keys.
  const int64_t iStart = p.causal ? (j0 / kBR) * kBR : 0;
  for (int64_t i0 = iStart; i0 < p.Sq; i0 += kBR) {
    load_tile<T, DP, kBR>(Qs, p.q + (b * p.Sq + i0) * p.D, p.Sq - i0, p.D, vec);
    load_tile<T, DP, kBR>(dOs, p.dout + (b * p.Sq + i0) * p.Dv, p.Sq - i0, p.Dv, vec);
    cp_async_commit();
    for (int r = threadIdx.x; r < kBR; r += kThreads) {
      const int64_t row = i0 + r;
      lse_s[r] = row < p.Sq ? p.lse[b * p.Sq + row] : 0.f;
      di_s[r] = row < p.Sq ? p.drow[b * p.Sq + row] : 0.f;
    }
    cp_async_wait<0>();
    __syncthreads();

    float s[NT][4], dp[NT][4];
#pragma unroll
    for (int n = 0; n < NT; n++) {
      s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
      dp[n][0] = dp[n][1] = dp[n][2] = dp[n][3] = 0.f;
    }
    mma_abt<T, NT, DP>(s, Qs + warp * 16 * LDS, LDS, Ks, LDS, lane);
    mma_abt<T, NT, DP>(dp, dOs + warp * 16 * LDS, LDS, Vs, LDS, lane);

    const bool plain = maskb == nullptr && j0 + BC <= p.Sk && i0 + kBR <= p.Sq &&
                       (!p.causal || j0 + BC - 1 <= i0 + warp * 16);
#pragma unroll
    for (int h = 0; h < 2; h++) {
      const int rl = warp * 16 + g + h * 8;
      const int64_t row = i0 + rl;
      const float L = lse_s[rl], Di = di_s[rl];
#pragma unroll
      for (int n = 0; n < NT; n++) {
        float pv[2], ds[2];
#pragma unroll
        for (int e = 0; e < 2; e++) {
          const int64_t col = j0 + n * 8 + 2 * t + e;
          float x;
          if (plain) {
            x = s[n][2 * h + e] * scaleLog2;
          } else if (row >= p.Sq || col >= p.Sk || (p.causal && col > row)) {
            x = kNegInf;
          } else {
            x = s[n][2 * h + e] * p.scale;
            if (maskb) x += Num<T>::load(maskb[row * p.Sk + col]);
            x *= kLog2e;
          }
          // A fully masked row has lse = -Inf: P is NaN there, as on the cpu.
          pv[e] = exp2f(x - L);
          ds[e] = pv[e] * (dp[n][2 * h + e] - Di);
        }
        const uint32_t pw = Mma<T>::pack(pv[0], pv[1]);
        const uint32_t dw = Mma<T>::pack(ds[0], ds[1]);
        memcpy(Ps + rl * LDP + n * 8 + 2 * t, &pw, 4);
        memcpy(dSs + rl * LDP + n * 8 + 2 * t, &dw, 4);
      }
    }
    __syncthreads();

    mma_atb<T, NO, kBR>(dv, Ps, LDP, warp * 16, dOs, LDS, lane);
    mma_atb<T, NO, kBR>(dk, dSs, LDP, warp * 16, Qs, LDS, lane);

    // dq rows of this warp, 16 columns at a time to keep registers for dk/dv.
#pragma unroll
    for (int dpair = 0; dpair < NO / 2; dpair++) {
      float acc[2][4] = {{0.f, 0.f, 0.f, 0.f}, {0.f, 0.f, 0.f, 0.f}};
#pragma unroll
      for (int kk = 0; kk < BC / 16; kk++) {
        uint32_t af[4], bf[4];
        ldsm_x4(af, dSs + (warp * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * LDP + kk * 16 + (lane >> 4) * 8);
        ldsm_x4_t(bf, Ks + (kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * LDS + dpair * 16 + (lane >> 4) * 8);
        Mma<T>::run(acc[0], af, bf[0], bf[1]);
        Mma<T>::run(acc[1], af, bf[2], bf[3]);
      }
#pragma unroll
      for (int n = 0; n < 2; n++) {
#pragma unroll
        for (int e = 0; e < 4; e++) {
          const int64_t row = i0 + warp * 16 + g + (e >> 1) * 8;
          const int col = dpair * 16 + n * 8 + 2 * t + (e & 1);
          if (row < p.Sq && col < p.D) atomicAdd(p.dqacc + (b * p.Sq + row) * p.D + col, acc[n][e]);
        }
      }
    }
    __syncthreads();  // the next query block overwrites Qs, dOs, Ps, dSs
  }
  cp_async_wait<0>();  // K/V loads of a CTA whose loop never ran

#pragma unroll
  for (int h = 0; h < 2; h++) {
    const int64_t key = j0 + warp * 16 + g + h * 8;
    if (key >= p.Sk) continue;
    T* dkr = p.dk + (b * p.Sk + key) * p.D;
    T* dvr = p.dv + (b * p.Sk + key) * p.Dv;
#pragma unroll
    for (int n = 0; n < NO; n++) {
#pragma unroll
      for (int e = 0; e < 2; e++) {
        const int col = n * 8 + 2 * t + e;
        if (col < p.D) dkr[col] = Num<T>::store(dk[n][2 * h + e] * p.scale);
        if (col < p.Dv) dvr[col] = Num<T>::store(dv[n][2 * h + e]);
      }
    }
  }
}

// ---- SIMT flash forward (float32, and half heads wider than the tensor-core kernels) --------------

/**
 * 16 queries per CTA, 4 per warp; key tiles of 32 (lane = key for the logits, lane = output column
 * for P·V). DVC·32 ≥ Dv. Shared: q [16][D], k [32][D+1] (padded: lanes read different rows), v [32][Dv].
 */
template <typename T, int DVC>
__global__ void __launch_bounds__(kThreads) simt_fwd_kernel(const FlashParams<T> p) {
  constexpr int BQ = 16, TK = 32, RW = 4;
  extern __shared__ float smf[];
  const int D = p.D, Dv = p.Dv;
  float* Qs = smf;
  float* Ks = Qs + BQ * D;
  float* Vs = Ks + TK * (D + 1);
  const int64_t nqb = (p.Sq + BQ - 1) / BQ;
  const int64_t bid = blockIdx.x;
  const int64_t b = bid % p.B;
  const int64_t i0 = (nqb - 1 - bid / p.B) * BQ;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t kend = p.causal ? min(p.Sk, i0 + BQ) : p.Sk;
  const T* maskb = p.mask ? p.mask + b * p.Sq * p.Sk : nullptr;

  for (int idx = threadIdx.x; idx < BQ * D; idx += kThreads) {
    const int64_t row = i0 + idx / D;
    Qs[idx] = row < p.Sq ? Num<T>::load(p.q[(b * p.Sq + i0) * D + idx]) : 0.f;
  }
  float m[RW], l[RW], acc[RW][DVC];
#pragma unroll
  for (int r = 0; r < RW; r++) {
    m[r] = -INFINITY;
    l[r] = 0.f;
#pragma unroll
    for (int c = 0; c < DVC; c++) acc[r][c] = 0.f;
  }
  for (int64_t j0 = 0; j0 < kend; j0 += TK) {
    __syncthreads();  // the previous tile's readers are done
    const int64_t nk = min(static_cast<int64_t>(TK), p.Sk - j0);
    for (int idx = threadIdx.x; idx < TK * D; idx += kThreads) {
      const int r = idx / D, c = idx % D;
      Ks[r * (D + 1) + c] = r < nk ? Num<T>::load(p.k[(b * p.Sk + j0) * D + idx]) : 0.f;
    }
    for (int idx = threadIdx.x; idx < TK * Dv; idx += kThreads) {
      const int r = idx / Dv;
      Vs[idx] = r < nk ? Num<T>::load(p.v[(b * p.Sk + j0) * Dv + idx]) : 0.f;
    }
    __syncthreads();
    float sc[RW];
#pragma unroll
    for (int r = 0; r < RW; r++) sc[r] = 0.f;
    const float* kr = Ks + lane * (D + 1);
    const float* qr = Qs + warp * RW * D;
    for (int d = 0; d < D; d++) {
      const float kd = kr[d];
#pragma unroll
      for (int r = 0; r < RW; r++) sc[r] += qr[r * D + d] * kd;
    }
    const int64_t col = j0 + lane;
    float pr[RW];
#pragma unroll
    for (int r = 0; r < RW; r++) {
      const int64_t row = i0 + warp * RW + r;
      float x;
      if (col >= p.Sk || (p.causal && col > row)) {
        x = -INFINITY;
      } else {
        x = sc[r] * p.scale;
        if (maskb && row < p.Sq) x += Num<T>::load(maskb[row * p.Sk + col]);
      }
      const float mn = fmaxf(m[r], warp_max(x));
      const float mu = mn == -INFINITY ? 0.f : mn;
      const float corr = expf(m[r] - mu);
      m[r] = mn;
      l[r] *= corr;
#pragma unroll
      for (int c = 0; c < DVC; c++) acc[r][c] *= corr;
      pr[r] = expf(x - mu);
      l[r] += pr[r];
    }
    const int nv = static_cast<int>(min(static_cast<int64_t>(TK), kend - j0));
    for (int jj = 0; jj < nv; jj++) {
      float pj[RW];
#pragma unroll
      for (int r = 0; r < RW; r++) pj[r] = __shfl_sync(0xffffffffu, pr[r], jj);
#pragma unroll
      for (int c = 0; c < DVC; c++) {
        const int d = lane + 32 * c;
        const float vd = d < Dv ? Vs[jj * Dv + d] : 0.f;
#pragma unroll
        for (int r = 0; r < RW; r++) acc[r][c] += pj[r] * vd;
      }
    }
  }
#pragma unroll
  for (int r = 0; r < RW; r++) {
    const float inv = 1.f / warp_sum(l[r]);
    const int64_t row = i0 + warp * RW + r;
    if (row >= p.Sq) continue;
    T* orow = p.out + (b * p.Sq + row) * Dv;
#pragma unroll
    for (int c = 0; c < DVC; c++) {
      const int d = lane + 32 * c;
      if (d < Dv) orow[d] = Num<T>::store(acc[r][c] * inv);
    }
  }
}

// ---- unfused path: row kernels around cuda::gemm ------------------------------------------------

struct Rows {
  int64_t nrows;  // rows of this chunk: nb batch elements × rows queries
  int64_t rows;   // queries per batch element in the chunk
  int64_t b0, i0, Sq, Sk;
  int causal;
};

/**
 * One warp per logits row (S already scaled): adds the mask, applies causal, softmax; writes P in q's
 * dtype (the weights, or the operand of P·V). Row x of the chunk is P + x·Sk: a chunk spans several
 * batch elements only with all their rows, so this also addresses the weights' chunk. P may alias S
 * (float32): each element is read before the same lane overwrites it.
 */
template <typename T>
__global__ void softmax_fwd_rows(const float* S, const T* mask, T* P, Rows r) {
  const int lane = threadIdx.x % 32;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x / 32);
  for (int64_t x = blockIdx.x * static_cast<int64_t>(blockDim.x / 32) + threadIdx.x / 32; x < r.nrows; x += warps) {
    const int64_t b = r.b0 + x / r.rows, i = r.i0 + x % r.rows;
    const float* s = S + x * r.Sk;
    const T* mrow = mask ? mask + (b * r.Sq + i) * r.Sk : nullptr;
    auto logit = [&](int64_t j) {
      if (r.causal && j > i) return -INFINITY;
      return mrow ? s[j] + Num<T>::load(mrow[j]) : s[j];
    };
    float mx = -INFINITY;
    for (int64_t j = lane; j < r.Sk; j += 32) mx = fmaxf(mx, logit(j));
    mx = warp_max(mx);
    float sum = 0.f;
    for (int64_t j = lane; j < r.Sk; j += 32) sum += expf(logit(j) - mx);
    // A fully masked row: exp(-Inf − -Inf) = NaN everywhere, the cpu's 0/0.
    const float inv = 1.f / warp_sum(sum);
    T* prow = P + x * r.Sk;
    for (int64_t j = lane; j < r.Sk; j += 32) prow[j] = Num<T>::store(expf(logit(j) - mx) * inv);
  }
}

/**
 * One warp per row of the backward: P from S (scaled) and the mask, D_i = Σ P·dP, dS = P∘(dP − D_i);
 * writes dmask = dS when given, P and scale·dS in q's dtype for the gemms. P may alias S and dS may
 * alias dP (float32).
 */
template <typename T>
__global__ void softmax_bwd_rows(const float* S, const float* dP, const T* mask, T* dmask, T* P, T* dS,
                                 float scale, Rows r) {
  const int lane = threadIdx.x % 32;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x / 32);
  for (int64_t x = blockIdx.x * static_cast<int64_t>(blockDim.x / 32) + threadIdx.x / 32; x < r.nrows; x += warps) {
    const int64_t b = r.b0 + x / r.rows, i = r.i0 + x % r.rows;
    const float* s = S + x * r.Sk;
    const float* dp = dP + x * r.Sk;
    const T* mrow = mask ? mask + (b * r.Sq + i) * r.Sk : nullptr;
    auto logit = [&](int64_t j) {
      if (r.causal && j > i) return -INFINITY;
      return mrow ? s[j] + Num<T>::load(mrow[j]) : s[j];
    };
    float mx = -INFINITY;
    for (int64_t j = lane; j < r.Sk; j += 32) mx = fmaxf(mx, logit(j));
    mx = warp_max(mx);
    float sum = 0.f;
    for (int64_t j = lane; j < r.Sk; j += 32) sum += expf(logit(j) - mx);
    const float inv = 1.f / warp_sum(sum);
    float di = 0.f;
    for (int64_t j = lane; j < r.Sk; j += 32) di += expf(logit(j) - mx) * inv * dp[j];
    di = warp_sum(di);
    T* prow = P + x * r.Sk;
    T* dsrow = dS + x * r.Sk;
    T* dmrow = dmask ? dmask + (b * r.Sq + i) * r.Sk : nullptr;
    for (int64_t j = lane; j < r.Sk; j += 32) {
      const float pv = expf(logit(j) - mx) * inv;
      const float ds = pv * (dp[j] - di);
      if (dmrow) dmrow[j] = Num<T>::store(ds);
      prow[j] = Num<T>::store(pv);
      dsrow[j] = Num<T>::store(ds * scale);
    }
  }
}

template <typename T>
__global__ void zero_kernel(T* p, int64_t n) {
  const T z = Num<T>::store(0.f);
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    p[i] = z;
}

template <typename T>
__global__ void scale_store_kernel(const float* src, T* dst, float scale, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    dst[i] = Num<T>::store(src[i] * scale);
}

unsigned grid_for(int64_t n, int threads) {
  unsigned g = cuda::blocks_for(n, threads);
  return g > 65535u * 8 ? 65535u * 8 : g;
}

template <typename T>
void zero(T* p, int64_t n, const Call& call) {
  if (n <= 0) return;
  zero_kernel<T><<<grid_for(n, 256), 256, 0, cuda::stream()>>>(p, n);
  TESSERA_CUDA_LAUNCHED(call);
}

// ---- host side -------------------------------------------------------------------------------------

struct Problem {
  DType dtype;
  int64_t B, Sq, Sk, D, Dv;
  float scale;
  bool causal;
  const void* q;
  const void* k;
  const void* v;
  const void* mask;  // null when absent
};

/** Element 0 of a view (its offset is in elements of its dtype). */
void* base(const View& v) { return static_cast<char*>(v.data) + v.offset * static_cast<int64_t>(dtype_size(v.dtype)); }

/** View i, contiguous, of dtype d and shape [a, b, c]. */
void* shaped(const Call& call, size_t i, DType d, int64_t a, int64_t b, int64_t c, const char* msg) {
  const View& v = call.contiguous(i, d);
  attn::check_shape(call, v, a, b, c, msg);
  return base(v);
}

void* optional_shaped(const Call& call, size_t i, DType d, int64_t a, int64_t b, int64_t c, const char* msg) {
  if (!call.view(i).present()) return nullptr;
  return shaped(call, i, d, a, b, c, msg);
}

Problem problem(const Call& call) {
  const View& q = call.view(0);
  call.check(q.present(), "q is required");
  const DType dt = q.dtype;
  call.check(dt == DType::F32 || dt == DType::F16 || dt == DType::BF16,
             "q must be float32, float16 or bfloat16 on cuda");
  const View& qv = call.contiguous(0, dt);
  const View& k = call.view(1);
  const View& v = call.view(2);
  call.check(k.present() && v.present(), "k and v are required");
  call.check(k.dtype == dt && v.dtype == dt, "k and v must have q's dtype");
  call.contiguous(1, dt);
  call.contiguous(2, dt);
  const attn::Dims d = attn::qkv_dims(call, qv, k, v);
  Problem p{};
  p.dtype = dt;
  p.B = d.B;
  p.Sq = d.Sq;
  p.Sk = d.Sk;
  p.D = d.D;
  p.Dv = d.Dv;
  call.check(p.D < (int64_t{1} << 30) && p.Dv < (int64_t{1} << 30), "head dims too large");
  p.q = base(qv);
  p.k = base(k);
  p.v = base(v);
  if (call.view(3).present()) {
    call.check(call.view(3).dtype == dt, "mask must have q's dtype (the additive float mask core builds)");
    p.mask = shaped(call, 3, dt, p.B, p.Sq, p.Sk, "mask must be [B, Sq, Sk]");
  }
  const attn::Attrs at = attn::attrs_of(call);
  p.scale = at.scale;
  p.causal = at.causal;
  return p;
}

bool aligned16(const void* ptr) { return (reinterpret_cast<uintptr_t>(ptr) & 15) == 0; }

/** Dynamic shared memory beyond the default 48 KiB needs an opt-in per kernel; false when it cannot fit. */
template <typename K>
bool allow_smem(K kernel, size_t bytes) {
  if (bytes > static_cast<size_t>(cuda::props().sharedMemPerBlockOptin)) return false;
  if (bytes > 48 * 1024)
    cuda::check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)),
                "attention: shared memory opt-in");
  return true;
}

unsigned grid_1d(const Call& call, int64_t blocks) {
  call.check(blocks <= 0x7fffffff, "too many (batch, block) pairs for one launch");
  return static_cast<unsigned>(blocks);
}

template <typename T>
FlashParams<T> flash_params(const Problem& pr) {
  FlashParams<T> f{};
  f.q = static_cast<const T*>(pr.q);
  f.k = static_cast<const T*>(pr.k);
  f.v = static_cast<const T*>(pr.v);
  f.mask = static_cast<const T*>(pr.mask);
  f.B = pr.B;
  f.Sq = pr.Sq;
  f.Sk = pr.Sk;
  f.D = static_cast<int>(pr.D);
  f.Dv = static_cast<int>(pr.Dv);
  f.scale = pr.scale;
  f.causal = pr.causal ? 1 : 0;
  f.vec = pr.D > 0 && pr.Dv > 0 && pr.D % 8 == 0 && pr.Dv % 8 == 0 && aligned16(pr.q) && aligned16(pr.k) &&
          aligned16(pr.v);
  return f;
}

constexpr size_t fwd_smem(int dp, int bc) { return static_cast<size_t>(kBR + 4 * bc) * (dp + 8) * 2; }
constexpr size_t bwd_smem(int dp) {
  return static_cast<size_t>(4 * 64) * (dp + 8) * 2 + static_cast<size_t>(2 * kBR) * (64 + 8) * 2 +
         2 * kBR * sizeof(float);
}

/** The tensor-core forward (or its stats pass) at padded head dim DP; false when it cannot launch. */
template <typename T, int DP, int BC, bool STATS>
bool launch_flash_fwd(const Call& call, const FlashParams<T>& f) {
  auto kernel = flash_fwd_kernel<T, DP, BC, STATS>;
  const size_t smem = fwd_smem(DP, BC);
  if (!allow_smem(kernel, smem)) return false;
  const int64_t nqb = (f.Sq + kBR - 1) / kBR;
  kernel<<<grid_1d(call, nqb * f.B), kThreads, smem, cuda::stream()>>>(f);
  TESSERA_CUDA_LAUNCHED(call);
  return true;
}

template <typename T, bool STATS>
bool flash_fwd_dispatch(const Call& call, const FlashParams<T>& f) {
  const int dmax = std::max(f.D, f.Dv);
  if (dmax <= 64) return launch_flash_fwd<T, 64, 64, STATS>(call, f);
  if (dmax <= 128) return launch_flash_fwd<T, 128, 64, STATS>(call, f);
  if constexpr (!STATS) {
    if (dmax <= 256) return launch_flash_fwd<T, 256, 32, STATS>(call, f);
  }
  return false;
}

template <typename T, int DVC>
bool launch_simt(const Call& call, const FlashParams<T>& f) {
  auto kernel = simt_fwd_kernel<T, DVC>;
  const size_t smem = (static_cast<size_t>(16) * f.D + 32 * static_cast<size_t>(f.D + 1) + 32 * static_cast<size_t>(f.Dv)) *
                      sizeof(float);
  if (!allow_smem(kernel, smem)) return false;
  const int64_t nqb = (f.Sq + 15) / 16;
  kernel<<<grid_1d(call, nqb * f.B), kThreads, smem, cuda::stream()>>>(f);
  TESSERA_CUDA_LAUNCHED(call);
  return true;
}

template <typename T>
bool simt_dispatch(const Call& call, const FlashParams<T>& f) {
  if (f.Dv <= 64) return launch_simt<T, 2>(call, f);
  if (f.Dv <= 128) return launch_simt<T, 4>(call, f);
  if (f.Dv <= 256) return launch_simt<T, 8>(call, f);
  return false;
}

void gemm(DType ab, DType c, bool tA, bool tB, int64_t M, int64_t N, int64_t K, const void* A, int64_t lda,
          int64_t sA, const void* B, int64_t ldb, int64_t sB, void* C, int64_t ldc, int64_t sC, int64_t batch,
          float alpha, float beta) {
  if (M == 0 || N == 0 || batch == 0) return;
  cuda::Gemm g;
  g.ab = ab;
  g.c = c;
  g.transA = tA;
  g.transB = tB;
  g.M = M;
  g.N = N;
  g.K = K;
  g.A = A;
  g.lda = lda;
  g.strideA = sA;
  g.B = B;
  g.ldb = ldb;
  g.strideB = sB;
  g.C = C;
  g.ldc = ldc;
  g.strideC = sC;
  g.batch = batch;
  g.alpha = alpha;
  g.beta = beta;
  cuda::gemm(g);
}

/** Workspace bound of the unfused path: whole batch elements per chunk while they fit, else row blocks. */
constexpr int64_t kUnfusedBytes = int64_t{512} << 20;

struct Chunking {
  int64_t nb, rows;
};
Chunking chunking(const Problem& p, int64_t bytesPerLogit) {
  const int64_t perBatch = p.Sq * p.Sk * bytesPerLogit;
  if (perBatch <= kUnfusedBytes) return {std::max<int64_t>(1, std::min(p.B, kUnfusedBytes / perBatch)), p.Sq};
  return {1, std::max<int64_t>(1, std::min(p.Sq, kUnfusedBytes / (p.Sk * bytesPerLogit)))};
}

size_t align256(size_t n) { return (n + 255) / 256 * 256; }

void memset_zero(void* p, size_t bytes) {
  if (bytes) cuda::check(cudaMemsetAsync(p, 0, bytes, cuda::stream()), "attention: cudaMemsetAsync");
}

/** Forward through materialised logits, chunk by chunk; P goes to `weights` when given. */
template <typename T>
void unfused_forward(const Call& call, const Problem& p, T* out, T* weights) {
  constexpr bool half = !std::is_same<T, float>::value;
  const DType dt = p.dtype;
  const int64_t B = p.B, Sq = p.Sq, Sk = p.Sk, D = p.D, Dv = p.Dv;
  const bool ownP = weights == nullptr && half;  // float32 writes P over S
  const Chunking ch = chunking(p, 4 + (ownP ? 2 : 0));
  const int64_t elems = ch.nb * ch.rows * Sk;
  const size_t sBytes = align256(static_cast<size_t>(elems) * 4);
  cuda::Workspace ws(sBytes + (ownP ? static_cast<size_t>(elems) * 2 : 0));
  float* S = ws.as<float>();
  T* Pw = ownP ? reinterpret_cast<T*>(ws.as<char>() + sBytes) : reinterpret_cast<T*>(S);
  const T* q = static_cast<const T*>(p.q);
  const T* k = static_cast<const T*>(p.k);
  const T* v = static_cast<const T*>(p.v);
  for (int64_t b0 = 0; b0 < B; b0 += ch.nb) {
    const int64_t nb = std::min(ch.nb, B - b0);
    for (int64_t i0 = 0; i0 < Sq; i0 += ch.rows) {
      const int64_t rows = std::min(ch.rows, Sq - i0);
      if (D == 0)
        memset_zero(S, static_cast<size_t>(nb * rows * Sk) * 4);
      else
        gemm(dt, DType::F32, false, true, rows, Sk, D, q + (b0 * Sq + i0) * D, D, Sq * D, k + b0 * Sk * D, D, Sk * D, S,
             Sk, rows * Sk, nb, p.scale, 0.f);
      // With weights, P is the weights' chunk itself.
      T* P = weights ? weights + (b0 * Sq + i0) * Sk : Pw;
      const Rows r{nb * rows, rows, b0, i0, Sq, Sk, p.causal ? 1 : 0};
      softmax_fwd_rows<T><<<grid_for(r.nrows * 32, 256), 256, 0, cuda::stream()>>>(
          S, static_cast<const T*>(p.mask), P, r);
      TESSERA_CUDA_LAUNCHED(call);
      gemm(dt, dt, false, false, rows, Dv, Sk, P,
           Sk, rows * Sk, v + b0 * Sk * Dv, Dv, Sk * Dv, out + (b0 * Sq + i0) * Dv, Dv, Sq * Dv, nb, 1.f, 0.f);
    }
  }
}

/** Backward through materialised logits (dmask, float32, wide heads). */
template <typename T>
void unfused_backward(const Call& call, const Problem& p, const T* dout, T* dq, T* dk, T* dv, T* dmask) {
  constexpr bool half = !std::is_same<T, float>::value;
  const DType dt = p.dtype;
  const int64_t B = p.B, Sq = p.Sq, Sk = p.Sk, D = p.D, Dv = p.Dv;
  const Chunking ch = chunking(p, half ? 12 : 8);
  const int64_t elems = ch.nb * ch.rows * Sk;
  const size_t fBytes = align256(static_cast<size_t>(elems) * 4);
  const size_t hBytes = half ? align256(static_cast<size_t>(elems) * 2) : 0;
  cuda::Workspace ws(2 * fBytes + 2 * hBytes);
  float* S = ws.as<float>();
  float* dP = reinterpret_cast<float*>(ws.as<char>() + fBytes);
  T* P = half ? reinterpret_cast<T*>(ws.as<char>() + 2 * fBytes) : reinterpret_cast<T*>(S);
  T* dS = half ? reinterpret_cast<T*>(ws.as<char>() + 2 * fBytes + hBytes) : reinterpret_cast<T*>(dP);
  const T* q = static_cast<const T*>(p.q);
  const T* k = static_cast<const T*>(p.k);
  const T* v = static_cast<const T*>(p.v);
  for (int64_t b0 = 0; b0 < B; b0 += ch.nb) {
    const int64_t nb = std::min(ch.nb, B - b0);
    for (int64_t i0 = 0; i0 < Sq; i0 += ch.rows) {
      const int64_t rows = std::min(ch.rows, Sq - i0);
      const size_t chunkBytes = static_cast<size_t>(nb * rows * Sk) * 4;
      if (D == 0)
        memset_zero(S, chunkBytes);
      else
        gemm(dt, DType::F32, false, true, rows, Sk, D, q + (b0 * Sq + i0) * D, D, Sq * D, k + b0 * Sk * D, D, Sk * D, S,
             Sk, rows * Sk, nb, p.scale, 0.f);
      if (Dv == 0)
        memset_zero(dP, chunkBytes);
      else
        gemm(dt, DType::F32, false, true, rows, Sk, Dv, dout + (b0 * Sq + i0) * Dv, Dv, Sq * Dv, v + b0 * Sk * Dv, Dv,
             Sk * Dv, dP, Sk, rows * Sk, nb, 1.f, 0.f);
      const Rows r{nb * rows, rows, b0, i0, Sq, Sk, p.causal ? 1 : 0};
      softmax_bwd_rows<T><<<grid_for(r.nrows * 32, 256), 256, 0, cuda::stream()>>>(
          S, dP, static_cast<const T*>(p.mask), dmask, P, dS, p.scale, r);
      TESSERA_CUDA_LAUNCHED(call);
      // Row blocks of one batch element accumulate dk, dv over the blocks (beta = 1 after the first).
      const float beta = i0 > 0 ? 1.f : 0.f;
      gemm(dt, dt, true, false, Sk, Dv, rows, P, Sk, rows * Sk, dout + (b0 * Sq + i0) * Dv, Dv, Sq * Dv,
           dv + b0 * Sk * Dv, Dv, Sk * Dv, nb, 1.f, beta);
      gemm(dt, dt, true, false, Sk, D, rows, dS, Sk, rows * Sk, q + (b0 * Sq + i0) * D, D, Sq * D, dk + b0 * Sk * D, D,
           Sk * D, nb, 1.f, beta);
      gemm(dt, dt, false, false, rows, D, Sk, dS, Sk, rows * Sk, k + b0 * Sk * D, D, Sk * D, dq + (b0 * Sq + i0) * D, D,
           Sq * D, nb, 1.f, 0.f);
    }
  }
}

template <typename T>
void forward(const Call& call, const Problem& p, T* out, T* weights) {
  if (weights == nullptr) {
    FlashParams<T> f = flash_params<T>(p);
    f.out = out;
    if constexpr (!std::is_same<T, float>::value) {
      if (flash_fwd_dispatch<T, false>(call, f)) return;
    }
    if (simt_dispatch<T>(call, f)) return;
  }
  unfused_forward<T>(call, p, out, weights);
}

template <typename T>
bool flash_backward(const Call& call, const Problem& p, const T* dout, T* dq, T* dk, T* dv) {
  if constexpr (std::is_same<T, float>::value) {
    return false;
  } else {
    const int dmax = static_cast<int>(std::max(p.D, p.Dv));
    if (dmax > 128) return false;
    const size_t smem = bwd_smem(dmax <= 64 ? 64 : 128);
    if (smem > static_cast<size_t>(cuda::props().sharedMemPerBlockOptin)) return false;
    FlashParams<T> f = flash_params<T>(p);
    f.dout = dout;
    f.vec = f.vec && aligned16(dout);
    const int64_t nrow = p.B * p.Sq;
    const size_t statBytes = align256(static_cast<size_t>(nrow) * 4);
    const size_t dqBytes = static_cast<size_t>(nrow * p.D) * 4;
    cuda::Workspace ws(2 * statBytes + dqBytes);
    f.lse = ws.as<float>();
    f.drow = reinterpret_cast<float*>(ws.as<char>() + statBytes);
    f.dqacc = reinterpret_cast<float*>(ws.as<char>() + 2 * statBytes);
    f.dk = dk;
    f.dv = dv;
    memset_zero(f.dqacc, dqBytes);
    if (!flash_fwd_dispatch<T, true>(call, f)) return false;
    const int64_t nkb = (p.Sk + 63) / 64;
    if (dmax <= 64) {
      auto kernel = flash_bwd_kernel<T, 64>;
      allow_smem(kernel, bwd_smem(64));
      kernel<<<grid_1d(call, nkb * p.B), kThreads, bwd_smem(64), cuda::stream()>>>(f);
    } else {
      auto kernel = flash_bwd_kernel<T, 128>;
      allow_smem(kernel, bwd_smem(128));
      kernel<<<grid_1d(call, nkb * p.B), kThreads, bwd_smem(128), cuda::stream()>>>(f);
    }
    TESSERA_CUDA_LAUNCHED(call);
    const int64_t n = nrow * p.D;
    if (n > 0) {
      scale_store_kernel<T><<<grid_for(n, 256), 256, 0, cuda::stream()>>>(f.dqacc, dq, p.scale, n);
      TESSERA_CUDA_LAUNCHED(call);
    }
    return true;
  }
}

}  // namespace

TESSERA_CUDA_KERNEL_HALF(attention) {
  call.expect(6, 2);
  const Problem p = problem(call);
  void* out = shaped(call, 4, p.dtype, p.B, p.Sq, p.Dv, "out must be [B, Sq, Dv] with q's dtype");
  void* weights = optional_shaped(call, 5, p.dtype, p.B, p.Sq, p.Sk, "weights must be [B, Sq, Sk] with q's dtype");
  if (p.B * p.Sq == 0) return;
  dispatch_float(p.dtype, call, [&](auto tag) {
    using T = decltype(tag);
    if (p.Sk == 0) {
      // Softmax over no keys is empty and the weighted sum of no values is 0 (as backend-js).
      zero<T>(static_cast<T*>(out), p.B * p.Sq * p.Dv, call);
      return;
    }
    if (p.Dv == 0 && weights == nullptr) return;  // nothing to write
    forward<T>(call, p, static_cast<T*>(out), static_cast<T*>(weights));
  });
}

TESSERA_CUDA_KERNEL_HALF(attentionBackward) {
  call.expect(9, 2);
  const Problem p = problem(call);
  const void* dout = shaped(call, 4, p.dtype, p.B, p.Sq, p.Dv, "dout must be [B, Sq, Dv] with q's dtype");
  void* dq = shaped(call, 5, p.dtype, p.B, p.Sq, p.D, "dq must be [B, Sq, D] like q");
  void* dk = shaped(call, 6, p.dtype, p.B, p.Sk, p.D, "dk must be [B, Sk, D] like k");
  void* dv = shaped(call, 7, p.dtype, p.B, p.Sk, p.Dv, "dv must be [B, Sk, Dv] like v");
  void* dmask = optional_shaped(call, 8, p.dtype, p.B, p.Sq, p.Sk, "dmask must be [B, Sq, Sk] with q's dtype");
  dispatch_float(p.dtype, call, [&](auto tag) {
    using T = decltype(tag);
    if (p.B * p.Sq == 0 || p.Sk == 0) {
      // No query or no key: out does not depend on q, k, v (or is the constant 0).
      zero<T>(static_cast<T*>(dq), p.B * p.Sq * p.D, call);
      zero<T>(static_cast<T*>(dk), p.B * p.Sk * p.D, call);
      zero<T>(static_cast<T*>(dv), p.B * p.Sk * p.Dv, call);
      return;
    }
    const T* g = static_cast<const T*>(dout);
    if (dmask == nullptr && flash_backward<T>(call, p, g, static_cast<T*>(dq), static_cast<T*>(dk), static_cast<T*>(dv)))
      return;
    unfused_backward<T>(call, p, g, static_cast<T*>(dq), static_cast<T*>(dk), static_cast<T*>(dv),
                        static_cast<T*>(dmask));
  });
}

}  // namespace tessera
