// Elementwise kernels of the cuda device: copy (any dtype pair), fill, where, unary and binary.
// Semantics are the cpu device's (native/src/kernels/copy.cc, elementwise.cc), i.e. backend-js's:
// values behave as JS numbers rounded to the storage dtype on store.
//
// One op table each for unary and binary (unary_op, binary_op), evaluated in float32 for the floating
// dtypes (float16/bfloat16 load to float32 and round once at the store, as the float32 round trip the
// TS side would otherwise make) and in float64 for everything else (ints, bools, mixed dtypes), which
// is exactly what the cpu device computes. Common dtype combinations get typed kernels with the op as
// a template parameter; the rest go through one generic kernel that switches on dtypes and op per
// element (uniform branches, and those cases are rare).
//
// Float32 transcendental ops use CUDA's precise single-precision functions (expf, tanhf, …; never the
// __expf intrinsics); the cpu device evaluates them in float64, so results agree to a few float32 ulps,
// not bit for bit. Everything else (+ − × ÷ √, rounding, comparisons, conversions) is bit-identical.
#include <type_traits>
#include <utility>

#include "kernels/elementwise_args.h"
#include "strided.cuh"

namespace tessera {
namespace {

// Op indices: UNARY_OPS / BINARY_OPS in packages/core/src/backend.ts, in that order.
using namespace ew_ops;  // Unary, Binary

/** Calls f(std::integral_constant<int, v>) for the runtime v in [Lo, Hi). */
template <int Lo, int Hi, typename F>
void static_range(int v, F&& f) {
  if constexpr (Lo < Hi) {
    if (v == Lo) {
      f(std::integral_constant<int, Lo>{});
      return;
    }
    static_range<Lo + 1, Hi>(v, f);
  }
}

// ---- the op tables ------------------------------------------------------------------------------

__device__ __forceinline__ float and_bits(float a, float b) {
  return __uint_as_float(__float_as_uint(a) & __float_as_uint(b));
}
__device__ __forceinline__ double and_bits(double a, double b) {
  return __longlong_as_double(__double_as_longlong(a) & __double_as_longlong(b));
}
__device__ __forceinline__ int32_t and_bits(int32_t a, int32_t b) { return a & b; }
__device__ __forceinline__ float or_bits(float a, float b) {
  return __uint_as_float(__float_as_uint(a) | __float_as_uint(b));
}
__device__ __forceinline__ double or_bits(double a, double b) {
  return __longlong_as_double(__double_as_longlong(a) | __double_as_longlong(b));
}
__device__ __forceinline__ int32_t or_bits(int32_t a, int32_t b) { return a | b; }

// Math.max / Math.min: a NaN operand wins; equal operands are ±0 or identical, so AND of the bits
// gives max's +0 and OR gives min's −0.
template <typename C>
__device__ __forceinline__ C js_max(C a, C b) {
  C m = a > b ? a : b;
  m = a == b ? and_bits(a, b) : m;
  return a != a ? a : m;
}
template <typename C>
__device__ __forceinline__ C js_min(C a, C b) {
  C m = a < b ? a : b;
  m = a == b ? or_bits(a, b) : m;
  return a != a ? a : m;
}

/** One unary op in compute type C (float or double), as backend-js's math.ts. */
template <int Op, typename C>
__device__ __forceinline__ C unary_op(C v) {
  static_assert(std::is_same_v<C, float> || std::is_same_v<C, double>, "float or double");
  constexpr bool F = std::is_same_v<C, float>;
  if constexpr (Op == kNeg) {
    return -v;
  } else if constexpr (Op == kAbs) {
    return F ? fabsf(v) : fabs(v);
  } else if constexpr (Op == kExp) {
    return F ? expf(v) : exp(v);
  } else if constexpr (Op == kLog) {
    return F ? logf(v) : log(v);
  } else if constexpr (Op == kLog1p) {
    return F ? log1pf(v) : log1p(v);
  } else if constexpr (Op == kExpm1) {
    return F ? expm1f(v) : expm1(v);
  } else if constexpr (Op == kSqrt) {
    return F ? sqrtf(v) : sqrt(v);  // correctly rounded (nvcc's default -prec-sqrt=true)
  } else if constexpr (Op == kRsqrt) {
    // 1 / Math.sqrt(x) in float64 then rounded: two float32 roundings could differ by an ulp.
    return static_cast<C>(1.0 / sqrt(static_cast<double>(v)));
  } else if constexpr (Op == kReciprocal) {
    return C(1) / v;
  } else if constexpr (Op == kSin) {
    return F ? sinf(v) : sin(v);
  } else if constexpr (Op == kCos) {
    return F ? cosf(v) : cos(v);
  } else if constexpr (Op == kTanh) {
    return F ? tanhf(v) : tanh(v);
  } else if constexpr (Op == kSigmoid) {
    // Split at 0 so that exp never overflows: the large-|x| tails saturate to exactly 0 and 1.
    if (v >= 0) return C(1) / (C(1) + (F ? expf(-v) : exp(-v)));
    const C e = F ? expf(v) : exp(v);
    return e / (C(1) + e);
  } else if constexpr (Op == kRelu) {
    return (v > 0 || v != v) ? v : C(0);
  } else if constexpr (Op == kErf) {
    return F ? erff(v) : erf(v);
  } else if constexpr (Op == kSign) {
    return v > 0 ? C(1) : v < 0 ? C(-1) : v;  // ±0 and NaN pass through
  } else if constexpr (Op == kFloor) {
    return F ? floorf(v) : floor(v);
  } else if constexpr (Op == kCeil) {
    return F ? ceilf(v) : ceil(v);
  } else if constexpr (Op == kRound) {
    return F ? rintf(v) : rint(v);  // half to even
  } else if constexpr (Op == kLogicalNot) {
    return v == 0 ? C(1) : C(0);
  } else {
    static_assert(Op == kIsnan, "unknown unary op");
    return v != v ? C(1) : C(0);
  }
}

/**
 * One binary op in compute type C (float, double, or int32_t for max/min and the comparisons).
 * Comparisons and logical ops give 1 or 0.
 */
template <int Op, typename C>
__device__ __forceinline__ C binary_op(C a, C b) {
  if constexpr (Op == kAdd) {
    return a + b;
  } else if constexpr (Op == kSub) {
    return a - b;
  } else if constexpr (Op == kMul) {
    return a * b;
  } else if constexpr (Op == kDiv) {
    return a / b;
  } else if constexpr (Op == kPow) {
    // C pow in float64, as the cpu device (pow(1, NaN) = 1, pow(−1, ±Inf) = 1). Squares, the common
    // case, are exact products either way, so they skip the float64 pow.
    if constexpr (std::is_same_v<C, float>) {
      if (b == 2.0f) return a * a;
      return static_cast<float>(pow(static_cast<double>(a), static_cast<double>(b)));
    } else {
      return pow(a, b);
    }
  } else if constexpr (Op == kMaximum) {
    return js_max(a, b);
  } else if constexpr (Op == kMinimum) {
    return js_min(a, b);
  } else if constexpr (Op == kEq) {
    return a == b ? C(1) : C(0);
  } else if constexpr (Op == kNe) {
    return a != b ? C(1) : C(0);
  } else if constexpr (Op == kLt) {
    return a < b ? C(1) : C(0);
  } else if constexpr (Op == kLe) {
    return a <= b ? C(1) : C(0);
  } else if constexpr (Op == kGt) {
    return a > b ? C(1) : C(0);
  } else if constexpr (Op == kGe) {
    return a >= b ? C(1) : C(0);
  } else if constexpr (Op == kLogicalAnd) {
    return (a != 0 && b != 0) ? C(1) : C(0);
  } else {
    static_assert(Op == kLogicalOr, "unknown binary op");
    return (a != 0 || b != 0) ? C(1) : C(0);
  }
}

/** int32 → int32 wrapping arithmetic: JS computes exactly then ToInt32 stores modulo 2^32. */
template <int Op>
__device__ __forceinline__ int32_t int_op(int32_t a, int32_t b) {
  const uint32_t x = static_cast<uint32_t>(a), y = static_cast<uint32_t>(b);
  if constexpr (Op == kAdd) return static_cast<int32_t>(x + y);
  else if constexpr (Op == kSub) return static_cast<int32_t>(x - y);
  else if constexpr (Op == kMul) return static_cast<int32_t>(x * y);  // Math.imul
  else return binary_op<Op, int32_t>(a, b);
}

/** The float32 compute result stored to TO (a bool output only ever receives 0 or 1). */
template <typename TO>
__device__ __forceinline__ TO put_flt(float v) {
  if constexpr (St<TO>::kFloat) return St<TO>::from_flt(v);
  else return St<TO>::from_num(v);
}

template <int Op, typename TI, typename TO>
struct UnaryFlt {
  __device__ TO operator()(TI v) const { return put_flt<TO>(unary_op<Op, float>(St<TI>::flt(v))); }
};

/** int32 → int32 neg, abs, relu, sign (−INT32_MIN wraps, as ToInt32 does). */
template <int Op>
struct UnaryInt {
  __device__ int32_t operator()(int32_t v) const {
    const uint32_t neg = 0u - static_cast<uint32_t>(v);
    if constexpr (Op == kNeg) return static_cast<int32_t>(neg);
    else if constexpr (Op == kAbs) return v < 0 ? static_cast<int32_t>(neg) : v;
    else if constexpr (Op == kRelu) return v > 0 ? v : 0;
    else return static_cast<int32_t>((v > 0) - (v < 0));
  }
};

template <int Op, typename T, typename TO>
struct BinaryFlt {
  __device__ TO operator()(T a, T b) const {
    return put_flt<TO>(binary_op<Op, float>(St<T>::flt(a), St<T>::flt(b)));
  }
};

/** int32 (or bool, compared as integers) operands. */
template <int Op, typename T, typename TO>
struct BinaryInt {
  __device__ TO operator()(T a, T b) const {
    return static_cast<TO>(int_op<Op>(static_cast<int32_t>(a), static_cast<int32_t>(b)));
  }
};

/** copy's conversion: the value as a JS number stored to D (float→int truncates, →bool is x != 0). */
template <typename S, typename D>
struct Convert {
  __device__ D operator()(S v) const {
    if constexpr (std::is_same_v<S, D>) {
      return v;
    } else if constexpr (St<S>::kFloat && St<D>::kFloat) {
      return St<D>::from_flt(St<S>::flt(v));
    } else if constexpr (St<S>::kFloat) {
      return St<D>::from_num_copy(St<S>::flt(v));
    } else {
      return St<D>::from_num_copy(St<S>::num(v));
    }
  }
};

// ---- the generic path: runtime dtypes and op, float64 compute ------------------------------------

__device__ double load_num(const void* p, DType d, int64_t i) {
  switch (d) {
    case DType::F32:
      return static_cast<const float*>(p)[i];
    case DType::F64:
      return static_cast<const double*>(p)[i];
    case DType::I32:
      return static_cast<const int32_t*>(p)[i];
    case DType::Bool:
      return static_cast<const uint8_t*>(p)[i];
    case DType::F16:
      return from_f16_bits(static_cast<const uint16_t*>(p)[i]);
    default:
      return from_bf16_bits(static_cast<const uint16_t*>(p)[i]);
  }
}

/** A JS number stored with typed-array semantics (what arithmetic writes; bool is ToUint8). */
__device__ void store_num(void* p, DType d, int64_t i, double v) {
  switch (d) {
    case DType::F32:
      static_cast<float*>(p)[i] = static_cast<float>(v);
      break;
    case DType::F64:
      static_cast<double*>(p)[i] = v;
      break;
    case DType::I32:
      static_cast<int32_t*>(p)[i] = js_int32(v);
      break;
    case DType::Bool:
      static_cast<uint8_t*>(p)[i] = js_uint8(v);
      break;
    case DType::F16:
      static_cast<uint16_t*>(p)[i] = to_f16_bits(static_cast<float>(v));
      break;
    default:
      static_cast<uint16_t*>(p)[i] = to_bf16_bits(static_cast<float>(v));
      break;
  }
}

template <int Op = 0>
__device__ double unary_num(int op, double v) {
  if constexpr (Op < kNumUnary) {
    if (op == Op) return unary_op<Op, double>(v);
    return unary_num<Op + 1>(op, v);
  } else {
    return v;
  }
}

template <int Op = 0>
__device__ double binary_num(int op, double a, double b, bool int_math) {
  if constexpr (Op < kNumBinary) {
    if (op == Op) {
      if constexpr (Op == kMul) {  // backend-js's intMath: int32 operands multiply as Math.imul
        if (int_math) return int_op<kMul>(static_cast<int32_t>(a), static_cast<int32_t>(b));
      }
      return binary_op<Op, double>(a, b);
    }
    return binary_num<Op + 1>(op, a, b, int_math);
  } else {
    return a;
  }
}

// ---- kernels --------------------------------------------------------------------------------------

/**
 * Grid-stride over the linear elements of a strided plan: fn(i, off) with off[k] view k's element
 * offset. 32-bit index arithmetic when the element count allows (a uniform branch).
 */
template <int K, typename Fn>
__device__ __forceinline__ void for_strided(const Plan<K>& p, int64_t n, Fn&& fn) {
  int64_t off[K];
  if (fits32(n)) {
    for (int64_t i = thread_index(); i < n; i += thread_count()) {
      plan_offsets<K, uint32_t>(p, static_cast<uint32_t>(i), off);
      fn(off);
    }
  } else {
    for (int64_t i = thread_index(); i < n; i += thread_count()) {
      plan_offsets<K, uint64_t>(p, static_cast<uint64_t>(i), off);
      fn(off);
    }
  }
}

/**
 * out = f(a) over one dim, a unit-stride or broadcast (sa = 0), out unit-stride. With `vec`, four
 * elements per step through 16-byte (float32) vector loads and stores.
 */
template <typename TA, typename TO, typename F>
__global__ void map1_flat(const TA* a, int64_t sa, TO* o, int64_t n, bool vec, F f) {
  if (vec) {
    const int64_t groups = n / 4;
    for (int64_t g = thread_index(); g < groups; g += thread_count()) {
      Vec4<TA> x;
      if (sa) {
        x = reinterpret_cast<const Vec4<TA>*>(a)[g];
      } else {
#pragma unroll
        for (int j = 0; j < 4; j++) x.v[j] = a[0];
      }
      Vec4<TO> y;
#pragma unroll
      for (int j = 0; j < 4; j++) y.v[j] = f(x.v[j]);
      reinterpret_cast<Vec4<TO>*>(o)[g] = y;
    }
    const int64_t t = groups * 4 + thread_index();  // the last n % 4 elements
    if (t < n) o[t] = f(a[t * sa]);
    return;
  }
  for (int64_t i = thread_index(); i < n; i += thread_count()) o[i] = f(a[i * sa]);
}

template <typename TA, typename TO, typename F>
__global__ void map1_strided(const TA* a, TO* o, const __grid_constant__ Plan<2> p, int64_t n, F f) {
  for_strided(p, n, [&](const int64_t(&off)[2]) { o[off[1]] = f(a[off[0]]); });
}

template <typename TA, typename TO, typename F>
__global__ void map2_flat(const TA* a, int64_t sa, const TA* b, int64_t sb, TO* o, int64_t n, bool vec, F f) {
  if (vec) {
    const int64_t groups = n / 4;
    for (int64_t g = thread_index(); g < groups; g += thread_count()) {
      Vec4<TA> x, y;
      if (sa) {
        x = reinterpret_cast<const Vec4<TA>*>(a)[g];
      } else {
#pragma unroll
        for (int j = 0; j < 4; j++) x.v[j] = a[0];
      }
      if (sb) {
        y = reinterpret_cast<const Vec4<TA>*>(b)[g];
      } else {
#pragma unroll
        for (int j = 0; j < 4; j++) y.v[j] = b[0];
      }
      Vec4<TO> z;
#pragma unroll
      for (int j = 0; j < 4; j++) z.v[j] = f(x.v[j], y.v[j]);
      reinterpret_cast<Vec4<TO>*>(o)[g] = z;
    }
    const int64_t t = groups * 4 + thread_index();
    if (t < n) o[t] = f(a[t * sa], b[t * sb]);
    return;
  }
  for (int64_t i = thread_index(); i < n; i += thread_count()) o[i] = f(a[i * sa], b[i * sb]);
}

template <typename TA, typename TO, typename F>
__global__ void map2_strided(const TA* a, const TA* b, TO* o, const __grid_constant__ Plan<3> p, int64_t n, F f) {
  for_strided(p, n, [&](const int64_t(&off)[3]) { o[off[2]] = f(a[off[0]], b[off[1]]); });
}

__global__ void unary_generic(const void* x, DType xd, void* o, DType od, const __grid_constant__ Plan<2> p,
                              int64_t n, int op) {
  for_strided(p, n, [&](const int64_t(&off)[2]) { store_num(o, od, off[1], unary_num(op, load_num(x, xd, off[0]))); });
}

__global__ void binary_generic(const void* a, const void* b, DType ad, void* o, DType od,
                               const __grid_constant__ Plan<3> p, int64_t n, int op) {
  const bool int_math = ad == DType::I32;
  for_strided(p, n, [&](const int64_t(&off)[3]) {
    store_num(o, od, off[2], binary_num(op, load_num(a, ad, off[0]), load_num(b, ad, off[1]), int_math));
  });
}

template <typename TC, typename T>
__global__ void where_strided(const TC* c, const T* a, const T* b, T* o, const __grid_constant__ Plan<4> p,
                              int64_t n) {
  for_strided(p, n, [&](const int64_t(&off)[4]) {
    const T x = a[off[1]], y = b[off[2]];
    o[off[3]] = St<TC>::nonzero(c[off[0]]) ? x : y;
  });
}

template <typename T>
__global__ void where_flat(const uint8_t* c, int64_t sc, const T* a, int64_t sa, const T* b, int64_t sb, T* o,
                           int64_t n) {
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    const T x = a[i * sa], y = b[i * sb];
    o[i] = c[i * sc] != 0 ? x : y;
  }
}

template <typename T>
__global__ void fill_flat(T* o, int64_t n, bool vec, T value) {
  if (vec) {
    const int64_t groups = n / 4;
    Vec4<T> v;
#pragma unroll
    for (int j = 0; j < 4; j++) v.v[j] = value;
    for (int64_t g = thread_index(); g < groups; g += thread_count()) reinterpret_cast<Vec4<T>*>(o)[g] = v;
    const int64_t t = groups * 4 + thread_index();
    if (t < n) o[t] = value;
    return;
  }
  for (int64_t i = thread_index(); i < n; i += thread_count()) o[i] = value;
}

template <typename T>
__global__ void fill_strided(T* o, const __grid_constant__ Plan<1> p, int64_t n, T value) {
  for_strided(p, n, [&](const int64_t(&off)[1]) { o[off[0]] = value; });
}

// ---- host side ----------------------------------------------------------------------------------

bool is_float(DType d) { return d == DType::F32 || d == DType::F16 || d == DType::BF16; }

/** Element 0 of a view (its offset applied) without naming its type. */
const void* first(const View& v) {
  return static_cast<const char*>(v.data) + v.offset * static_cast<int64_t>(dtype_size(v.dtype));
}
void* first_mut(const View& v) {
  return static_cast<char*>(v.data) + v.offset * static_cast<int64_t>(dtype_size(v.dtype));
}

template <typename TA, typename TO, typename F>
void map1(const Call& call, const View& a, const View& o, F f) {
  const View* vs[2] = {&a, &o};
  const Plan<2> p = make_plan(vs, o);
  const int64_t n = o.numel;
  const TA* pa = a.ptr<TA>();
  TO* po = o.ptr<TO>();
  if (p.flat() && p.st[1][0] == 1) {
    const int64_t sa = p.st[0][0];
    const bool vec = n >= 4 && vec_aligned<TO>(po) && (sa == 0 || vec_aligned<TA>(pa));
    map1_flat<<<grid_for(vec ? n / 4 : n), kThreads, 0, cuda::stream()>>>(pa, sa, po, n, vec, f);
  } else {
    map1_strided<<<grid_for(n), kThreads, 0, cuda::stream()>>>(pa, po, p, n, f);
  }
  TESSERA_CUDA_LAUNCHED(call);
}

template <typename TA, typename TO, typename F>
void map2(const Call& call, const View& a, const View& b, const View& o, F f) {
  const View* vs[3] = {&a, &b, &o};
  const Plan<3> p = make_plan(vs, o);
  const int64_t n = o.numel;
  const TA* pa = a.ptr<TA>();
  const TA* pb = b.ptr<TA>();
  TO* po = o.ptr<TO>();
  if (p.flat() && p.st[2][0] == 1) {
    const int64_t sa = p.st[0][0], sb = p.st[1][0];
    const bool vec = n >= 4 && vec_aligned<TO>(po) && (sa == 0 || vec_aligned<TA>(pa)) &&
                     (sb == 0 || vec_aligned<TA>(pb));
    map2_flat<<<grid_for(vec ? n / 4 : n), kThreads, 0, cuda::stream()>>>(pa, sa, pb, sb, po, n, vec, f);
  } else {
    map2_strided<<<grid_for(n), kThreads, 0, cuda::stream()>>>(pa, pb, po, p, n, f);
  }
  TESSERA_CUDA_LAUNCHED(call);
}

/** Byte range [lo, hi) a view addresses (numel > 0). */
void extent(const View& v, uintptr_t& lo, uintptr_t& hi) {
  int64_t mn = 0, mx = 0;
  for (int d = 0; d < v.ndim; d++) {
    const int64_t span = (v.shape[d] - 1) * v.strides[d];
    if (span < 0) mn += span;
    else mx += span;
  }
  const int64_t size = static_cast<int64_t>(dtype_size(v.dtype));
  const uintptr_t base = reinterpret_cast<uintptr_t>(first(v));
  lo = base + static_cast<uintptr_t>(mn * size);  // wraps back for negative strides, as intended
  hi = base + static_cast<uintptr_t>((mx + 1) * size);
}

/** The two views address every element at the same bytes (an in-place elementwise update). */
bool same_layout(const View& a, const View& b) {
  if (first(a) != first(b) || dtype_size(a.dtype) != dtype_size(b.dtype)) return false;
  for (int d = 0; d < a.ndim; d++)
    if (a.shape[d] > 1 && a.strides[d] != b.strides[d]) return false;
  return true;
}

bool overlap(const View& a, const View& b) {
  uintptr_t alo, ahi, blo, bhi;
  extent(a, alo, ahi);
  extent(b, blo, bhi);
  return alo < bhi && blo < ahi;
}

/** src → dst, same shape; dst does not partially overlap src (the caller stages that case). */
void copy_views(const Call& call, const View& src, const View& dst) {
  if (src.dtype == dst.dtype) {
    if (same_layout(src, dst)) return;
    if (src.contiguous() && dst.contiguous()) {
      cuda::check(cudaMemcpyAsync(first_mut(dst), first(src), static_cast<size_t>(dst.numel) * dtype_size(dst.dtype),
                                  cudaMemcpyDeviceToDevice, cuda::stream()),
                  call.op);
      return;
    }
    dispatch_bytes(dtype_size(dst.dtype), call, [&](auto tag) {
      using U = decltype(tag);
      map1<U, U>(call, src, dst, Convert<U, U>{});
    });
    return;
  }
  dispatch_storage(src.dtype, call, [&](auto s) {
    dispatch_storage(dst.dtype, call, [&](auto d) {
      using S = decltype(s);
      using D = decltype(d);
      map1<S, D>(call, src, dst, Convert<S, D>{});
    });
  });
}

/** The typed kernels of unary; false when the case belongs to the generic path. */
bool unary_typed(const Call& call, int op, const View& x, const View& out) {
  bool done = false;
  if (is_float(x.dtype) && (out.dtype == x.dtype || (out.dtype == DType::Bool && (op == kIsnan || op == kLogicalNot)))) {
    dispatch_storage(x.dtype, call, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (St<T>::kFloat) {
        if (out.dtype == x.dtype) {
          static_range<0, kNumUnary>(op, [&](auto o) { map1<T, T>(call, x, out, UnaryFlt<decltype(o)::value, T, T>{}); });
        } else {
          static_range<kLogicalNot, kIsnan + 1>(
              op, [&](auto o) { map1<T, uint8_t>(call, x, out, UnaryFlt<decltype(o)::value, T, uint8_t>{}); });
        }
        done = true;
      }
    });
  } else if (x.dtype == DType::I32 && out.dtype == DType::I32) {
    switch (op) {
      case kNeg:
        map1<int32_t, int32_t>(call, x, out, UnaryInt<kNeg>{});
        return true;
      case kAbs:
        map1<int32_t, int32_t>(call, x, out, UnaryInt<kAbs>{});
        return true;
      case kRelu:
        map1<int32_t, int32_t>(call, x, out, UnaryInt<kRelu>{});
        return true;
      case kSign:
        map1<int32_t, int32_t>(call, x, out, UnaryInt<kSign>{});
        return true;
      default:
        return false;
    }
  }
  return done;
}

