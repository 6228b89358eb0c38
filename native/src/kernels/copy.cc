// copy (strided, any dtype pair), fill and where, as backend-js computes them
// (packages/backend-js/src/kernels/elementwise.ts: copyMode, copyKernel, whereKernel; fill in backend.ts).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/elementwise.h"
#include "kernels/elementwise_args.h"
#include "tessera.h"

namespace tessera {
namespace ew {

void load_f64(const View& v, int64_t off, int64_t s, int64_t n, double* buf) {
  switch (v.dtype) {
    case DType::F32: {
      const float* p = static_cast<const float*>(v.data) + off;
      if (s == 1)
        for (int64_t i = 0; i < n; i++) buf[i] = p[i];
      else
        for (int64_t i = 0; i < n; i++) buf[i] = p[i * s];
      break;
    }
    case DType::F64: {
      const double* p = static_cast<const double*>(v.data) + off;
      for (int64_t i = 0; i < n; i++) buf[i] = p[i * s];
      break;
    }
    case DType::I32: {
      const int32_t* p = static_cast<const int32_t*>(v.data) + off;
      if (s == 1)
        for (int64_t i = 0; i < n; i++) buf[i] = p[i];
      else
        for (int64_t i = 0; i < n; i++) buf[i] = p[i * s];
      break;
    }
    case DType::Bool: {
      const uint8_t* p = static_cast<const uint8_t*>(v.data) + off;
      for (int64_t i = 0; i < n; i++) buf[i] = p[i * s];
      break;
    }
    case DType::F16: {
      const uint16_t* p = static_cast<const uint16_t*>(v.data) + off;
      for (int64_t i = 0; i < n; i++) buf[i] = f16_to_f32_inline(p[i * s]);
      break;
    }
    case DType::BF16: {
      const uint16_t* p = static_cast<const uint16_t*>(v.data) + off;
      for (int64_t i = 0; i < n; i++) buf[i] = bf16_to_f32(p[i * s]);
      break;
    }
  }
}

void store_f64(const View& v, int64_t off, int64_t s, int64_t n, const double* buf, bool nonzero) {
  switch (v.dtype) {
    case DType::F32: {
      float* p = static_cast<float*>(v.data) + off;
      if (s == 1)
        for (int64_t i = 0; i < n; i++) p[i] = static_cast<float>(buf[i]);
      else
        for (int64_t i = 0; i < n; i++) p[i * s] = static_cast<float>(buf[i]);
      break;
    }
    case DType::F64: {
      double* p = static_cast<double*>(v.data) + off;
      for (int64_t i = 0; i < n; i++) p[i * s] = buf[i];
      break;
    }
    case DType::I32: {
      int32_t* p = static_cast<int32_t*>(v.data) + off;
      for (int64_t i = 0; i < n; i++) p[i * s] = to_int32(buf[i]);
      break;
    }
    case DType::Bool: {
      uint8_t* p = static_cast<uint8_t*>(v.data) + off;
      if (nonzero)
        for (int64_t i = 0; i < n; i++) p[i * s] = buf[i] != 0 ? 1 : 0;
      else
        for (int64_t i = 0; i < n; i++) p[i * s] = to_uint8(buf[i]);
      break;
    }
    case DType::F16: {
      uint16_t* p = static_cast<uint16_t*>(v.data) + off;
      for (int64_t i = 0; i < n; i++) p[i * s] = f32_to_f16_inline(static_cast<float>(buf[i]));
      break;
    }
    case DType::BF16: {
      uint16_t* p = static_cast<uint16_t*>(v.data) + off;
      for (int64_t i = 0; i < n; i++) p[i * s] = f32_to_bf16_inline(static_cast<float>(buf[i]));
      break;
    }
  }
}

}  // namespace ew

namespace {

using ew::Plan;

constexpr int64_t kGrain = 32768;

/** A transposing copy: the inner dim is strided on one side, the next dim is unit-stride there. */
bool transposing(const Plan<2>& p) {
  if (p.nd < 2) return false;
  for (int k = 0; k < 2; k++)
    if (p.istride(k) != 1 && p.st[k][p.nd - 2] == 1) return true;
  return false;
}

/** Copies the last two plan dims in 32×32 tiles, so both sides stay in cache (transposes). */
template <typename S, typename D, typename F>
void tiled_copy(const Plan<2>& p, const S* a, D* o, F conv) {
  constexpr int64_t kTile = 32;
  const int nd = p.nd;
  const int64_t R = p.shape[nd - 2], C = p.shape[nd - 1];
  const int64_t sr = p.st[0][nd - 2], sc = p.st[0][nd - 1];
  const int64_t dr = p.st[1][nd - 2], dc = p.st[1][nd - 1];
  int64_t outer = 1;
  for (int d = 0; d < nd - 2; d++) outer *= p.shape[d];
  const int64_t rtiles = (R + kTile - 1) / kTile;
  const int64_t units = outer * rtiles;
  const int64_t grain = std::max<int64_t>(1, kGrain / (kTile * std::max<int64_t>(C, 1)));
  parallel_for(units, grain, [&](int64_t b, int64_t e) {
    for (int64_t u = b; u < e; u++) {
      const int64_t ob = u / rtiles, r0 = (u % rtiles) * kTile;
      int64_t so = p.off[0], dof = p.off[1], rem = ob;
      for (int d = nd - 3; d >= 0; d--) {
        const int64_t i = rem % p.shape[d];
        rem /= p.shape[d];
        so += i * p.st[0][d];
        dof += i * p.st[1][d];
      }
      const int64_t r1 = std::min(R, r0 + kTile);
      for (int64_t c0 = 0; c0 < C; c0 += kTile) {
        const int64_t c1 = std::min(C, c0 + kTile);
        for (int64_t r = r0; r < r1; r++) {
          const S* x = a + so + r * sr;
          D* y = o + dof + r * dr;
          for (int64_t c = c0; c < c1; c++) y[c * dc] = conv(x[c * sc]);
        }
      }
    }
  });
}

/**
 * Unit-stride rows of at most kShortRow elements (attention heads split from or merged into
 * [B, N, H·hd]: rows of hd = 32 or 64 floats; slices of a fused qkv): the rows of each outer index in
 * one loop of memcpy calls instead of a plan step per row.
 */
constexpr int64_t kShortRow = 128;

template <typename T>
void short_rows_copy(const Plan<2>& p, const T* a, T* o) {
  const int nd = p.nd;
  const int64_t R = p.shape[nd - 2], C = p.shape[nd - 1];
  const int64_t sr = p.st[0][nd - 2], dr = p.st[1][nd - 2];
  int64_t outer = 1;
  for (int d = 0; d < nd - 2; d++) outer *= p.shape[d];
  // Rows t = u·R + r over every outer index u, split across the pool by rows.
  parallel_for(outer * R, std::max<int64_t>(1, kGrain / std::max<int64_t>(C, 1)), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e;) {
      const int64_t u = t / R, r0 = t % R, r1 = std::min(R, r0 + (e - t));
      int64_t so = p.off[0], dof = p.off[1], rem = u;
      for (int d = nd - 3; d >= 0; d--) {
        const int64_t i = rem % p.shape[d];
        rem /= p.shape[d];
        so += i * p.st[0][d];
        dof += i * p.st[1][d];
      }
      const T* x = a + so + r0 * sr;
      T* y = o + dof + r0 * dr;
      for (int64_t r = r0; r < r1; r++, x += sr, y += dr) std::memcpy(y, x, static_cast<size_t>(C) * sizeof(T));
      t += r1 - r0;
    }
  });
}

