// Shared machinery of the elementwise kernels (copy, fill, where, unary, binary, random):
// JS number→typed-array conversions, a strided N-d row iterator that coalesces dims, and
// per-dtype row loaders/storers through a float64 buffer (how backend-js computes: every value is
// a JS number, rounded to the storage dtype on store).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "tessera.h"

namespace tessera {
namespace ew {

/** JS ToInt32 (what an Int32Array store does): NaN/±Inf → 0, truncate, wrap modulo 2^32. */
inline int32_t to_int32(double d) {
  if (d > -2147483649.0 && d < 2147483648.0) return static_cast<int32_t>(d);
  if (!std::isfinite(d)) return 0;
  double m = std::fmod(std::trunc(d), 4294967296.0);
  if (m < 0) m += 4294967296.0;
  return static_cast<int32_t>(static_cast<uint32_t>(m));
}

/** JS ToUint8 (a Uint8Array store, i.e. a bool storage written by arithmetic). */
inline uint8_t to_uint8(double d) {
  if (d >= 0 && d < 256.0) return static_cast<uint8_t>(d);
  if (!std::isfinite(d)) return 0;
  double m = std::fmod(std::trunc(d), 256.0);
  if (m < 0) m += 256.0;
  return static_cast<uint8_t>(m);
}

/**
 * Inline float32 → float16 bits, round to nearest even, bit-identical to tessera::f32_to_f16 (and
 * core's f32ToF16): NaN → sign|0x7e00, overflow → ±Inf, subnormals rounded by one float addition
 * (F. Giesen's float_to_half_fast3_rtne; it relies on the default rounding mode).
 */
inline uint16_t f32_to_f16_inline(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint32_t sign = (u >> 16) & 0x8000u;
  u &= 0x7fffffffu;
  uint32_t o;
  if (u >= (143u << 23)) {  // ≥ 65536 after rounding can only be Inf; or Inf/NaN
    o = u > 0x7f800000u ? 0x7e00u : 0x7c00u;
  } else if (u < (113u << 23)) {  // below 2^-14: a half subnormal or zero
    float t;
    std::memcpy(&t, &u, 4);
    t += 0.5f;  // denormal magic: 2^-1 aligns the half subnormal's lsb with float's lsb
    std::memcpy(&o, &t, 4);
    o -= 0x3f000000u;
  } else {
    const uint32_t mant_odd = (u >> 13) & 1u;
    u += (static_cast<uint32_t>(15 - 127) << 23) + 0xfffu + mant_odd;
    o = u >> 13;
  }
  return static_cast<uint16_t>(o | sign);
}

/** Inline float16 bits → float32, bit-identical to tessera::f16_to_f32 (NaNs come back quiet). */
inline float f16_to_f32_inline(uint16_t h) {
  uint32_t o = static_cast<uint32_t>(h & 0x7fffu) << 13;
  const uint32_t exp = o & (0x7c00u << 13);
  o += static_cast<uint32_t>(127 - 15) << 23;
  float f;
  if (exp == (0x7c00u << 13)) {  // Inf/NaN
    o += static_cast<uint32_t>(128 - 16) << 23;
    if (o & 0x7fffffu) o |= 0x400000u;
    std::memcpy(&f, &o, 4);
  } else if (exp == 0) {  // zero/subnormal: renormalise through a float subtraction
    o += 1u << 23;
    std::memcpy(&f, &o, 4);
    f -= 6.103515625e-05f;  // 2^-14
  } else {
    std::memcpy(&f, &o, 4);
  }
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  bits |= static_cast<uint32_t>(h & 0x8000u) << 16;
  std::memcpy(&f, &bits, 4);
  return f;
}

/** Inline float32 → bfloat16 bits, as tessera::f32_to_bf16 (round to nearest even, NaN stays quiet). */
inline uint16_t f32_to_bf16_inline(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>(((bits >> 16) | 0x40u) & 0xffffu);
  return static_cast<uint16_t>(((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16) & 0xffffu);
}

/** A row plan over K views of one shape: size-1 dims dropped, mergeable dims coalesced. */
template <int K>
struct Plan {
  int nd = 1;
  int64_t n = 0;
  int64_t shape[kMaxDims] = {};
  int64_t st[K][kMaxDims] = {};
  int64_t off[K] = {};
  int64_t inner() const { return shape[nd - 1]; }
  int64_t istride(int k) const { return st[k][nd - 1]; }
};

/** Views must all have `ref`'s shape (the caller checks). */
template <int K>
Plan<K> make_plan(const View* const (&v)[K], const View& ref) {
  Plan<K> p;
  p.n = ref.numel;
  for (int k = 0; k < K; k++) p.off[k] = v[k]->offset;
  int nd = 0;
  for (int d = 0; d < ref.ndim; d++) {
    if (ref.shape[d] == 1) continue;
    bool merge = nd > 0;
    for (int k = 0; k < K && merge; k++)
      if (p.st[k][nd - 1] != v[k]->strides[d] * ref.shape[d]) merge = false;
    if (merge) {
      p.shape[nd - 1] *= ref.shape[d];
      for (int k = 0; k < K; k++) p.st[k][nd - 1] = v[k]->strides[d];
    } else {
      p.shape[nd] = ref.shape[d];
      for (int k = 0; k < K; k++) p.st[k][nd] = v[k]->strides[d];
      nd++;
    }
  }
  if (nd == 0) {
    nd = 1;
    p.shape[0] = ref.numel;  // 1, or 0 for an empty tensor (a size-0 dim is kept above)
    for (int k = 0; k < K; k++) p.st[k][0] = 0;
  }
  p.nd = nd;
  return p;
}

/** True when some element of view `k` is addressed twice (a stride-0 dim of size > 1). */
template <int K>
bool overlaps(const Plan<K>& p, int k) {
  for (int d = 0; d < p.nd; d++)
    if (p.shape[d] > 1 && p.st[k][d] == 0) return true;
  return false;
}

/**
 * Calls fn(off, count) for each run of the innermost dim covering linear elements [begin, end);
 * off[k] is view k's element offset of the run's first element (inner strides: p.istride(k)).
 */
template <int K, typename F>
void for_rows(const Plan<K>& p, int64_t begin, int64_t end, F&& fn) {
  if (begin >= end) return;
  const int nd = p.nd;
  const int64_t inner = p.shape[nd - 1];
  int64_t idx[kMaxDims];
  int64_t o[K];
  for (int k = 0; k < K; k++) o[k] = p.off[k];
  int64_t rem = begin;
  for (int d = nd - 1; d >= 0; d--) {
    idx[d] = rem % p.shape[d];
    rem /= p.shape[d];
    for (int k = 0; k < K; k++) o[k] += idx[d] * p.st[k][d];
  }
  int64_t pos = begin;
  while (true) {
    const int64_t cnt = std::min(inner - idx[nd - 1], end - pos);
    fn(o, cnt);
    pos += cnt;
    if (pos >= end) break;
    idx[nd - 1] += cnt;
    for (int k = 0; k < K; k++) o[k] += cnt * p.st[k][nd - 1];
    for (int d = nd - 1; d > 0 && idx[d] == p.shape[d]; d--) {
      for (int k = 0; k < K; k++) o[k] += p.st[k][d - 1] - idx[d] * p.st[k][d];
      idx[d] = 0;
      idx[d - 1]++;
    }
  }
}

/** Runs for_rows over the plan, split across the pool unless `serial`. */
template <int K, typename F>
void run_rows(const Plan<K>& p, int64_t grain, bool serial, F&& fn) {
  if (p.n <= 0) return;
  if (serial || p.n <= grain) {
    for_rows(p, 0, p.n, fn);
    return;
  }
  parallel_for(p.n, grain, [&](int64_t b, int64_t e) { for_rows(p, b, e, fn); });
}

/**
 * o[i] = f(x[i]) over a plan of (x, out) with a unit-stride and a strided row loop; serial when out
 * overlaps x. The typed fast paths of copy and unary.
 */
template <typename TI, typename TO, typename F>
void map_rows(const Plan<2>& p, const TI* px, TO* po, int64_t grain, F f) {
  const int64_t sx = p.istride(0), so = p.istride(1);
  run_rows(p, grain, overlaps(p, 1), [&](const int64_t* off, int64_t n) {
    const TI* a = px + off[0];
    TO* o = po + off[1];
    if (sx == 1 && so == 1)
      for (int64_t i = 0; i < n; i++) o[i] = f(a[i]);
    else
      for (int64_t i = 0; i < n; i++) o[i * so] = f(a[i * sx]);
  });
}

constexpr int64_t kChunk = 256;  // elements per float64 buffer pass

/** Loads n elements (element stride s, starting at element `off` of the storage) as JS numbers. */
void load_f64(const View& v, int64_t off, int64_t s, int64_t n, double* buf);

/**
 * Stores n JS numbers with typed-array semantics (float32 rounds, int32 is ToInt32, half encodes
 * through float32). bool: `nonzero` gives x != 0 (copy's rule), otherwise ToUint8 (an arithmetic
 * result written to a Uint8Array, as backend-js does).
 */
void store_f64(const View& v, int64_t off, int64_t s, int64_t n, const double* buf, bool nonzero);

/** Throws unless every view has the shape of `ref`. */
inline void check_same_shape(const Call& call, const View& ref, const View& v, const char* what) {
  call.check(v.same_shape(ref), what);
}

}  // namespace ew
}  // namespace tessera
