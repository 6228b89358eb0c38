// matmul: a, b, out | transA, transB (abi.ts). out[...batch, M, N] = op(a)·op(b) with numpy-style
// broadcast of the batch dims; a is [...batchA, M, K] (or [..., K, M] when transA), b is
// [...batchB, K, N] (or [..., N, K] when transB). float32 runs the packed SGEMM; int32 a plain loop
// with int64 accumulation, wrapped to int32 like backend-js's float64 sum stored into an Int32Array.
// Many small products are spread over the batch (each sgemm then runs serially inside the region).
#include <cstdint>
#include <vector>

#include "gemm/gemm.h"
#include "matmul_plan.h"
#include "tessera.h"

namespace tessera {
namespace {

struct MatmulPlan {
  int64_t M = 0, N = 0, K = 0;
  int64_t batch = 1;
  std::vector<int64_t> a_off, b_off;  // element offsets (from each view's first element) per output matrix
};

MatmulPlan plan_matmul(const Call& call, const View& a, const View& b, const View& out, bool ta, bool tb) {
  const mm::BatchShape bs = mm::batch_shape(call, a, b, out, ta, tb);
  MatmulPlan p;
  p.M = bs.M;
  p.N = bs.N;
  p.K = bs.K;
  p.batch = bs.total;
  if (bs.total == 0 || p.M == 0 || p.N == 0) return p;
  p.a_off.resize(static_cast<size_t>(bs.total));
  p.b_off.resize(static_cast<size_t>(bs.total));
  mm::for_each_batch(bs, bs.br, [&](int64_t i, int64_t oa, int64_t ob) {
    p.a_off[static_cast<size_t>(i)] = oa;
    p.b_off[static_cast<size_t>(i)] = ob;
  });
  return p;
}

void matmul_i32(const MatmulPlan& p, const int32_t* A, const int32_t* B, int32_t* C, bool ta, bool tb) {
  const int64_t M = p.M, N = p.N, K = p.K;
  const int64_t rsA = ta ? 1 : K, ksA = ta ? M : 1;
  const int64_t ksB = tb ? 1 : N, csB = tb ? K : 1;
  // Threads split the output rows of all matrices (batch × M).
  const int64_t row_macs = N * (K > 0 ? K : 1);
  const int64_t grain = row_macs >= (1 << 16) ? 1 : (1 << 16) / row_macs;
  parallel_for(p.batch * M, grain, [&](int64_t r0, int64_t r1) {
    std::vector<uint64_t> acc(static_cast<size_t>(N));
    for (int64_t r = r0; r < r1; r++) {
      const int64_t bi = r / M, i = r % M;
      const int32_t* a = A + p.a_off[static_cast<size_t>(bi)];
      const int32_t* b = B + p.b_off[static_cast<size_t>(bi)];
      int32_t* c = C + r * N;
      for (auto& x : acc) x = 0;
      for (int64_t k = 0; k < K; k++) {
        // Unsigned arithmetic wraps instead of overflowing; the low 32 bits are what is stored.
        const uint64_t av = static_cast<uint64_t>(static_cast<int64_t>(a[i * rsA + k * ksA]));
        const int32_t* brow = b + k * ksB;
        for (int64_t j = 0; j < N; j++)
          acc[static_cast<size_t>(j)] += av * static_cast<uint64_t>(static_cast<int64_t>(brow[j * csB]));
      }
      for (int64_t j = 0; j < N; j++) c[j] = static_cast<int32_t>(static_cast<uint32_t>(acc[static_cast<size_t>(j)]));
    }
  });
}

void matmul_f32(const MatmulPlan& p, const float* A, const float* B, float* C, bool ta, bool tb) {
  const int64_t M = p.M, N = p.N, K = p.K;
  const int64_t lda = ta ? M : K, ldb = tb ? K : N;
  const double macs = static_cast<double>(M) * N * (K > 0 ? K : 1);
  const int threads = num_threads();
  // Small products (or plenty of them): one sgemm per matrix, spread over the batch.
  const bool over_batch = p.batch >= 2 && (macs < (1 << 21) || p.batch >= 4 * static_cast<int64_t>(threads));
  if (over_batch) {
    const int64_t grain = macs >= (1 << 17) ? 1 : static_cast<int64_t>((1 << 17) / macs);
    parallel_for(p.batch, grain, [&](int64_t b0, int64_t b1) {
      for (int64_t bi = b0; bi < b1; bi++)
        sgemm(ta, tb, M, N, K, 1.0f, A + p.a_off[static_cast<size_t>(bi)], lda, B + p.b_off[static_cast<size_t>(bi)],
              ldb, 0.0f, C + bi * M * N, N);
    });
    return;
  }
  for (int64_t bi = 0; bi < p.batch; bi++)
    sgemm(ta, tb, M, N, K, 1.0f, A + p.a_off[static_cast<size_t>(bi)], lda, B + p.b_off[static_cast<size_t>(bi)], ldb,
          0.0f, C + bi * M * N, N);
}

}  // namespace
}  // namespace tessera

TESSERA_KERNEL(matmul) {
  using namespace tessera;
  call.expect(3, 2);
  const int64_t ta_attr = call.iattr(0), tb_attr = call.iattr(1);
  call.check((ta_attr == 0 || ta_attr == 1) && (tb_attr == 0 || tb_attr == 1), "matmul: transA/transB must be 0 or 1");
  const bool ta = ta_attr == 1, tb = tb_attr == 1;
  const DType dt = call.view(0).dtype;
  call.check(dt == DType::F32 || dt == DType::I32, "matmul: dtype must be float32 or int32");
  const View& a = call.contiguous(0, dt);
  const View& b = call.contiguous(1, dt);
  const View& out = call.contiguous(2, dt);
  const MatmulPlan p = plan_matmul(call, a, b, out, ta, tb);
  if (p.batch == 0 || p.M == 0 || p.N == 0) return;
  if (dt == DType::F32)
    matmul_f32(p, a.ptr<float>(), b.ptr<float>(), out.ptr<float>(), ta, tb);
  else
    matmul_i32(p, a.ptr<int32_t>(), b.ptr<int32_t>(), out.ptr<int32_t>(), ta, tb);
}