/** The typed kernels of binary; false when the case belongs to the generic path. */
bool binary_typed(const Call& call, int op, const View& a, const View& b, const View& out) {
  const bool compare = op >= kEq;
  if (is_float(a.dtype)) {
    if (compare ? out.dtype != DType::Bool : out.dtype != a.dtype) return false;
    bool done = false;
    dispatch_storage(a.dtype, call, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (St<T>::kFloat) {
        if (compare)
          static_range<kEq, kNumBinary>(
              op, [&](auto o) { map2<T, uint8_t>(call, a, b, out, BinaryFlt<decltype(o)::value, T, uint8_t>{}); });
        else
          static_range<0, kEq>(op, [&](auto o) { map2<T, T>(call, a, b, out, BinaryFlt<decltype(o)::value, T, T>{}); });
        done = true;
      }
    });
    return done;
  }
  if (compare && out.dtype == DType::Bool && (a.dtype == DType::I32 || a.dtype == DType::Bool)) {
    static_range<kEq, kNumBinary>(op, [&](auto o) {
      constexpr int Op = decltype(o)::value;
      if (a.dtype == DType::I32)
        map2<int32_t, uint8_t>(call, a, b, out, BinaryInt<Op, int32_t, uint8_t>{});
      else
        map2<uint8_t, uint8_t>(call, a, b, out, BinaryInt<Op, uint8_t, uint8_t>{});
    });
    return true;
  }
  if (a.dtype == DType::I32 && out.dtype == DType::I32 && op != kDiv && op != kPow && !compare) {
    static_range<0, kEq>(op, [&](auto o) {
      constexpr int Op = decltype(o)::value;
      if constexpr (Op != kDiv && Op != kPow) map2<int32_t, int32_t>(call, a, b, out, BinaryInt<Op, int32_t, int32_t>{});
    });
    return true;
  }
  return false;
}

