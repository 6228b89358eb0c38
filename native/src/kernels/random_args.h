// View checks and attribute reading of random, shared by the cpu kernel (random.cc) and the cuda one
// (cuda/random.cu). Host code only; compiles as C++17 under nvcc.
#pragma once

#include <cmath>
#include <cstdint>

#include "tessera.h"

namespace tessera {
namespace random_args {

/** Philox key word i (attributes 3, 4): an integer in [0, 2^32). */
inline uint32_t key_word(const Call& call, size_t i) {
  const int64_t k = call.iattr(i);
  call.check(k >= 0 && k <= 0xffffffffLL, "key words must be in [0, 2^32)");
  return static_cast<uint32_t>(k);
}

/**
 * A checked random call: dst (present, contiguous; its dtype is the caller's to check) and attributes
 * kind (0 uniform, 1 normal, 2 bernoulli, 3 randint), p1, p2, the two key words and the block counter.
 */
struct Args {
  const View* dst;
  int kind;
  double p1, p2;
  uint32_t k0, k1;
  uint64_t counter;
};

inline Args read(const Call& call) {
  call.expect(1, 6);
  const View& dst = call.view(0);
  call.check(dst.present(), "dst is required");
  call.check(dst.contiguous(), "dst must be contiguous");
  const int64_t kind = call.iattr(0);
  call.check(kind >= 0 && kind <= 3, "kind must be 0 (uniform), 1 (normal), 2 (bernoulli) or 3 (randint)");
  const double counter = call.attr(5);
  call.check(counter >= 0 && counter <= 9007199254740992.0 && counter == std::floor(counter),
             "counter must be an integer in [0, 2^53]");
  Args a;
  a.dst = &dst;
  a.kind = static_cast<int>(kind);
  a.p1 = call.attr(1);
  a.p2 = call.attr(2);
  a.k0 = key_word(call, 3);
  a.k1 = key_word(call, 4);
  a.counter = static_cast<uint64_t>(counter);
  return a;
}

}  // namespace random_args
}  // namespace tessera
