// random: core's counter-based Philox4x32-10 fill (packages/core/src/random.ts, philoxFill),
// bit for bit: the same lanes per element, the same float64 formulas, then the storage dtype's
// rounding (float32: Math.fround; int32: castScalar). Blocks are independent, so threads split them.
#include <cmath>
#include <cstdint>

#include "kernels/elementwise.h"
#include "kernels/random_args.h"
#include "tessera.h"

namespace tessera {
namespace {

constexpr uint32_t kM0 = 0xd2511f53u;
constexpr uint32_t kM1 = 0xcd9e8d57u;
constexpr uint32_t kW0 = 0x9e3779b9u;
constexpr uint32_t kW1 = 0xbb67ae85u;
constexpr double kU24 = 1.0 / 16777216.0;
constexpr double kTwo32 = 4294967296.0;
constexpr double kPi = 3.141592653589793;  // Math.PI

inline void philox4x32(uint64_t counter, uint32_t k0, uint32_t k1, uint32_t out[4]) {
  uint32_t x0 = static_cast<uint32_t>(counter);
  uint32_t x1 = static_cast<uint32_t>(counter >> 32);
  uint32_t x2 = 0, x3 = 0;
  for (int r = 0; r < 10; r++) {
    const uint64_t p0 = static_cast<uint64_t>(kM0) * x0;
    const uint64_t p1 = static_cast<uint64_t>(kM1) * x2;
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
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

/** A float64 draw rounded to the storage dtype as core does (castScalar for int32/bool). */
template <typename T>
inline T to_storage(double v);
template <>
inline float to_storage<float>(double v) {
  return static_cast<float>(v);
}
template <>
inline double to_storage<double>(double v) {
  return v;
}
template <>
inline int32_t to_storage<int32_t>(double v) {
  return ew::to_int32(v);  // castScalar('int32'): NaN → 0, Math.trunc(x) | 0
}
template <>
inline uint8_t to_storage<uint8_t>(double v) {
  return v != 0 ? 1 : 0;
}

struct Dist {
  int kind;
  double p1, p2;
  uint32_t k0, k1;
  uint64_t counter;
};

/** uniform (0), bernoulli (2), randint (3): element i is lane i % 4 of block counter + i / 4. */
template <int Kind, typename T>
void fill4(const Dist& d, T* out, int64_t n) {
  const int64_t blocks = (n + 3) / 4;
  const double low = d.p1, range = d.p2 - d.p1;  // high − low, as the TS computes it
  parallel_for(blocks, 4096, [&](int64_t b0, int64_t b1) {
    uint32_t lanes[4];
    for (int64_t b = b0; b < b1; b++) {
      philox4x32(d.counter + static_cast<uint64_t>(b), d.k0, d.k1, lanes);
      const int m = b * 4 + 4 <= n ? 4 : static_cast<int>(n - b * 4);
      for (int j = 0; j < m; j++) {
        const uint32_t bits = lanes[j];
        double v;
        if constexpr (Kind == 0)
          v = low + static_cast<double>(bits >> 8) * kU24 * range;
        else if constexpr (Kind == 2)
          v = static_cast<double>(bits >> 8) * kU24 < d.p1 ? 1.0 : 0.0;
        else
          v = low + std::floor((static_cast<double>(bits) * range) / kTwo32);
        out[b * 4 + j] = to_storage<T>(v);
      }
    }
  });
}

template <typename T>
void fill(const Dist& d, T* out, int64_t n) {
  if (d.kind == 1) {  // normal: two elements per block
    const int64_t blocks = (n + 1) / 2;
    parallel_for(blocks, 2048, [&](int64_t b0, int64_t b1) {
      uint32_t lanes[4];
      for (int64_t b = b0; b < b1; b++) {
        philox4x32(d.counter + static_cast<uint64_t>(b), d.k0, d.k1, lanes);
        for (int j = 0; j < 2 && b * 2 + j < n; j++) {
          const double u1 = static_cast<double>((lanes[2 * j] >> 8) + 1) * kU24;
          const double u2 = static_cast<double>(lanes[2 * j + 1] >> 8) * kU24;
          const double z = d.p1 + d.p2 * std::sqrt(-2 * std::log(u1)) * std::cos(2 * kPi * u2);
          out[b * 2 + j] = to_storage<T>(z);
        }
      }
    });
    return;
  }
  switch (d.kind) {
    case 0:
      fill4<0>(d, out, n);
      break;
    case 2:
      fill4<2>(d, out, n);
      break;
    default:
      fill4<3>(d, out, n);
      break;
  }
}

}  // namespace
}  // namespace tessera

using tessera::DType;
using tessera::View;

TESSERA_KERNEL(random) {
  const tessera::random_args::Args a = tessera::random_args::read(call);
  const View& dst = *a.dst;
  const tessera::Dist d{a.kind, a.p1, a.p2, a.k0, a.k1, a.counter};
  const int64_t n = dst.numel;
  if (n == 0) return;
  switch (dst.dtype) {
    case DType::F32:
      tessera::fill(d, dst.ptr<float>(), n);
      break;
    case DType::I32:
      tessera::fill(d, dst.ptr<int32_t>(), n);
      break;
    case DType::F64:
      tessera::fill(d, dst.ptr<double>(), n);
      break;
    case DType::Bool:
      tessera::fill(d, dst.ptr<uint8_t>(), n);
      break;
    default:
      call.fail("dst must be float32, int32, float64 or bool (half dtypes are drawn in float32 by the caller)");
  }
}
