// Argument checks and axis planning of reduce, shared by the cpu kernel (reduce.cc) and the cuda one
// (cuda/reduce.cu). Host code only; compiles as C++17 under nvcc.
#pragma once

#include <cstdint>
#include <vector>

#include "tessera.h"

namespace tessera {
namespace reduce_plan {

/** Op indices of reduce (attribute 0). */
enum class Op { Sum = 0, Prod = 1, Max = 2, Min = 3, ArgMax = 4, ArgMin = 5 };

/** A run of x's dims coalesced into one: all kept or all reduced. */
struct Block {
  int64_t size;
  int64_t stride;
  bool reduced;
};

/**
 * A checked reduce call: x and out (contiguous unless empty), the op, and the reduced axes (attributes
 * 1…, sorted and distinct); out is x's shape with reduced axes set to 1, int32 for argmax/argmin (which
 * take one axis) and x's dtype otherwise.
 */
struct Plan {
  const View* x;
  const View* out;
  Op op;
  int nd;
  bool reduced[kMaxDims];
  int naxes;
  int last;  // the last reduced axis, -1 when none
  bool arg;  // argmax or argmin
};

inline Plan plan(const Call& call) {
  call.expect(2, 1);
  const View& x = call.view(0);
  const View& out = call.view(1);
  // An empty view may have no storage behind it and any strides (core's contiguous() keeps it as is).
  call.check(x.numel == 0 || (x.present() && x.contiguous()), "x must be present and contiguous");
  call.check(out.numel == 0 || (out.present() && out.contiguous()), "out must be present and contiguous");
  const int64_t opi = call.iattr(0);
  call.check(opi >= 0 && opi <= 5, "op index out of range");
  Plan p{};
  p.x = &x;
  p.out = &out;
  p.op = static_cast<Op>(opi);
  const int nd = x.ndim;
  p.nd = nd;
  p.naxes = 0;
  p.last = -1;
  for (size_t i = 1; i < call.attrs.size(); i++) {
    const int64_t a = call.iattr(i);
    call.check(a >= 0 && a < nd, "axis out of range");
    call.check(a > p.last, "axes must be sorted and distinct");
    p.reduced[a] = true;
    p.last = static_cast<int>(a);
    p.naxes++;
  }
  call.check(out.ndim == nd, "out must have x's rank");
  for (int i = 0; i < nd; i++)
    call.check(out.shape[i] == (p.reduced[i] ? 1 : x.shape[i]), "out must have x's shape with reduced axes set to 1");
  p.arg = p.op == Op::ArgMax || p.op == Op::ArgMin;
  if (p.arg) {
    call.check(out.dtype == DType::I32, "argmax/argmin write int32");
    call.check(p.naxes == 1, "argmax/argmin take exactly one axis");
  } else {
    call.check(out.dtype == x.dtype, "out must have x's dtype");
  }
  return p;
}

/** Coalesce: drop size-1 dims, merge neighbours that are both kept or both reduced (x is contiguous). */
inline std::vector<Block> coalesce(const View& x, const bool* reduced) {
  std::vector<Block> rev;
  int64_t stride = 1;
  for (int i = x.ndim - 1; i >= 0; i--) {
    const int64_t s = x.shape[i];
    if (s == 1) continue;
    if (!rev.empty() && rev.back().reduced == reduced[i]) {
      rev.back().size *= s;
    } else {
      rev.push_back({s, stride, reduced[i]});
    }
    stride *= s;
  }
  return std::vector<Block>(rev.rbegin(), rev.rend());
}

/**
 * Appends every block but the last (the innermost, walked apart) to kept or red by kind, outer first.
 * D: any dims list with n, size[] and stride[] (the cpu's Odometer, the cuda's Dims).
 */
template <typename D>
inline void split_leading(const std::vector<Block>& blocks, D& kept, D& red) {
  for (size_t i = 0; i + 1 < blocks.size(); i++) {
    D& d = blocks[i].reduced ? red : kept;
    d.size[d.n] = blocks[i].size;
    d.stride[d.n] = blocks[i].stride;
    d.n++;
  }
}

}  // namespace reduce_plan
}  // namespace tessera