template <typename T>
void raw_copy(const View& src, const View& dst) {
  const View* vs[2] = {&src, &dst};
  const Plan<2> p = ew::make_plan(vs, dst);
  const T* a = static_cast<const T*>(src.data);
  T* o = static_cast<T*>(dst.data);
  if (transposing(p) && !ew::overlaps(p, 1)) {
    tiled_copy(p, a, o, [](T v) { return v; });
    return;
  }
  // Distinct storages only: rows that might overlap keep memmove.
  if (p.nd >= 2 && p.istride(0) == 1 && p.istride(1) == 1 && p.inner() <= kShortRow && !ew::overlaps(p, 1) &&
      src.data != dst.data) {
    short_rows_copy(p, a, o);
    return;
  }
  const int64_t sa = p.istride(0), so = p.istride(1);
  ew::run_rows(p, kGrain, ew::overlaps(p, 1), [&](const int64_t* off, int64_t n) {
    const T* x = a + off[0];
    T* y = o + off[1];
    if (sa == 1 && so == 1) {
      std::memmove(y, x, static_cast<size_t>(n) * sizeof(T));
    } else if (sa == 0) {
      const T v = *x;
      for (int64_t i = 0; i < n; i++) y[i * so] = v;
    } else {
      for (int64_t i = 0; i < n; i++) y[i * so] = x[i * sa];
    }
  });
}

