// Shared pieces of the cuda elementwise, random and gather kernels: storage types per dtype, the
// JS-number conversions the cpu kernels use (ToInt32, ToUint8, float32 ↔ float16/bfloat16 bit for
// bit), and a strided N-d index plan with its dims coalesced on the host.
//
// The conversions are integer-only ports of tessera.h's f32_to_f16 / f32_to_bf16 / f16_to_f32, not
// cuda_fp16's intrinsics: those return the canonical NaN 0x7fff where the cpu device and core keep the
// sign and payload (sign|0x7e00), and a copy must produce the same bits on every device.
// Everything here sits in an anonymous namespace: each .cu that includes it gets its own copy.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "common.cuh"

namespace tessera {
namespace {

// ---- storage types ------------------------------------------------------------------------------

/** float16 and bfloat16 storage: raw bits, decoded and encoded by the functions below. */
struct h16 {
  uint16_t bits;
};
struct b16 {
  uint16_t bits;
};

__host__ __device__ inline uint32_t f32_bits(float f) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}
__host__ __device__ inline float bits_f32(uint32_t u) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}

/** float32 → float16 bits, round to nearest even; NaN → sign|0x7e00|payload bit, overflow → ±Inf. */
__host__ __device__ inline uint16_t to_f16_bits(float x) {
  const uint32_t bits = f32_bits(x);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const int32_t exp = static_cast<int32_t>((bits >> 23) & 0xffu);
  uint32_t mant = bits & 0x7fffffu;
  if (exp == 0xff) return static_cast<uint16_t>(sign | 0x7c00u | (mant ? 0x200u : 0u));
  const int32_t e = exp - 127 + 15;
  if (e >= 0x1f) return static_cast<uint16_t>(sign | 0x7c00u);
  if (e <= 0) {
    if (e < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000u;
    const uint32_t shift = static_cast<uint32_t>(14 - e);
    uint32_t h = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1u))) h++;
    return static_cast<uint16_t>(sign | h);
  }
  uint32_t h = static_cast<uint32_t>(e) << 10 | (mant >> 13);
  const uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;
  if ((h & 0x7fffu) >= 0x7c00u) return static_cast<uint16_t>(sign | 0x7c00u);
  return static_cast<uint16_t>(sign | h);
}

/** float16 bits → float32 (exact; NaNs come back quiet with their payload). */
__host__ __device__ inline float from_f16_bits(uint16_t hb) {
  const uint32_t h = hb;
  const uint32_t sign = (h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: shift the leading one up to the implicit bit
      int e = -1;
      do {
        e++;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mant & 0x3ffu) << 13;
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13) | (mant ? 0x400000u : 0u);
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  return bits_f32(bits);
}

