// matmul: a, b, out | transA, transB (abi.ts), as native/src/kernels/matmul.cc: out[...batch, M, N] =
// op(a)·op(b) with numpy-style broadcast of the batch dims. float32, float16 and bfloat16 run
// cuda::gemm (out in the operands' dtype); int32 a plain kernel whose sums wrap to 32 bits like the cpu
// kernel's.
//
// The broadcast batch becomes gemm's strided batch: the innermost batch dims over which both operands'
// offsets grow by a fixed stride (0 for a broadcast operand) collapse into one launch; any outer dims
// that break the pattern (say a [B,1,M,K] against b [1,H,K,N]) are walked on the host, one launch each.
#include <cstdint>

#include "common.cuh"
#include "gemm.cuh"
#include "kernels/matmul_plan.h"

namespace tessera {
namespace {

/** Batch entry i multiplies a[offA + i·strideA] by b[offB + i·strideB] into out[offC + i·M·N]. */
struct Run {
  int64_t offA, offB, offC;
  int64_t count, strideA, strideB;
};

/**
 * out[i] for i in [0, batch·M·N): the product of row i/N % M of op(a) and column i % N of op(b) over
 * uint32 (which wraps exactly like the cpu kernel's int64 sum truncated to int32).
 */
__global__ void matmul_i32_kernel(const int32_t* A, const int32_t* B, int32_t* C, int64_t M, int64_t N, int64_t K,
                                  bool ta, bool tb, int64_t sA, int64_t sB, int64_t count) {
  const int64_t total = count * M * N;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t bi = i / (M * N), row = i / N % M, col = i % N;
    const int32_t* a = A + bi * sA;
    const int32_t* b = B + bi * sB;
    const int64_t a0 = ta ? row : row * K, a_step = ta ? M : 1;
    const int64_t b0 = tb ? col * K : col, b_step = tb ? 1 : N;
    uint32_t acc = 0;
    for (int64_t k = 0; k < K; k++)
      acc += static_cast<uint32_t>(a[a0 + k * a_step]) * static_cast<uint32_t>(b[b0 + k * b_step]);
    C[i] = static_cast<int32_t>(acc);
  }
}

template <typename F>
void for_each_run(const Call& call, const View& a, const View& b, const View& out, bool ta, bool tb, int64_t& M,
                  int64_t& N, int64_t& K, F&& launch) {
  const mm::BatchShape bs = mm::batch_shape(call, a, b, out, ta, tb);
  M = bs.M;
  N = bs.N;
  K = bs.K;
  const int br = bs.br;
  const int64_t* bshape = bs.bshape;
  const int64_t* sa = bs.sa;
  const int64_t* sb = bs.sb;
  if (bs.total == 0 || M == 0 || N == 0) return;

  // The inner run: dims [split, br) (size-1 dims skipped) whose strides continue the run's own.
  int64_t inner = 1, inA = 0, inB = 0;
  int split = br;
  bool started = false;
  for (int d = br - 1; d >= 0; d--) {
    if (bshape[d] == 1) {
      split = d;
      continue;
    }
    if (!started) {
      inner = bshape[d];
      inA = sa[d];
      inB = sb[d];
      started = true;
    } else if (sa[d] == inA * inner && sb[d] == inB * inner) {
      inner *= bshape[d];
    } else {
      break;
    }
    split = d;
  }
  // The outer dims [0, split), odometer order; out is contiguous, so run r starts at r·inner·M·N.
  mm::for_each_batch(bs, split, [&](int64_t r, int64_t oa, int64_t ob) {
    launch(Run{oa, ob, r * inner * M * N, inner, inA, inB});
  });
}

}  // namespace

TESSERA_CUDA_KERNEL_HALF(matmul) {
  call.expect(3, 2);
  const int64_t ta_attr = call.iattr(0), tb_attr = call.iattr(1);
  call.check((ta_attr == 0 || ta_attr == 1) && (tb_attr == 0 || tb_attr == 1), "matmul: transA/transB must be 0 or 1");
  const bool ta = ta_attr == 1, tb = tb_attr == 1;
  const DType dt = call.view(0).dtype;
  call.check(dt == DType::F32 || dt == DType::F16 || dt == DType::BF16 || dt == DType::I32,
             "matmul: dtype must be float32, float16, bfloat16 or int32");
  const View& a = call.contiguous(0, dt);
  const View& b = call.contiguous(1, dt);
  const View& out = call.contiguous(2, dt);
  int64_t M = 0, N = 0, K = 0;
  if (dt == DType::I32) {
    const int32_t* A = a.ptr<int32_t>();
    const int32_t* B = b.ptr<int32_t>();
    int32_t* C = out.ptr<int32_t>();
    for_each_run(call, a, b, out, ta, tb, M, N, K, [&](const Run& r) {
      unsigned blocks = cuda::blocks_for(r.count * M * N, 256);
      if (blocks > 65535u * 8) blocks = 65535u * 8;
      matmul_i32_kernel<<<blocks, 256, 0, cuda::stream()>>>(A + r.offA, B + r.offB, C + r.offC, M, N, K, ta, tb,
                                                             r.strideA, r.strideB, r.count);
      TESSERA_CUDA_LAUNCHED(call);
    });
    return;
  }
  const size_t esize = dtype_size(dt);
  const char* A = static_cast<const char*>(a.data) + a.offset * esize;
  const char* B = static_cast<const char*>(b.data) + b.offset * esize;
  char* C = static_cast<char*>(out.data) + out.offset * esize;
  for_each_run(call, a, b, out, ta, tb, M, N, K, [&](const Run& r) {
    cuda::Gemm g;
    g.ab = dt;
    g.c = dt;
    g.transA = ta;
    g.transB = tb;
    g.M = M;
    g.N = N;
    g.K = K;
    g.A = A + r.offA * esize;
    g.lda = ta ? M : K;
    g.strideA = r.strideA;
    g.B = B + r.offB * esize;
    g.ldb = tb ? K : N;
    g.strideB = r.strideB;
    g.C = C + r.offC * esize;
    g.ldc = N;
    g.strideC = M * N;
    g.batch = r.count;
    cuda::gemm(g);
  });
}

}  // namespace tessera