template <typename S, typename D, typename F>
void typed_copy(const View& src, const View& dst, F conv) {
  const View* vs[2] = {&src, &dst};
  const Plan<2> p = ew::make_plan(vs, dst);
  const S* a = static_cast<const S*>(src.data);
  D* o = static_cast<D*>(dst.data);
  if (transposing(p) && !ew::overlaps(p, 1)) {
    tiled_copy(p, a, o, conv);
    return;
  }
  ew::map_rows(p, a, o, kGrain, conv);
}

/** Any pair through float64 buffers (the general conversion path). */
void buffered_copy(const View& src, const View& dst) {
  const View* vs[2] = {&src, &dst};
  const Plan<2> p = ew::make_plan(vs, dst);
  const int64_t sa = p.istride(0), so = p.istride(1);
  ew::run_rows(p, kGrain / 4, ew::overlaps(p, 1), [&](const int64_t* off, int64_t n) {
    double buf[ew::kChunk];
    for (int64_t i = 0; i < n; i += ew::kChunk) {
      const int64_t m = std::min(ew::kChunk, n - i);
      ew::load_f64(src, off[0] + i * sa, sa, m, buf);
      ew::store_f64(dst, off[1] + i * so, so, m, buf, true);
    }
  });
}

void raw_by_size(const View& src, const View& dst) {
  switch (dtype_size(dst.dtype)) {
    case 1:
      raw_copy<uint8_t>(src, dst);
      break;
    case 2:
      raw_copy<uint16_t>(src, dst);
      break;
    case 4:
      raw_copy<uint32_t>(src, dst);
      break;
    case 8:
      raw_copy<uint64_t>(src, dst);
      break;
    default:
      fail("copy: unsupported element size");
  }
}

template <typename T>
void fill_raw(const View& dst, T value) {
  const View* vs[1] = {&dst};
  const Plan<1> p = ew::make_plan(vs, dst);
  T* o = static_cast<T*>(dst.data);
  const int64_t so = p.istride(0);
  ew::run_rows(p, kGrain * 4, ew::overlaps(p, 0), [&](const int64_t* off, int64_t n) {
    T* y = o + off[0];
    if (so == 1)
      std::fill(y, y + n, value);
    else
      for (int64_t i = 0; i < n; i++) y[i * so] = value;
  });
}

template <typename T>
void where_typed(const View& c, const View& a, const View& b, const View& out) {
  const View* vs[4] = {&c, &a, &b, &out};
  const Plan<4> p = ew::make_plan(vs, out);
  const T* pa = static_cast<const T*>(a.data);
  const T* pb = static_cast<const T*>(b.data);
  T* po = static_cast<T*>(out.data);
  const int64_t sc = p.istride(0), sa = p.istride(1), sb = p.istride(2), so = p.istride(3);
  const bool cbool = c.dtype == DType::Bool;
  ew::run_rows(p, kGrain, ew::overlaps(p, 3), [&](const int64_t* off, int64_t n) {
    const T* x = pa + off[1];
    const T* y = pb + off[2];
    T* z = po + off[3];
    if (cbool) {
      // Both operands are loaded before the select, so the loops compile to blends: a data-dependent
      // branch per element (ReLU's gradient: where(y > 0, g, 0), half the mask set) mispredicted
      // half the time and ran ~4x slower. A scalar operand (stride 0) is loaded once.
      const uint8_t* m = static_cast<const uint8_t*>(c.data) + off[0];
      if (sc == 1 && so == 1 && sa == 1 && sb == 1) {
        for (int64_t i = 0; i < n; i++) {
          const T xv = x[i], yv = y[i];
          z[i] = m[i] != 0 ? xv : yv;
        }
      } else if (sc == 1 && so == 1 && sa == 1 && sb == 0) {
        const T yv = y[0];
        for (int64_t i = 0; i < n; i++) {
          const T xv = x[i];
          z[i] = m[i] != 0 ? xv : yv;
        }
      } else if (sc == 1 && so == 1 && sa == 0 && sb == 1) {
        const T xv = x[0];
        for (int64_t i = 0; i < n; i++) {
          const T yv = y[i];
          z[i] = m[i] != 0 ? xv : yv;
        }
      } else {
        for (int64_t i = 0; i < n; i++) {
          const T xv = x[i * sa], yv = y[i * sb];
          z[i * so] = m[i * sc] != 0 ? xv : yv;
        }
      }
      return;
    }
    double buf[ew::kChunk];
    for (int64_t i0 = 0; i0 < n; i0 += ew::kChunk) {
      const int64_t cnt = std::min(ew::kChunk, n - i0);
      ew::load_f64(c, off[0] + i0 * sc, sc, cnt, buf);
      for (int64_t j = 0; j < cnt; j++) {
        const int64_t i = i0 + j;
        z[i * so] = buf[j] != 0 ? x[i * sa] : y[i * sb];
      }
    }
  });
}

}  // namespace
}  // namespace tessera

