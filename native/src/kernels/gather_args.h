// View checks and index geometry of gather and scatterAdd, shared by the cpu kernels (gather.cc) and
// the cuda ones (cuda/gather.cu). Host code only; compiles as C++17 under nvcc.
#pragma once

#include <cstdint>
#include <string>

#include "tessera.h"

namespace tessera {
namespace gather_args {

struct Geometry {
  int rank = 0;
  int dim = 0;
  int64_t size = 1;                // x/dst size along dim (1 for rank 0)
  int64_t dstride = 1;             // x/dst (contiguous) stride along dim (1 for rank 0)
  int64_t ishape[kMaxDims] = {};   // index shape
  int64_t xstride[kMaxDims] = {};  // contiguous strides of x/dst
  int64_t istride[kMaxDims] = {};  // contiguous strides of index
  int64_t n = 1;                   // index elements
};

/** index must have data's rank and fit inside it on every dim but the indexing one. */
inline Geometry geometry(const Call& call, const View& data, const View& index, int64_t dim, const char* data_name) {
  Geometry g;
  g.rank = data.ndim;
  call.check(index.ndim == data.ndim, "index must have the rank of the indexed tensor");
  call.check(dim >= 0 && dim < (g.rank == 0 ? 1 : g.rank), "dim is out of range");
  g.dim = static_cast<int>(dim);
  int64_t s = 1, si = 1;
  for (int d = g.rank - 1; d >= 0; d--) {
    g.xstride[d] = s;
    s *= data.shape[d];
    g.istride[d] = si;
    si *= index.shape[d];
  }
  for (int d = 0; d < g.rank; d++) {
    g.ishape[d] = index.shape[d];
    if (d != g.dim && index.shape[d] > data.shape[d])
      call.fail(std::string("index is larger than ") + data_name + " at dim " + std::to_string(d) +
                ", which is not the indexing dim");
  }
  g.size = g.rank == 0 ? 1 : data.shape[g.dim];
  g.dstride = g.rank == 0 ? 1 : g.xstride[g.dim];
  g.n = index.numel;
  return g;
}

/** A checked gather call: x, index (contiguous int32), out (x's dtype, index's shape), dim. */
struct Gather {
  const View* x;
  const View* index;
  const View* out;
  Geometry g;
};

inline Gather gather(const Call& call) {
  call.expect(3, 1);
  const View& x = call.view(0);
  const View& index = call.contiguous(1, DType::I32);
  const View& out = call.view(2);
  call.check(x.present() && out.present(), "x and out are required");
  call.check(x.contiguous() && out.contiguous(), "x and out must be contiguous");
  call.check(out.dtype == x.dtype, "out must have x's dtype");
  call.check(out.same_shape(index), "out must have index's shape");
  return {&x, &index, &out, geometry(call, x, index, call.iattr(0), "x")};
}

/** A checked scatterAdd call: dst, index (contiguous int32), src (dst's dtype, index's shape), dim. */
struct Scatter {
  const View* dst;
  const View* index;
  const View* src;
  Geometry g;
};

inline Scatter scatter(const Call& call) {
  call.expect(3, 1);
  const View& dst = call.view(0);
  const View& index = call.contiguous(1, DType::I32);
  const View& src = call.view(2);
  call.check(dst.present() && src.present(), "dst and src are required");
  call.check(dst.contiguous(), "dst must be contiguous");
  call.check(src.dtype == dst.dtype, "src must have dst's dtype");
  call.check(src.same_shape(index), "src must have index's shape");
  return {&dst, &index, &src, geometry(call, dst, index, call.iattr(0), "dst")};
}

}  // namespace gather_args
}  // namespace tessera