template <typename T>
void launch_fill(const Call& call, const View& v, T value) {
  const View* vs[1] = {&v};
  const Plan<1> p = make_plan(vs, v);
  const int64_t n = v.numel;
  T* o = v.ptr<T>();
  if (p.flat() && p.st[0][0] == 1) {
    // Zeros (fresh gradients, accumulators) are a memset; -0.0 and other patterns are not.
    const unsigned char* bytes = reinterpret_cast<const unsigned char*>(&value);
    bool zero = true;
    for (size_t i = 0; i < sizeof(T); i++) zero = zero && bytes[i] == 0;
    if (zero) {
      cuda::check(cudaMemsetAsync(o, 0, static_cast<size_t>(n) * sizeof(T), cuda::stream()), call.op);
      return;
    }
    const bool vec = n >= 4 && vec_aligned<T>(o);
    fill_flat<<<grid_for(vec ? n / 4 : n), kThreads, 0, cuda::stream()>>>(o, n, vec, value);
  } else {
    fill_strided<<<grid_for(n), kThreads, 0, cuda::stream()>>>(o, p, n, value);
  }
  TESSERA_CUDA_LAUNCHED(call);
}

}  // namespace

TESSERA_CUDA_KERNEL_HALF(copy) {
  const ew_args::Copy cp = ew_args::copy(call);
  const View& src = *cp.src;
  const View& dst = *cp.dst;
  if (dst.numel == 0) return;
  if (overlap(src, dst) && !same_layout(src, dst)) {
    // Threads read and write in no particular order, so a partly overlapping source (a shift within
    // one storage) is first copied out whole.
    cuda::Workspace ws(static_cast<size_t>(src.numel) * dtype_size(src.dtype));
    View tmp = src;
    tmp.data = ws.as<void>();
    tmp.offset = 0;
    int64_t s = 1;
    for (int d = tmp.ndim - 1; d >= 0; d--) {
      tmp.strides[d] = s;
      s *= tmp.shape[d];
    }
    copy_views(call, src, tmp);
    copy_views(call, tmp, dst);
    return;
  }
  copy_views(call, src, dst);
}