using tessera::DType;
using tessera::View;

TESSERA_KERNEL(copy) {
  const tessera::ew_args::Copy cp = tessera::ew_args::copy(call);
  const View& src = *cp.src;
  const View& dst = *cp.dst;
  if (dst.numel == 0) return;
  if (src.dtype == dst.dtype) {
    tessera::raw_by_size(src, dst);
    return;
  }
  // Common conversions get their own typed loops; the rest go through float64 buffers.
  if (src.dtype == DType::F32 && dst.dtype == DType::I32) {
    tessera::typed_copy<float, int32_t>(src, dst, [](float x) { return tessera::ew::to_int32(x); });
  } else if (src.dtype == DType::I32 && dst.dtype == DType::F32) {
    tessera::typed_copy<int32_t, float>(src, dst, [](int32_t x) { return static_cast<float>(x); });
  } else if (src.dtype == DType::Bool && dst.dtype == DType::F32) {
    tessera::typed_copy<uint8_t, float>(src, dst, [](uint8_t x) { return static_cast<float>(x); });
  } else if (src.dtype == DType::Bool && dst.dtype == DType::I32) {
    tessera::typed_copy<uint8_t, int32_t>(src, dst, [](uint8_t x) { return static_cast<int32_t>(x); });
  } else if (src.dtype == DType::F32 && dst.dtype == DType::Bool) {
    tessera::typed_copy<float, uint8_t>(src, dst, [](float x) -> uint8_t { return x != 0 ? 1 : 0; });
  } else if (src.dtype == DType::I32 && dst.dtype == DType::Bool) {
    tessera::typed_copy<int32_t, uint8_t>(src, dst, [](int32_t x) -> uint8_t { return x != 0 ? 1 : 0; });
  } else if (src.dtype == DType::F16 && dst.dtype == DType::F32) {
    tessera::typed_copy<uint16_t, float>(src, dst, [](uint16_t x) { return tessera::ew::f16_to_f32_inline(x); });
  } else if (src.dtype == DType::BF16 && dst.dtype == DType::F32) {
    tessera::typed_copy<uint16_t, float>(src, dst, [](uint16_t x) { return tessera::bf16_to_f32(x); });
  } else if (src.dtype == DType::F32 && dst.dtype == DType::F16) {
    tessera::typed_copy<float, uint16_t>(src, dst, [](float x) { return tessera::ew::f32_to_f16_inline(x); });
  } else if (src.dtype == DType::F32 && dst.dtype == DType::BF16) {
    tessera::typed_copy<float, uint16_t>(src, dst, [](float x) { return tessera::ew::f32_to_bf16_inline(x); });
  } else {
    tessera::buffered_copy(src, dst);
  }
}

TESSERA_KERNEL(fill) {
  const View& dst = tessera::ew_args::fill(call);
  if (dst.numel == 0) return;
  const double v = call.attr(0);
  switch (dst.dtype) {
    case DType::F32:
      tessera::fill_raw<float>(dst, static_cast<float>(v));
      break;
    case DType::F64:
      tessera::fill_raw<double>(dst, v);
      break;
    case DType::I32:  // castScalar: NaN → 0, else Math.trunc(x) | 0
      tessera::fill_raw<int32_t>(dst, tessera::ew::to_int32(v));
      break;
    case DType::Bool:
      tessera::fill_raw<uint8_t>(dst, v != 0 ? 1 : 0);
      break;
    case DType::F16:
      tessera::fill_raw<uint16_t>(dst, tessera::f32_to_f16(static_cast<float>(v)));
      break;
    case DType::BF16:
      tessera::fill_raw<uint16_t>(dst, tessera::f32_to_bf16(static_cast<float>(v)));
      break;
  }
}

TESSERA_KERNEL(where) {
  const tessera::ew_args::Where w = tessera::ew_args::where(call);
  const View& c = *w.c;
  const View& a = *w.a;
  const View& b = *w.b;
  const View& out = *w.out;
  if (out.numel == 0) return;
  switch (tessera::dtype_size(out.dtype)) {
    case 1:
      tessera::where_typed<uint8_t>(c, a, b, out);
      break;
    case 2:
      tessera::where_typed<uint16_t>(c, a, b, out);
      break;
    case 4:
      tessera::where_typed<uint32_t>(c, a, b, out);
      break;
    case 8:
      tessera::where_typed<uint64_t>(c, a, b, out);
      break;
    default:
      call.fail("unsupported element size");
  }
}
