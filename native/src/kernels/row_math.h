// Branch-free float32 exp/erfc that GCC vectorises inside plain loops (no libm call per element),
// shared by the row kernels (softmax, gelu, crossEntropy). Everything here has internal linkage and
// calls no inline library template, so a TU compiled with AVX-512 flags cannot leak its copy into
// baseline code through the linker (ODR merging of COMDAT functions).
#pragma once

#include <cstdint>
#include <cstring>

namespace tessera {
namespace {

inline float rm_bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

/**
 * exp(x) for float32, within ~2 ulp on the normal range: Cody–Waite reduction by ln 2 and a degree-6
 * polynomial. exp(-Inf) = 0, exp(+Inf) = +Inf, NaN stays NaN; results below the smallest normal
 * flush to 0 (an absolute error under 1.2e-38).
 */
inline float rm_exp(float x) {
  const float hi = 88.72283f, lo = -87.33654f;
  float xc = x > hi ? hi : x;
  xc = xc < lo ? lo : xc;  // NaN passes through both (comparisons are false) and is restored below
  // n = round(x / ln 2) by the 1.5·2^23 trick (round to nearest even, |n| < 2^22).
  const float shifter = 12582912.0f;
  float n = (xc * 1.44269504088896341f + shifter) - shifter;
  float r = xc - n * 0.693359375f;    // ln 2 split: 0.693359375 is exact in 9 bits
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // 2^n: n in [-126, 128] after clamping; split into two factors so n = 128 does not overflow the exponent.
  int32_t ni = static_cast<int32_t>(n);
  int32_t n1 = ni >> 1;
  int32_t n2 = ni - n1;
  float s1 = rm_bits_to_float(static_cast<uint32_t>(n1 + 127) << 23);
  float s2 = rm_bits_to_float(static_cast<uint32_t>(n2 + 127) << 23);
  float y = p * s1 * s2;
  y = x > hi ? __builtin_inff() : y;
  y = x < lo ? 0.0f : y;
  return x != x ? x : y;
}

/**
 * erfc(z) for z >= 0 (Numerical Recipes' Chebyshev fit, fractional error < 1.2e-7, the form
 * backend-js uses), evaluated in float32.
 */
inline float rm_erfc_pos(float z) {
  float t = 1.0f / (1.0f + 0.5f * z);
  float p = 0.17087277f;
  p = p * t + -0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t + -1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t + -0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t + -1.26551223f;
  return t * rm_exp(p - z * z);
}

/** erf(z) for |z| < 0.5 by its Taylor series (truncation error < 1e-9). */
inline float rm_erf_small(float z) {
  float z2 = z * z;
  // 2/√π Σ (−1)^n z^(2n+1) / (n! (2n+1)), n = 0..7
  float s = -1.0f / (5040.0f * 15.0f);
  s = s * z2 + 1.0f / (720.0f * 13.0f);
  s = s * z2 + -1.0f / (120.0f * 11.0f);
  s = s * z2 + 1.0f / (24.0f * 9.0f);
  s = s * z2 + -1.0f / (6.0f * 7.0f);
  s = s * z2 + 1.0f / (2.0f * 5.0f);
  s = s * z2 + -1.0f / 3.0f;
  s = s * z2 + 1.0f;
  return s * z * 1.1283791670955126f;
}

/** 1 + erf(z), without the cancellation of 1 + (erfc − 1) for negative z. */
inline float rm_one_plus_erf(float z) {
  float az = z < 0.0f ? -z : z;
  float c = rm_erfc_pos(az);
  float big = z < 0.0f ? c : 2.0f - c;
  float small = 1.0f + rm_erf_small(z);
  return az < 0.5f ? small : big;
}

}  // namespace
}  // namespace tessera
