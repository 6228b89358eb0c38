// Op indices and view checks of the elementwise kernels (copy, fill, where, unary, binary), shared by
// the cpu kernels (copy.cc, elementwise.cc) and the cuda ones (cuda/elementwise.cu). Host code only;
// compiles as C++17 under nvcc.
#pragma once

#include <cstdint>

#include "tessera.h"

namespace tessera {
namespace ew_ops {

// Op indices: UNARY_OPS / BINARY_OPS in packages/core/src/backend.ts, in that order.
enum Unary {
  kNeg,
  kAbs,
  kExp,
  kLog,
  kLog1p,
  kExpm1,
  kSqrt,
  kRsqrt,
  kReciprocal,
  kSin,
  kCos,
  kTanh,
  kSigmoid,
  kRelu,
  kErf,
  kSign,
  kFloor,
  kCeil,
  kRound,
  kLogicalNot,
  kIsnan,
  kNumUnary
};

enum Binary {
  kAdd,
  kSub,
  kMul,
  kDiv,
  kPow,
  kMaximum,
  kMinimum,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kLogicalAnd,
  kLogicalOr,
  kNumBinary
};

}  // namespace ew_ops

namespace ew_args {

using ew_ops::kNumBinary;
using ew_ops::kNumUnary;

/** copy: src and dst, present, of one shape (any dtypes). */
struct Copy {
  const View* src;
  const View* dst;
};

inline Copy copy(const Call& call) {
  call.expect(2, 0);
  const View& src = call.view(0);
  const View& dst = call.view(1);
  call.check(src.present() && dst.present(), "src and dst are required");
  call.check(src.same_shape(dst), "src and dst must have the same shape");
  return {&src, &dst};
}

/** fill: dst, present; the value is attribute 0. */
inline const View& fill(const Call& call) {
  call.expect(1, 1);
  const View& dst = call.view(0);
  call.check(dst.present(), "dst is required");
  return dst;
}

/** where: cond, a, b and out, present, of one shape; a, b and out of one dtype. */
struct Where {
  const View* c;
  const View* a;
  const View* b;
  const View* out;
};

inline Where where(const Call& call) {
  call.expect(4, 0);
  const View& c = call.view(0);
  const View& a = call.view(1);
  const View& b = call.view(2);
  const View& out = call.view(3);
  call.check(c.present() && a.present() && b.present() && out.present(), "cond, a, b and out are required");
  call.check(c.same_shape(out) && a.same_shape(out) && b.same_shape(out), "cond, a, b and out must have one shape");
  call.check(a.dtype == out.dtype && b.dtype == out.dtype, "a, b and out must have one dtype");
  return {&c, &a, &b, &out};
}

/** unary: x and out, present, of one shape, and a known op (attribute 0). */
struct UnaryCall {
  const View* x;
  const View* out;
  int op;
};

inline UnaryCall unary(const Call& call) {
  call.expect(2, 1);
  const View& x = call.view(0);
  const View& out = call.view(1);
  call.check(x.present() && out.present(), "x and out are required");
  call.check(x.same_shape(out), "x and out must have the same shape");
  const int64_t op = call.iattr(0);
  call.check(op >= 0 && op < kNumUnary, "unknown unary op");
  return {&x, &out, static_cast<int>(op)};
}

/** binary: a, b and out, present, of one shape, a and b of one dtype, and a known op (attribute 0). */
struct BinaryCall {
  const View* a;
  const View* b;
  const View* out;
  int op;
};

inline BinaryCall binary(const Call& call) {
  call.expect(3, 1);
  const View& a = call.view(0);
  const View& b = call.view(1);
  const View& out = call.view(2);
  call.check(a.present() && b.present() && out.present(), "a, b and out are required");
  call.check(a.same_shape(out) && b.same_shape(out), "a, b and out must have the same shape");
  call.check(a.dtype == b.dtype, "a and b must have the same dtype");
  const int64_t op = call.iattr(0);
  call.check(op >= 0 && op < kNumBinary, "unknown binary op");
  return {&a, &b, &out, static_cast<int>(op)};
}

}  // namespace ew_args
}  // namespace tessera
