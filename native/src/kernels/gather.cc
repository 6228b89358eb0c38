// gather and scatterAdd along one dim (torch.gather / scatter_add_), as backend-js's kernels/gather.ts:
// out[i] = x[i with coordinate dim replaced by index[i]]; dst[.. index[i] ..] += src[i].
// Every index is validated before anything is written, so a bad index throws and leaves dst untouched.
#include <algorithm>
#include <cstdint>
#include <string>

#include "kernels/elementwise.h"
#include "kernels/gather_args.h"
#include "tessera.h"

namespace tessera {
namespace {

using gather_args::Geometry;

/** Throws on the first index outside [0, size). */
void validate(const Call& call, const char* op, const int32_t* idx, int64_t n, int64_t size, int dim) {
  int64_t bad = -1;
  for (int64_t i = 0; i < n; i++)
    if (idx[i] < 0 || idx[i] >= size) {
      bad = i;
      break;
    }
  if (bad >= 0)
    ::tessera::fail(std::string(op) + ": index " + std::to_string(idx[bad]) + " is out of bounds for dim " +
                    std::to_string(dim) + " with size " + std::to_string(size));
  (void)call;
}

template <typename T>
void gather_typed(const Geometry& g, const T* x, const int32_t* idx, T* out) {
  const int r = g.rank;
  const int64_t dstride = r ? g.xstride[g.dim] : 1;
  parallel_for(g.n, 16384, [&](int64_t b, int64_t e) {
    int64_t pos[kMaxDims] = {};
    int64_t base = 0;  // x offset of pos with pos[dim] read as 0
    int64_t rem = b;
    for (int d = r - 1; d >= 0; d--) {
      pos[d] = rem % g.ishape[d];
      rem /= g.ishape[d];
      if (d != g.dim) base += pos[d] * g.xstride[d];
    }
    for (int64_t i = b; i < e; i++) {
      out[i] = x[base + idx[i] * dstride];
      for (int d = r - 1; d >= 0; d--) {
        pos[d]++;
        if (d != g.dim) base += g.xstride[d];
        if (pos[d] < g.ishape[d]) break;
        if (d != g.dim) base -= g.xstride[d] * g.ishape[d];
        pos[d] = 0;
      }
    }
  });
}

/**
 * Each (outer, inner) position of index owns the dst elements it can reach (they differ outside
 * dim) and walks dim in ascending order, so every dst element receives its additions in
 * backend-js's order whatever the thread split. Inner positions go in blocks of kQB so that the
 * index and src rows are read along their contiguous inner dims.
 */
template <typename T, typename Add>
void scatter_typed(const Geometry& g, T* dst, const int32_t* idx, const View& src, Add add) {
  constexpr int64_t kQB = 64;
  const int r = g.rank;
  const int dim = g.dim;
  const int64_t L = r ? g.ishape[dim] : 1;
  if (L == 0 || g.n == 0) return;
  int64_t Q = 1;
  for (int d = dim + 1; d < r; d++) Q *= g.ishape[d];
  const int64_t O = g.n / (L * Q);
  const int64_t qblocks = (Q + kQB - 1) / kQB;
  const int64_t dstride = r ? g.xstride[dim] : 1;
  const int64_t sstride = r ? src.strides[dim] : 0;
  const T* s = src.ptr<T>();
  const int64_t grain = std::max<int64_t>(1, 16384 / (L * std::min(Q, kQB)));
  parallel_for(O * qblocks, grain, [&](int64_t b, int64_t e) {
    int64_t doff[kQB];
    int64_t soff[kQB];
    for (int64_t u = b; u < e; u++) {
      const int64_t o = u / qblocks;
      const int64_t q0 = (u % qblocks) * kQB;
      const int64_t q1 = std::min(Q, q0 + kQB);
      int64_t dbase = 0, sbase = 0, rem = o;
      for (int d = dim - 1; d >= 0; d--) {
        const int64_t c = rem % g.ishape[d];
        rem /= g.ishape[d];
        dbase += c * g.xstride[d];
        sbase += c * src.strides[d];
      }
      for (int64_t q = q0; q < q1; q++) {
        int64_t dq = dbase, sq = sbase;
        rem = q;
        for (int d = r - 1; d > dim; d--) {
          const int64_t c = rem % g.ishape[d];
          rem /= g.ishape[d];
          dq += c * g.xstride[d];
          sq += c * src.strides[d];
        }
        doff[q - q0] = dq;
        soff[q - q0] = sq;
      }
      const int64_t m = q1 - q0;
      for (int64_t j = 0; j < L; j++) {
        const int32_t* ir = idx + (o * L + j) * Q + q0;
        const int64_t sj = j * sstride;
        for (int64_t k = 0; k < m; k++) {
          T& t = dst[doff[k] + ir[k] * dstride];
          t = add(t, s[soff[k] + sj]);
        }
      }
    }
  });
}

}  // namespace
}  // namespace tessera

using tessera::DType;
using tessera::View;

TESSERA_KERNEL(gather) {
  const tessera::gather_args::Gather a = tessera::gather_args::gather(call);
  const View& x = *a.x;
  const View& index = *a.index;
  const View& out = *a.out;
  const tessera::Geometry& g = a.g;
  if (g.n == 0) return;
  const int32_t* idx = index.ptr<int32_t>();
  tessera::validate(call, "gather", idx, g.n, g.size, g.dim);
  switch (tessera::dtype_size(x.dtype)) {
    case 1:
      tessera::gather_typed(g, x.ptr<uint8_t>(), idx, out.ptr<uint8_t>());
      break;
    case 2:
      tessera::gather_typed(g, x.ptr<uint16_t>(), idx, out.ptr<uint16_t>());
      break;
    case 4:
      tessera::gather_typed(g, x.ptr<uint32_t>(), idx, out.ptr<uint32_t>());
      break;
    case 8:
      tessera::gather_typed(g, x.ptr<uint64_t>(), idx, out.ptr<uint64_t>());
      break;
    default:
      call.fail("unsupported element size");
  }
}

TESSERA_KERNEL(scatterAdd) {
  const tessera::gather_args::Scatter a = tessera::gather_args::scatter(call);
  const View& dst = *a.dst;
  const View& index = *a.index;
  const View& src = *a.src;
  const tessera::Geometry& g = a.g;
  if (g.n == 0) return;
  const int32_t* idx = index.ptr<int32_t>();
  tessera::validate(call, "scatterAdd", idx, g.n, g.size, g.dim);
  switch (dst.dtype) {
    case DType::F32:  // each addition rounds to float32, as a Float32Array store does
      tessera::scatter_typed(g, dst.ptr<float>(), idx, src, [](float a, float b) { return a + b; });
      break;
    case DType::F64:
      tessera::scatter_typed(g, dst.ptr<double>(), idx, src, [](double a, double b) { return a + b; });
      break;
    case DType::I32:  // float64 sum then ToInt32: a wrapping add
      tessera::scatter_typed(g, dst.ptr<int32_t>(), idx, src, [](int32_t a, int32_t b) {
        return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
      });
      break;
    case DType::Bool:  // a Uint8Array store of the sum (backend-js); ToUint8 wraps
      tessera::scatter_typed(g, dst.ptr<uint8_t>(), idx, src,
                             [](uint8_t a, uint8_t b) { return static_cast<uint8_t>(a + b); });
      break;
    default:
      call.fail("dst must be float32, float64, int32 or bool (half dtypes are converted by the caller)");
  }
}
