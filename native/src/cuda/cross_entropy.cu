// crossEntropy: logits [N,C], target (int32) [N], weight? [C], out | ignoreIndex, labelSmoothing,
//   reduction (0 none → out [N], 1 mean / 2 sum → out []).
// The cpu kernel's rules (PyTorch 1.13, kernels/cross_entropy.cc): a row's loss is −w[t]·log p_t;
// ignored rows give 0 and leave the mean's denominator Σ w[t] (all rows ignored: 0/0 = NaN, as torch);
// label smoothing mixes (1−ε)·nll with ε·(−Σ_c w_c·log p_c)/C.
// One warp (C ≤ 1024) or block per row: pass 1 the row max m, pass 2 Σ exp(x − m) and, for smoothing,
// Σ w_c·(m − x_c) and Σ w_c. Both log-probability sums are formed from non-negative terms,
//   −log p_t = log Σ − (x_t − m),   −Σ_c w_c·log p_c = Σ_c w_c·(m − x_c) + Σ_c w_c · log Σ,
// so nothing large cancels in float32. The mean and sum add the rows' losses (and weights) in float64
// in one block, in a fixed order.
// The targets live on the device and a kernel may not wait for them, so a target out of range (other
// than ignoreIndex) cannot be reported as an error here: its row's loss and weight are NaN, which the
// mean and sum carry into the result, and nothing outside the row is read.
#include "kernels/cross_entropy_args.h"
#include "rowops.cuh"

namespace tessera {
namespace {

template <bool kWarp>
__global__ void cross_entropy_rows_kernel(const float* __restrict__ logits, const int32_t* __restrict__ target,
                                          const float* __restrict__ weight, float* __restrict__ loss,
                                          float* __restrict__ wt, int64_t N, int64_t C, double ignore, float eps) {
  using G = RowGroup<kWarp>;
  __shared__ float sh[32];
  const int lane = G::lane(), step = G::size();
  for (int64_t r = G::first_row(); r < N; r += G::row_step()) {
    const int32_t t = target[r];
    float l, w;
    if (static_cast<double>(t) == ignore) {
      l = 0.0f;
      w = 0.0f;
    } else if (t < 0 || t >= C) {
      l = NAN;
      w = NAN;
    } else {
      const float* x = logits + r * C;
      float m = -INFINITY;
      for (int64_t i = lane; i < C; i += step) m = fmaxf(m, x[i]);
      m = G::max(m, sh);
      float s = 0.0f, d = 0.0f, sw = 0.0f;
      for (int64_t i = lane; i < C; i += step) {
        const float v = x[i];
        s += expf(v - m);
        if (eps > 0.0f) {
          const float wc = weight ? weight[i] : 1.0f;
          d += wc * (m - v);
          sw += wc;
        }
      }
      s = G::sum(s, sh);
      const float log_s = logf(s);
      w = weight ? weight[t] : 1.0f;
      l = w * (log_s - (x[t] - m));
      if (eps > 0.0f) {
        d = G::sum(d, sh);
        sw = G::sum(sw, sh);
        const float smooth = d + sw * log_s;
        l = (1.0f - eps) * l + (eps * smooth) / static_cast<float>(C);
      }
    }
    if (lane == 0) {
      loss[r] = l;
      if (wt) wt[r] = w;
    }
  }
}

constexpr int kFinishThreads = 1024;

/** out[0] = Σ loss (sum) or Σ loss / Σ wt (mean), in float64, one block. */
__global__ void cross_entropy_finish_kernel(const float* __restrict__ loss, const float* __restrict__ wt, int64_t N,
                                            bool mean, float* __restrict__ out) {
  __shared__ double sh[32];
  double a = 0.0, b = 0.0;
  for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
    a += loss[i];
    b += wt[i];
  }
  a = block_allreduce(a, SumOp{}, 0.0, sh);
  b = block_allreduce(b, SumOp{}, 0.0, sh);
  if (threadIdx.x == 0) out[0] = static_cast<float>(mean ? a / b : a);
}

}  // namespace

TESSERA_CUDA_KERNEL(crossEntropy) {
  const cross_entropy_args::Args a = cross_entropy_args::read(call);
  const View& logits = *a.logits;
  const View& target = *a.target;
  const View& weight = *a.weight;
  const View& out = *a.out;
  const int64_t N = a.N, C = a.C;
  const bool has_w = a.has_w;
  const double ignore = a.ignore;
  const double eps = a.eps;
  const int64_t reduction = a.reduction;
  if (out.numel == 0) return;

  // C == 0 leaves no valid target (every row is ignored or NaN) and the logits are never read.
  const float* lp = N > 0 && C > 0 ? logits.ptr<float>() : nullptr;
  const int32_t* tp = N > 0 ? target.ptr<int32_t>() : nullptr;
  const float* wp = has_w ? weight.ptr<float>() : nullptr;
  const float feps = static_cast<float>(eps);
  const bool warp = C <= kWarpRowMax;
  auto launch_rows = [&](float* loss, float* wt) {
    if (N == 0) return;
    if (warp) {
      cross_entropy_rows_kernel<true><<<row_blocks(N, true), kRowThreads, 0, cuda::stream()>>>(lp, tp, wp, loss, wt,
                                                                                              N, C, ignore, feps);
    } else {
      cross_entropy_rows_kernel<false><<<row_blocks(N, false), kRowThreads, 0, cuda::stream()>>>(lp, tp, wp, loss, wt,
                                                                                                N, C, ignore, feps);
    }
    TESSERA_CUDA_LAUNCHED(call);
  };
  if (reduction == 0) {
    launch_rows(out.ptr<float>(), nullptr);
    return;
  }
  cuda::Workspace ws(static_cast<size_t>(2 * N + 1) * sizeof(float));
  float* loss = ws.as<float>();
  float* wt = loss + N;
  launch_rows(loss, wt);
  cross_entropy_finish_kernel<<<1, kFinishThreads, 0, cuda::stream()>>>(loss, wt, N, reduction == 1, out.ptr<float>());
  TESSERA_CUDA_LAUNCHED(call);
}

}  // namespace tessera