TESSERA_CUDA_KERNEL_HALF(fill) {
  const View& dst = ew_args::fill(call);
  if (dst.numel == 0) return;
  const double v = call.attr(0);
  dispatch_storage(dst.dtype, call, [&](auto tag) {
    using T = decltype(tag);
    launch_fill<T>(call, dst, St<T>::from_num_copy(v));  // castScalar: int32 NaN → 0, bool x != 0
  });
}

TESSERA_CUDA_KERNEL_HALF(where) {
  const ew_args::Where w = ew_args::where(call);
  const View& c = *w.c;
  const View& a = *w.a;
  const View& b = *w.b;
  const View& out = *w.out;
  if (out.numel == 0) return;
  const View* vs[4] = {&c, &a, &b, &out};
  const Plan<4> p = make_plan(vs, out);
  const int64_t n = out.numel;
  dispatch_bytes(dtype_size(out.dtype), call, [&](auto tag) {
    using T = decltype(tag);
    if (c.dtype == DType::Bool && p.flat() && p.st[3][0] == 1) {
      where_flat<<<grid_for(n), kThreads, 0, cuda::stream()>>>(c.ptr<uint8_t>(), p.st[0][0], a.ptr<T>(), p.st[1][0],
                                                                b.ptr<T>(), p.st[2][0], out.ptr<T>(), n);
      return;
    }
    dispatch_storage(c.dtype, call, [&](auto ctag) {
      using TC = decltype(ctag);
      where_strided<<<grid_for(n), kThreads, 0, cuda::stream()>>>(c.ptr<TC>(), a.ptr<T>(), b.ptr<T>(), out.ptr<T>(),
                                                                   p, n);
    });
  });
  TESSERA_CUDA_LAUNCHED(call);
}

