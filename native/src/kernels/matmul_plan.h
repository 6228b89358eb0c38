// matmul's shape checks and batch-broadcast planning, shared by the cpu kernel (matmul.cc) and the cuda
// one (cuda/matmul.cu). Host code only; compiles as C++17 under nvcc.
#pragma once

#include <cstdint>

#include "tessera.h"

namespace tessera {
namespace mm {

/**
 * out[...batch, M, N] = op(a)·op(b) with numpy-style broadcast of the batch dims: the broadcast batch
 * shape (right-aligned) and each operand's element stride along it (0 where it is broadcast).
 */
struct BatchShape {
  int64_t M = 0, N = 0, K = 0;
  int br = 0;  // batch rank
  int64_t bshape[kMaxDims] = {}, sa[kMaxDims] = {}, sb[kMaxDims] = {};
  int64_t total = 1;  // product of bshape
};

/** Checks a [...batchA, M, K] (or [..., K, M] when ta), b [...batchB, K, N] (or [..., N, K]) and out. */
inline BatchShape batch_shape(const Call& call, const View& a, const View& b, const View& out, bool ta, bool tb) {
  call.check(a.ndim >= 2 && b.ndim >= 2, "matmul: a and b need at least 2 dims");
  const int ra = a.ndim, rb = b.ndim, ro = out.ndim;
  BatchShape p;
  p.M = ta ? a.shape[ra - 1] : a.shape[ra - 2];
  const int64_t ka = ta ? a.shape[ra - 2] : a.shape[ra - 1];
  const int64_t kb = tb ? b.shape[rb - 1] : b.shape[rb - 2];
  p.N = tb ? b.shape[rb - 2] : b.shape[rb - 1];
  call.check(ka == kb, "matmul: the inner dimensions of a and b differ");
  p.K = ka;
  const int bra = ra - 2, brb = rb - 2;
  const int br = bra > brb ? bra : brb;
  p.br = br;
  call.check(ro == br + 2, "matmul: out's rank must be the broadcast batch rank + 2");
  call.check(out.shape[ro - 2] == p.M && out.shape[ro - 1] == p.N, "matmul: out's last two dims must be [M, N]");
  // Broadcast batch dims, right-aligned; contiguous strides of each operand's batch dims.
  int64_t stride_a = p.M * p.K, stride_b = p.K * p.N;
  for (int d = br - 1; d >= 0; d--) {
    const int da = d - (br - bra), db = d - (br - brb);
    const int64_t na = da >= 0 ? a.shape[da] : 1;
    const int64_t nb = db >= 0 ? b.shape[db] : 1;
    call.check(na == nb || na == 1 || nb == 1, "matmul: batch dims of a and b do not broadcast");
    const int64_t n = na == 1 ? nb : na;
    call.check(out.shape[d] == n, "matmul: out's batch dims must be the broadcast of a's and b's");
    p.bshape[d] = n;
    p.sa[d] = na == 1 ? 0 : stride_a;
    p.sb[d] = nb == 1 ? 0 : stride_b;
    stride_a *= na;
    stride_b *= nb;
  }
  for (int d = 0; d < br; d++) p.total *= p.bshape[d];
  return p;
}

/**
 * Calls f(i, offA, offB) for every index i of batch dims [0, dims) in odometer order, with a's and b's
 * element offsets there.
 */
template <typename F>
inline void for_each_batch(const BatchShape& p, int dims, F&& f) {
  int64_t count = 1;
  for (int d = 0; d < dims; d++) count *= p.bshape[d];
  int64_t idx[kMaxDims] = {};
  int64_t oa = 0, ob = 0;
  for (int64_t i = 0; i < count; i++) {
    f(i, oa, ob);
    for (int d = dims - 1; d >= 0; d--) {
      oa += p.sa[d];
      ob += p.sb[d];
      if (++idx[d] < p.bshape[d]) break;
      oa -= p.sa[d] * p.bshape[d];
      ob -= p.sb[d] * p.bshape[d];
      idx[d] = 0;
    }
  }
}

}  // namespace mm
}  // namespace tessera
