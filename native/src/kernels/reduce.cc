// reduce: x, out | op index in REDUCE_OPS (sum, prod, max, min, argmax, argmin), ...axes (sorted).
// Semantics of backend-js's reduceKernel: float32 sums and products accumulate in float64; int32 sums
// and products wrap modulo 2^32; max/min propagate NaN; argmax/argmin give the first index of the
// extreme and a NaN wins. After dropping size-1 dims and merging neighbours, the input is a sequence
// of kept and reduced blocks; two loops cover every case:
//  - rows: the innermost block is reduced (each output reduces contiguous rows);
//  - columns: the innermost block is kept (each output row accumulates a vector across rows).
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "kernels/reduce_plan.h"
#include "kernels/row_math.h"
#include "tessera.h"

namespace tessera {
namespace {

typedef int32_t vi32 __attribute__((vector_size(rowimpl::kVecBytes)));
typedef uint32_t vu32 __attribute__((vector_size(rowimpl::kVecBytes)));

using reduce_plan::Op;

/** T: element type in storage; A: accumulator type. */
template <typename T, typename A, Op op>
struct Reducer {
  static A init() {
    if constexpr (op == Op::Sum) return A(0);
    if constexpr (op == Op::Prod) return A(1);
    if constexpr (std::is_same_v<A, float>) {
      return op == Op::Max ? -__builtin_inff() : __builtin_inff();
    } else if constexpr (op == Op::Max) {
      return std::numeric_limits<A>::lowest();
    } else {
      return std::numeric_limits<A>::max();
    }
  }
  static A load(T v) { return static_cast<A>(v); }
  static A combine(A acc, A v) {
    if constexpr (op == Op::Sum) {
      return acc + v;  // unsigned wraps for int32
    } else if constexpr (op == Op::Prod) {
      return acc * v;
    } else if constexpr (std::is_same_v<A, float>) {
      // A NaN replaces the accumulator, and a NaN accumulator is never replaced by a number.
      if constexpr (op == Op::Max) return ((v > acc) | (v != v)) ? v : acc;  // `|`: no branch, vectorisable
      else return ((v < acc) | (v != v)) ? v : acc;
    } else {
      if constexpr (op == Op::Max) return v > acc ? v : acc;
      else return v < acc ? v : acc;
    }
  }
  static T store(A a) { return static_cast<T>(a); }
  /** Reduces n contiguous elements in vector lanes (GCC vector extensions), then the lanes in order. */
  static A row(const T* p, int64_t n) {
    using rowimpl::W;
    int64_t i = 0;
    A r;
    if constexpr (std::is_same_v<T, float> && op == Op::Sum) {
      return row_ops().sum(p, n);  // float64 lanes, AVX-512 where the CPU has it
    } else if constexpr (std::is_same_v<T, float> && op == Op::Max) {
      return row_ops().max_nan(p, n);
    } else if constexpr (std::is_same_v<T, float> && op == Op::Min) {
      return row_ops().min_nan(p, n);
    } else if constexpr (std::is_same_v<T, int32_t> && std::is_same_v<A, uint32_t>) {
      vu32 acc = vu32{} + init();
      for (; i + W <= n; i += W) {
        vu32 v;
        __builtin_memcpy(&v, p + i, sizeof v);
        acc = op == Op::Sum ? acc + v : acc * v;
      }
      r = acc[0];
      for (int j = 1; j < W; j++) r = combine(r, acc[j]);
    } else if constexpr (std::is_same_v<T, int32_t>) {
      vi32 acc = vi32{} + init();
      for (; i + W <= n; i += W) {
        vi32 v;
        __builtin_memcpy(&v, p + i, sizeof v);
        acc = (op == Op::Max ? v > acc : v < acc) ? v : acc;
      }
      r = acc[0];
      for (int j = 1; j < W; j++) r = combine(r, acc[j]);
    } else {
      constexpr int L = 16;
      A lane[L];
      for (int j = 0; j < L; j++) lane[j] = init();
      for (; i + L <= n; i += L)
        for (int j = 0; j < L; j++) lane[j] = combine(lane[j], load(p[i + j]));
      r = lane[0];
      for (int j = 1; j < L; j++) r = combine(r, lane[j]);
    }
    for (; i < n; i++) r = combine(r, load(p[i]));
    return r;
  }
};

/** Mixed-radix walk over a list of dims (outer first) that tracks the element offset. */
struct Odometer {
  int n = 0;
  int64_t size[kMaxDims] = {};
  int64_t stride[kMaxDims] = {};
  int64_t idx[kMaxDims] = {};
  int64_t off = 0;
  int64_t total() const {
    int64_t t = 1;
    for (int i = 0; i < n; i++) t *= size[i];
    return t;
  }
  void seek(int64_t k) {
    off = 0;
    for (int i = n - 1; i >= 0; i--) {
      idx[i] = k % size[i];
      k /= size[i];
      off += idx[i] * stride[i];
    }
  }
  void next() {
    for (int i = n - 1; i >= 0; i--) {
      off += stride[i];
      if (++idx[i] < size[i]) return;
      off -= size[i] * stride[i];
      idx[i] = 0;
    }
  }
};

using reduce_plan::Block;

// Work sizes: below kSerial elements one thread does everything; a single output's reduction is
// split into pieces of about kPiece elements when there are too few outputs to share the work.
// Both depend on shapes only, so results never depend on the thread count.
constexpr int64_t kSerial = 1 << 15;
constexpr int64_t kPiece = 1 << 16;
constexpr int64_t kTile = 512;

/** Innermost block reduced: out[o] = reduction of T rows of L contiguous elements. */
template <typename R, typename T, typename A>
void reduce_rows(const T* x, T* out, const std::vector<Block>& blocks) {
  Odometer kept, red;
  reduce_plan::split_leading(blocks, kept, red);
  const int64_t L = blocks.back().size;
  const int64_t outs = kept.total();
  const int64_t per = red.total() * L;
  // Reduces the elements [s, e) of output o's reduced index space.
  auto range = [&](Odometer& k, Odometer& r, int64_t s, int64_t e) {
    A acc = R::init();
    int64_t c = s % L;
    r.seek(s / L);
    for (int64_t pos = s; pos < e;) {
      int64_t n = std::min(L - c, e - pos);
      acc = R::combine(acc, R::row(x + k.off + r.off + c, n));
      pos += n;
      c = 0;
      r.next();
    }
    return acc;
  };
  int64_t pieces = 1;
  if (outs < 16 && per >= 2 * kPiece) pieces = std::min<int64_t>(64, per / kPiece);
  if (pieces == 1) {
    parallel_for(outs, std::max<int64_t>(1, kSerial / std::max<int64_t>(per, 1)), [&](int64_t b, int64_t e) {
      Odometer k = kept, r = red;
      k.seek(b);
      for (int64_t o = b; o < e; o++, k.next()) out[o] = R::store(range(k, r, 0, per));
    });
    return;
  }
  std::vector<A> part(static_cast<size_t>(outs * pieces));
  const int64_t chunk = (per + pieces - 1) / pieces;
  parallel_for(outs * pieces, 1, [&](int64_t b, int64_t e) {
    Odometer k = kept, r = red;
    for (int64_t it = b; it < e; it++) {
      int64_t o = it / pieces, p = it % pieces;
      k.seek(o);
      part[it] = range(k, r, p * chunk, std::min(per, (p + 1) * chunk));
    }
  });
  for (int64_t o = 0; o < outs; o++) {
    A acc = part[o * pieces];
    for (int64_t p = 1; p < pieces; p++) acc = R::combine(acc, part[o * pieces + p]);
    out[o] = R::store(acc);
  }
}

/** Innermost block kept (I columns): out[g, j] = reduction over T rows of x[g, t, j]. */
template <typename R, typename T, typename A>
void reduce_cols(const T* x, T* out, const std::vector<Block>& blocks) {
  Odometer kept, red;
  int64_t I = 1;
  if (!blocks.empty()) {
    I = blocks.back().size;
    reduce_plan::split_leading(blocks, kept, red);
  }
  const int64_t G = kept.total();
  const int64_t NR = red.total();
  const int64_t ntiles = (I + kTile - 1) / kTile;
  const int64_t items = G * ntiles;
  int64_t pieces = 1;
  if (items < 16 && NR * I >= 2 * kPiece && NR >= 2) pieces = std::min<int64_t>({64, NR, NR * I / kPiece});
  const int64_t chunk = (NR + pieces - 1) / pieces;
  std::vector<A> part(pieces > 1 ? static_cast<size_t>(G * I * pieces) : 0);
  const int64_t work_per_item = std::max<int64_t>(1, std::min(I, kTile) * chunk);
  parallel_for(items * pieces, std::max<int64_t>(1, kSerial / work_per_item), [&](int64_t b, int64_t e) {
    A acc[kTile];
    Odometer k = kept, r = red;
    for (int64_t it = b; it < e; it++) {
      const int64_t p = it % pieces, gt = it / pieces;
      const int64_t g = gt / ntiles, j0 = (gt % ntiles) * kTile;
      const int64_t w = std::min(kTile, I - j0);
      k.seek(g);
      for (int64_t j = 0; j < w; j++) acc[j] = R::init();
      const int64_t t0 = p * chunk, t1 = std::min(NR, t0 + chunk);
      if (t0 < t1) r.seek(t0);
      for (int64_t t = t0; t < t1; t++, r.next()) {
        const T* row = x + k.off + r.off + j0;
        for (int64_t j = 0; j < w; j++) acc[j] = R::combine(acc[j], R::load(row[j]));
      }
      if (pieces == 1) {
        T* o = out + g * I + j0;
        for (int64_t j = 0; j < w; j++) o[j] = R::store(acc[j]);
      } else {
        A* o = part.data() + (p * G + g) * I + j0;
        for (int64_t j = 0; j < w; j++) o[j] = acc[j];
      }
    }
  });
  if (pieces == 1) return;
  for (int64_t i = 0; i < G * I; i++) {
    A acc = part[i];
    for (int64_t p = 1; p < pieces; p++) acc = R::combine(acc, part[p * G * I + i]);
    out[i] = R::store(acc);
  }
}

template <typename R, typename T, typename A>
void reduce_typed(const View& xv, const View& ov, const std::vector<Block>& blocks, double empty_value) {
  const T* x = xv.ptr<T>();
  T* out = ov.ptr<T>();
  if (xv.numel == 0) {
    // Some reduced dim has size 0: every output is the identity (or ∓Inf for float max/min, which
    // backend-js's int and bool stores turn into 0).
    for (int64_t i = 0; i < ov.numel; i++) out[i] = static_cast<T>(empty_value);
    return;
  }
  if (!blocks.empty() && blocks.back().reduced) reduce_rows<R, T, A>(x, out, blocks);
  else reduce_cols<R, T, A>(x, out, blocks);
}

/**
 * First index of the max (min) of a contiguous row; a NaN wins and nothing replaces it. Vector lanes
 * each keep their own first extreme; lanes then combine with ties going to the smaller index.
 */
template <typename T, bool is_max>
int32_t arg_row(const T* p, int64_t n) {
  using rowimpl::W;
  typedef T vt __attribute__((vector_size(rowimpl::kVecBytes)));
  int64_t i = 0;
  T bv = p[0];
  int32_t bi = 0;
  if (n >= 2 * W) {
    vt best;
    __builtin_memcpy(&best, p, sizeof best);
    vi32 cur, idx;
    for (int j = 0; j < W; j++) cur[j] = j;
    idx = cur;
    for (i = W; i + W <= n; i += W) {
      cur += W;
      vt v;
      __builtin_memcpy(&v, p + i, sizeof v);
      vi32 u;
      if constexpr (std::is_same_v<T, float>) u = (best == best) & ((is_max ? v > best : v < best) | (v != v));
      else u = is_max ? v > best : v < best;
      best = u ? v : best;
      idx = u ? cur : idx;
    }
    bv = best[0];
    bi = idx[0];
    for (int j = 1; j < W; j++) {
      const T v = best[j];
      const int32_t k = idx[j];
      const bool bnan = bv != bv, vnan = v != v;
      if (bnan) {
        if (vnan && k < bi) bi = k;
      } else if (vnan || (is_max ? v > bv : v < bv) || (v == bv && k < bi)) {
        bv = v;
        bi = k;
      }
    }
  } else {
    i = 1;
  }
  for (; i < n; i++) {
    const T v = p[i];
    if (bv != bv) break;
    if (is_max ? (v > bv || v != v) : (v < bv || v != v)) {
      bv = v;
      bi = static_cast<int32_t>(i);
    }
  }
  return bi;
}

/** argmax/argmin over the middle dim of [outer, len, inner]; the first extreme wins, a NaN wins. */
template <typename T, bool is_max>
void arg_reduce(const T* x, int32_t* out, int64_t outer, int64_t len, int64_t inner) {
  auto better = [](T v, T best) {
    if constexpr (std::is_same_v<T, float>) {
      // Once best is NaN nothing replaces it.
      return best == best && (is_max ? (v > best || v != v) : (v < best || v != v));
    } else {
      return is_max ? v > best : v < best;
    }
  };
  if (len == 0) {
    for (int64_t i = 0; i < outer * inner; i++) out[i] = 0;
    return;
  }
  if (inner == 1) {
    parallel_for(outer, std::max<int64_t>(1, kSerial / len), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; o++) {
        const T* p = x + o * len;
        if constexpr (std::is_same_v<T, float> || std::is_same_v<T, int32_t>) {
          out[o] = arg_row<T, is_max>(p, len);
        } else {
          T best = p[0];
          int32_t bi = 0;
          for (int64_t k = 1; k < len; k++) {
            if (better(p[k], best)) {
              best = p[k];
              bi = static_cast<int32_t>(k);
            }
          }
          out[o] = bi;
        }
      }
    });
    return;
  }
  const int64_t ntiles = (inner + kTile - 1) / kTile;
  const int64_t work = std::min(inner, kTile) * len;
  parallel_for(outer * ntiles, std::max<int64_t>(1, kSerial / work), [&](int64_t b, int64_t e) {
    T best[kTile];
    int32_t bi[kTile];
    for (int64_t it = b; it < e; it++) {
      const int64_t o = it / ntiles, j0 = (it % ntiles) * kTile;
      const int64_t w = std::min(kTile, inner - j0);
      const T* base = x + o * len * inner + j0;
      for (int64_t j = 0; j < w; j++) {
        best[j] = base[j];
        bi[j] = 0;
      }
      for (int64_t k = 1; k < len; k++) {
        const T* row = base + k * inner;
        for (int64_t j = 0; j < w; j++) {
          const bool u = better(row[j], best[j]);
          best[j] = u ? row[j] : best[j];
          bi[j] = u ? static_cast<int32_t>(k) : bi[j];
        }
      }
      int32_t* op = out + o * inner + j0;
      for (int64_t j = 0; j < w; j++) op[j] = bi[j];
    }
  });
}