TESSERA_CUDA_KERNEL_HALF(unary) {
  const ew_args::UnaryCall u = ew_args::unary(call);
  const View& x = *u.x;
  const View& out = *u.out;
  if (out.numel == 0) return;
  const int o = u.op;
  if (unary_typed(call, o, x, out)) return;
  const View* vs[2] = {&x, &out};
  const Plan<2> p = make_plan(vs, out);
  unary_generic<<<grid_for(out.numel), kThreads, 0, cuda::stream()>>>(first(x), x.dtype, first_mut(out), out.dtype, p,
                                                                       out.numel, o);
  TESSERA_CUDA_LAUNCHED(call);
}

TESSERA_CUDA_KERNEL_HALF(binary) {
  const ew_args::BinaryCall bc = ew_args::binary(call);
  const View& a = *bc.a;
  const View& b = *bc.b;
  const View& out = *bc.out;
  if (out.numel == 0) return;
  const int o = bc.op;
  if (binary_typed(call, o, a, b, out)) return;
  const View* vs[3] = {&a, &b, &out};
  const Plan<3> p = make_plan(vs, out);
  binary_generic<<<grid_for(out.numel), kThreads, 0, cuda::stream()>>>(first(a), first(b), a.dtype, first_mut(out),
                                                                        out.dtype, p, out.numel, o);
  TESSERA_CUDA_LAUNCHED(call);
}

}  // namespace tessera
