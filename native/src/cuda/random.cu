// random on the cuda device: core's counter-based Philox4x32-10 fill (packages/core/src/random.ts),
// mirroring the cpu device's native/src/kernels/random.cc: the same lanes per element and the same
// float64 formulas, then the storage dtype's rounding. One thread per Philox block, so any split of
// the tensor over threads draws the same numbers.
//
// The float64 arithmetic goes through __dmul_rn/__dadd_rn: nvcc would otherwise contract a·b + c into
// an fma, whose single rounding gives different bits from JS. log, cos and sqrt are CUDA's float64
// functions (sqrt correctly rounded; log and cos within an ulp or two of the cpu's libm), so a normal
// draw can differ from the cpu in the last float64 bits, which survive the rounding to float32 only
// when the value sits within those bits of a float32 rounding boundary.
#include "kernels/random_args.h"
#include "strided.cuh"

namespace tessera {
namespace {

constexpr uint32_t kM0 = 0xd2511f53u;
constexpr uint32_t kM1 = 0xcd9e8d57u;
constexpr uint32_t kW0 = 0x9e3779b9u;
constexpr uint32_t kW1 = 0xbb67ae85u;
constexpr double kU24 = 1.0 / 16777216.0;
constexpr double kTwo32 = 4294967296.0;
constexpr double kTwoPi = 2 * 3.141592653589793;  // 2 · Math.PI, exact (a doubling)

enum Kind { kUniform = 0, kNormal = 1, kBernoulli = 2, kRandint = 3 };

struct Dist {
  double p1, p2;
  double range;  // p2 − p1, as the TS computes it (uniform and randint)
  uint32_t k0, k1;
  uint64_t counter;
};

__device__ __forceinline__ void philox4x32(uint64_t counter, uint32_t k0, uint32_t k1, uint32_t (&out)[4]) {
  uint32_t x0 = static_cast<uint32_t>(counter);
  uint32_t x1 = static_cast<uint32_t>(counter >> 32);
  uint32_t x2 = 0, x3 = 0;
#pragma unroll
  for (int r = 0; r < 10; r++) {
    const uint32_t hi0 = __umulhi(kM0, x0), lo0 = kM0 * x0;
    const uint32_t hi1 = __umulhi(kM1, x2), lo1 = kM1 * x2;
    x0 = hi1 ^ x1 ^ k0;
    x1 = lo1;
    x2 = hi0 ^ x3 ^ k1;
    x3 = lo0;
    k0 += kW0;
    k1 += kW1;
  }
  out[0] = x0;
  out[1] = x1;
  out[2] = x2;
  out[3] = x3;
}

/** uniform, bernoulli or randint from one lane, in float64 exactly as random.ts. */
template <int K>
__device__ __forceinline__ double draw(const Dist& d, uint32_t bits) {
  if constexpr (K == kUniform) {
    // low + u · (high − low), u = (bits >>> 8) · 2^-24 (exact)
    return __dadd_rn(d.p1, __dmul_rn(__dmul_rn(static_cast<double>(bits >> 8), kU24), d.range));
  } else if constexpr (K == kBernoulli) {
    return __dmul_rn(static_cast<double>(bits >> 8), kU24) < d.p1 ? 1.0 : 0.0;
  } else {
    // low + ⌊bits · (high − low) / 2^32⌋
    return __dadd_rn(d.p1, floor(__ddiv_rn(__dmul_rn(static_cast<double>(bits), d.range), kTwo32)));
  }
}

/** mean + std · √(−2 ln u1) · cos(2π u2), evaluated left to right as random.ts. */
__device__ __forceinline__ double draw_normal(const Dist& d, uint32_t a, uint32_t b) {
  const double u1 = __dmul_rn(static_cast<double>((a >> 8) + 1), kU24);
  const double u2 = __dmul_rn(static_cast<double>(b >> 8), kU24);
  const double r = __dsqrt_rn(__dmul_rn(-2.0, log(u1)));
  const double c = cos(__dmul_rn(kTwoPi, u2));
  return __dadd_rn(d.p1, __dmul_rn(__dmul_rn(d.p2, r), c));
}

/**
 * Element i of uniform/bernoulli/randint is lane i % 4 of block counter + i / 4; of normal, lanes
 * 2(i % 2) and 2(i % 2) + 1 of block counter + i / 2. A float64 draw is stored as core rounds it
 * (float32: Math.fround; int32: castScalar; bool: x != 0; half: through float32).
 */
template <int K, typename T>
__global__ void random_kernel(T* out, int64_t n, Dist d, bool vec) {
  constexpr int64_t kPer = K == kNormal ? 2 : 4;
  const int64_t blocks = (n + kPer - 1) / kPer;
  for (int64_t b = thread_index(); b < blocks; b += thread_count()) {
    uint32_t lanes[4];
    philox4x32(d.counter + static_cast<uint64_t>(b), d.k0, d.k1, lanes);
    const int64_t i0 = b * kPer;
    if constexpr (K == kNormal) {
#pragma unroll
      for (int j = 0; j < 2; j++)
        if (i0 + j < n) out[i0 + j] = St<T>::from_num_copy(draw_normal(d, lanes[2 * j], lanes[2 * j + 1]));
    } else {
      if (vec && i0 + 4 <= n) {
        Vec4<T> v;
#pragma unroll
        for (int j = 0; j < 4; j++) v.v[j] = St<T>::from_num_copy(draw<K>(d, lanes[j]));
        reinterpret_cast<Vec4<T>*>(out)[b] = v;
      } else {
#pragma unroll
        for (int j = 0; j < 4; j++)
          if (i0 + j < n) out[i0 + j] = St<T>::from_num_copy(draw<K>(d, lanes[j]));
      }
    }
  }
}

template <typename T>
void launch_random(const Call& call, int kind, const Dist& d, T* out, int64_t n) {
  const int64_t blocks = kind == kNormal ? (n + 1) / 2 : (n + 3) / 4;
  const unsigned grid = grid_for(blocks);
  const bool vec = vec_aligned<T>(out);
  switch (kind) {
    case kUniform:
      random_kernel<kUniform><<<grid, kThreads, 0, cuda::stream()>>>(out, n, d, vec);
      break;
    case kNormal:
      random_kernel<kNormal><<<grid, kThreads, 0, cuda::stream()>>>(out, n, d, vec);
      break;
    case kBernoulli:
      random_kernel<kBernoulli><<<grid, kThreads, 0, cuda::stream()>>>(out, n, d, vec);
      break;
    default:
      random_kernel<kRandint><<<grid, kThreads, 0, cuda::stream()>>>(out, n, d, vec);
      break;
  }
  TESSERA_CUDA_LAUNCHED(call);
}

}  // namespace

TESSERA_CUDA_KERNEL_HALF(random) {
  const random_args::Args a = random_args::read(call);
  const View& dst = *a.dst;
  const int kind = a.kind;
  Dist d{};
  d.p1 = a.p1;
  d.p2 = a.p2;
  d.range = d.p2 - d.p1;
  d.k0 = a.k0;
  d.k1 = a.k1;
  d.counter = a.counter;
  const int64_t n = dst.numel;
  if (n == 0) return;
  dispatch_storage(dst.dtype, call, [&](auto tag) {
    using T = decltype(tag);
    launch_random<T>(call, kind, d, dst.ptr<T>(), n);
  });
}

}  // namespace tessera