template <Op op>
void reduce_op(const Call& call, const View& x, const View& out, const std::vector<Block>& blocks) {
  const double inf = __builtin_inf();
  switch (x.dtype) {
    case DType::F32: {
      if constexpr (op == Op::Sum || op == Op::Prod) {
        reduce_typed<Reducer<float, double, op>, float, double>(x, out, blocks, op == Op::Sum ? 0.0 : 1.0);
      } else {
        reduce_typed<Reducer<float, float, op>, float, float>(x, out, blocks, op == Op::Max ? -inf : inf);
      }
      return;
    }
    case DType::I32: {
      if constexpr (op == Op::Sum || op == Op::Prod) {
        // int32 sums and products wrap: accumulate in uint32 and store the bit pattern.
        reduce_typed<Reducer<int32_t, uint32_t, op>, int32_t, uint32_t>(x, out, blocks, op == Op::Sum ? 0.0 : 1.0);
      } else {
        reduce_typed<Reducer<int32_t, int32_t, op>, int32_t, int32_t>(x, out, blocks, 0.0);
      }
      return;
    }
    case DType::Bool: {
      // bool is 0/1 in a byte: the product is the minimum; a sum would not fit (core sums bools as int32).
      if constexpr (op == Op::Sum) {
        call.fail("sum of bool is not supported (cast to int32 first)");
      } else if constexpr (op == Op::Prod) {
        reduce_typed<Reducer<uint8_t, uint8_t, Op::Min>, uint8_t, uint8_t>(x, out, blocks, 1.0);
      } else {
        reduce_typed<Reducer<uint8_t, uint8_t, op>, uint8_t, uint8_t>(x, out, blocks, 0.0);
      }
      return;
    }
    default:
      call.fail(std::string("unsupported dtype ") + dtype_name(x.dtype));
  }
}

}  // namespace
}  // namespace tessera