/** float32 → bfloat16 bits, round to nearest even; a NaN stays a (quiet) NaN. */
__host__ __device__ inline uint16_t to_bf16_bits(float x) {
  const uint32_t bits = f32_bits(x);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>(((bits >> 16) | 0x40u) & 0xffffu);
  return static_cast<uint16_t>(((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16) & 0xffffu);
}

__host__ __device__ inline float from_bf16_bits(uint16_t b) { return bits_f32(static_cast<uint32_t>(b) << 16); }

/** JS ToInt32 (an Int32Array store): NaN/±Inf → 0, truncate, wrap modulo 2^32. */
__host__ __device__ inline int32_t js_int32(double d) {
  if (d > -2147483649.0 && d < 2147483648.0) return static_cast<int32_t>(d);
  if (!(d - d == 0)) return 0;  // ±Inf, NaN
  double m = fmod(trunc(d), 4294967296.0);
  if (m < 0) m += 4294967296.0;
  return static_cast<int32_t>(static_cast<uint32_t>(m));
}

/** JS ToUint8 (a Uint8Array store: a bool storage written by arithmetic). */
__host__ __device__ inline uint8_t js_uint8(double d) {
  if (d >= 0 && d < 256.0) return static_cast<uint8_t>(d);
  if (!(d - d == 0)) return 0;
  double m = fmod(trunc(d), 256.0);
  if (m < 0) m += 256.0;
  return static_cast<uint8_t>(m);
}

/**
 * Per storage type: the value as a JS number (`num`, exact for every dtype), as float32 for the
 * floating types (`flt`), whether it is nonzero (a condition), and the two stores: `from_num` with
 * typed-array semantics (int32 ToInt32, bool ToUint8: what arithmetic writes) and `from_num_copy`
 * (bool is x != 0: what copy writes). Half types encode through float32, as the cpu device does.
 */
template <typename T>
struct St;
template <>
struct St<float> {
  static constexpr bool kFloat = true;
  __host__ __device__ static double num(float v) { return v; }
  __host__ __device__ static float flt(float v) { return v; }
  __host__ __device__ static bool nonzero(float v) { return v != 0; }
  __host__ __device__ static float from_flt(float v) { return v; }
  __host__ __device__ static float from_num(double v) { return static_cast<float>(v); }
  __host__ __device__ static float from_num_copy(double v) { return static_cast<float>(v); }
};
template <>
struct St<double> {
  static constexpr bool kFloat = false;  // computed in float64, never through float32
  __host__ __device__ static double num(double v) { return v; }
  __host__ __device__ static bool nonzero(double v) { return v != 0; }
  __host__ __device__ static double from_num(double v) { return v; }
  __host__ __device__ static double from_num_copy(double v) { return v; }
};
template <>
struct St<int32_t> {
  static constexpr bool kFloat = false;
  __host__ __device__ static double num(int32_t v) { return v; }
  __host__ __device__ static bool nonzero(int32_t v) { return v != 0; }
  __host__ __device__ static int32_t from_num(double v) { return js_int32(v); }
  __host__ __device__ static int32_t from_num_copy(double v) { return js_int32(v); }
};
template <>
struct St<uint8_t> {
  static constexpr bool kFloat = false;
  __host__ __device__ static double num(uint8_t v) { return v; }
  __host__ __device__ static bool nonzero(uint8_t v) { return v != 0; }
  __host__ __device__ static uint8_t from_num(double v) { return js_uint8(v); }
  __host__ __device__ static uint8_t from_num_copy(double v) { return v != 0 ? 1 : 0; }
};
template <>
struct St<h16> {
  static constexpr bool kFloat = true;
  __host__ __device__ static double num(h16 v) { return from_f16_bits(v.bits); }
  __host__ __device__ static float flt(h16 v) { return from_f16_bits(v.bits); }
  __host__ __device__ static bool nonzero(h16 v) { return (v.bits & 0x7fffu) != 0; }
  __host__ __device__ static h16 from_flt(float v) { return h16{to_f16_bits(v)}; }
  __host__ __device__ static h16 from_num(double v) { return h16{to_f16_bits(static_cast<float>(v))}; }
  __host__ __device__ static h16 from_num_copy(double v) { return from_num(v); }
};
template <>
struct St<b16> {
  static constexpr bool kFloat = true;
  __host__ __device__ static double num(b16 v) { return from_bf16_bits(v.bits); }
  __host__ __device__ static float flt(b16 v) { return from_bf16_bits(v.bits); }
  __host__ __device__ static bool nonzero(b16 v) { return (v.bits & 0x7fffu) != 0; }
  __host__ __device__ static b16 from_flt(float v) { return b16{to_bf16_bits(v)}; }
  __host__ __device__ static b16 from_num(double v) { return b16{to_bf16_bits(static_cast<float>(v))}; }
  __host__ __device__ static b16 from_num_copy(double v) { return from_num(v); }
};

/**
 * Calls f with a value of the storage type of `d` (float, double, int32_t, uint8_t, h16, b16).
 *   dispatch_storage(v.dtype, call, [&](auto tag) { using T = decltype(tag); ... });
 */
template <typename F>
void dispatch_storage(DType d, const Call& call, F&& f) {
  switch (d) {
    case DType::F32:
      f(float{});
      return;
    case DType::F64:
      f(double{});
      return;
    case DType::I32:
      f(int32_t{});
      return;
    case DType::Bool:
      f(uint8_t{});
      return;
    case DType::F16:
      f(h16{});
      return;
    case DType::BF16:
      f(b16{});
      return;
  }
  call.fail("unsupported dtype");
}

/** Calls f with an unsigned type of `bytes` bytes (raw moves: copy of one dtype, where, gather). */
template <typename F>
void dispatch_bytes(size_t bytes, const Call& call, F&& f) {
  switch (bytes) {
    case 1:
      f(uint8_t{});
      return;
    case 2:
      f(uint16_t{});
      return;
    case 4:
      f(uint32_t{});
      return;
    case 8:
      f(uint64_t{});
      return;
    default:
      call.fail("unsupported element size");
  }
}

// ---- strided plans ------------------------------------------------------------------------------

/**
 * K views of one shape, size-1 dims dropped and mergeable dims coalesced (as the cpu device's
 * ew::make_plan), stored innermost dim first so the device loop indexes params with constants.
 * Offsets are not here: kernels take View::ptr(), which already adds them.
 */
template <int K>
struct Plan {
  int nd = 1;
  int64_t shape[kMaxDims] = {};  // shape[0] is the innermost dim
  int64_t st[K][kMaxDims] = {};

  /** Every view unit-stride or broadcast (stride 0) along one dim: the flat, vectorisable case. */
  bool flat() const {
    if (nd != 1) return false;
    for (int k = 0; k < K; k++)
      if (st[k][0] != 0 && st[k][0] != 1) return false;
    return true;
  }
};

/** Views must all have `ref`'s shape (the caller checks). */
template <int K>
Plan<K> make_plan(const View* const (&v)[K], const View& ref) {
  int64_t shape[kMaxDims];
  int64_t st[K][kMaxDims];
  int nd = 0;
  for (int d = 0; d < ref.ndim; d++) {
    if (ref.shape[d] == 1) continue;
    bool merge = nd > 0;
    for (int k = 0; k < K && merge; k++)
      if (st[k][nd - 1] != v[k]->strides[d] * ref.shape[d]) merge = false;
    if (merge) {
      shape[nd - 1] *= ref.shape[d];
      for (int k = 0; k < K; k++) st[k][nd - 1] = v[k]->strides[d];
    } else {
      shape[nd] = ref.shape[d];
      for (int k = 0; k < K; k++) st[k][nd] = v[k]->strides[d];
      nd++;
    }
  }
  Plan<K> p;
  if (nd == 0) {  // a scalar (numel 0 never reaches a launch)
    p.nd = 1;
    p.shape[0] = ref.numel;
    for (int k = 0; k < K; k++) p.st[k][0] = 0;
    return p;
  }
  p.nd = nd;
  for (int d = 0; d < nd; d++) {
    p.shape[d] = shape[nd - 1 - d];
    for (int k = 0; k < K; k++) p.st[k][d] = st[k][nd - 1 - d];
  }
  return p;
}

/**
 * Element offsets of linear element i (row-major over the plan's shape) in each of the K views.
 * 32-bit division when every index fits (I = uint32_t), which the caller guarantees by numel.
 */
template <int K, typename I>
__device__ __forceinline__ void plan_offsets(const Plan<K>& p, I i, int64_t (&off)[K]) {
#pragma unroll
  for (int k = 0; k < K; k++) off[k] = 0;
#pragma unroll
  for (int d = 0; d < kMaxDims; d++) {
    if (d == p.nd - 1) {  // the outermost dim takes what is left
#pragma unroll
      for (int k = 0; k < K; k++) off[k] += static_cast<int64_t>(i) * p.st[k][d];
      break;
    }
    const I n = static_cast<I>(p.shape[d]);
    const I q = i / n;
    const int64_t c = static_cast<int64_t>(i - q * n);
#pragma unroll
    for (int k = 0; k < K; k++) off[k] += c * p.st[k][d];
    i = q;
  }
}

/** Whether linear indices of n elements fit the 32-bit offset loop. */
__host__ __device__ inline bool fits32(int64_t n) { return n <= 0xffffffffLL; }

// ---- launches -----------------------------------------------------------------------------------

constexpr int kThreads = 256;

/** Blocks for a grid-stride loop over `work` items: enough to fill the GPU a few times over. */
inline unsigned grid_for(int64_t work) {
  unsigned b = cuda::blocks_for(work, kThreads);
  const unsigned cap = static_cast<unsigned>(cuda::props().multiProcessorCount) * 32u;
  return b < cap ? b : cap;
}

__device__ __forceinline__ int64_t thread_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t thread_count() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

/** Four consecutive elements, aligned for one vector load or store (16 bytes for float32). */
template <typename T>
struct alignas(4 * sizeof(T)) Vec4 {
  T v[4];
};

/** Whether p may be accessed as Vec4<T> (the allocator aligns storages; offsets may not). */
template <typename T>
inline bool vec_aligned(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % (4 * sizeof(T)) == 0;
}

}  // namespace
}  // namespace tessera