TESSERA_KERNEL(reduce) {
  using namespace tessera;
  const reduce_plan::Plan p = reduce_plan::plan(call);
  const View& x = *p.x;
  const View& out = *p.out;
  const Op op = p.op;
  const int nd = p.nd;
  const int last = p.last;
  const bool arg = p.arg;
  if (out.numel == 0) return;

  if (arg) {
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < last; i++) outer *= x.shape[i];
    for (int i = last + 1; i < nd; i++) inner *= x.shape[i];
    const int64_t len = x.shape[last];
    int32_t* o = out.ptr<int32_t>();
    const bool mx = op == Op::ArgMax;
    switch (x.dtype) {
      case DType::F32:
        mx ? arg_reduce<float, true>(x.ptr<float>(), o, outer, len, inner)
           : arg_reduce<float, false>(x.ptr<float>(), o, outer, len, inner);
        return;
      case DType::I32:
        mx ? arg_reduce<int32_t, true>(x.ptr<int32_t>(), o, outer, len, inner)
           : arg_reduce<int32_t, false>(x.ptr<int32_t>(), o, outer, len, inner);
        return;
      case DType::Bool:
        mx ? arg_reduce<uint8_t, true>(x.ptr<uint8_t>(), o, outer, len, inner)
           : arg_reduce<uint8_t, false>(x.ptr<uint8_t>(), o, outer, len, inner);
        return;
      default:
        call.fail(std::string("unsupported dtype ") + dtype_name(x.dtype));
    }
  }

  // Coalesce: drop size-1 dims, merge neighbours that are both kept or both reduced (x is contiguous).
  const std::vector<Block> blocks = reduce_plan::coalesce(x, p.reduced);
  switch (op) {
    case Op::Sum:
      reduce_op<Op::Sum>(call, x, out, blocks);
      break;
    case Op::Prod:
      reduce_op<Op::Prod>(call, x, out, blocks);
      break;
    case Op::Max:
      reduce_op<Op::Max>(call, x, out, blocks);
      break;
    case Op::Min:
      reduce_op<Op::Min>(call, x, out, blocks);
      break;
    default:
      break;
  }
}
