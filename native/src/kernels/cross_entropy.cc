// crossEntropy: logits [N,C], target (int32) [N], weight? [C], out | ignoreIndex, labelSmoothing,
//   reduction (0 none → out [N], 1 mean / 2 sum → out []).
// backend-js's rules (PyTorch 1.13): a row's loss is −w[t]·log p_t; ignored rows give 0 and leave the
// mean's denominator Σ w[t]; label smoothing mixes (1−ε)·nll with ε·(−Σ_c w_c·log p_c)/C. Every target
// is checked before anything is written. Rows run in parallel into float64 per-row buffers that are
// then summed in row order, so the reduced loss does not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/cross_entropy_args.h"
#include "kernels/row_math.h"
#include "tessera.h"

namespace tessera {
namespace {

constexpr int64_t kGrain = 1 << 14;
constexpr int kLanes = 16;

/** Σ_c w_c·x_c (w null: Σ x_c) and Σ_c w_c (C without weights), in float64. */
void row_weighted(const float* x, const float* w, int64_t n, double& sx, double& sw) {
  double lx[kLanes] = {}, lw[kLanes] = {};
  int64_t i = 0;
  if (w) {
    for (; i + kLanes <= n; i += kLanes)
      for (int j = 0; j < kLanes; j++) {
        lx[j] += static_cast<double>(w[i + j]) * x[i + j];
        lw[j] += w[i + j];
      }
  } else {
    for (; i + kLanes <= n; i += kLanes)
      for (int j = 0; j < kLanes; j++) lx[j] += x[i + j];
  }
  sx = 0;
  sw = 0;
  for (int j = 0; j < kLanes; j++) {
    sx += lx[j];
    sw += lw[j];
  }
  for (; i < n; i++) {
    sx += w ? static_cast<double>(w[i]) * x[i] : x[i];
    sw += w ? w[i] : 0.0;
  }
  if (!w) sw = static_cast<double>(n);
}

}  // namespace
}  // namespace tessera

TESSERA_KERNEL(crossEntropy) {
  using namespace tessera;
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

  const int32_t* tp = N > 0 ? target.ptr<int32_t>() : nullptr;
  for (int64_t n = 0; n < N; n++) {
    const int32_t t = tp[n];
    if (static_cast<double>(t) != ignore && !(t >= 0 && t < C)) {
      call.fail("target " + std::to_string(t) + " at row " + std::to_string(n) + " is out of bounds for " +
                std::to_string(C) + " classes");
    }
  }
  const float* lp = N > 0 && C > 0 ? logits.ptr<float>() : nullptr;
  const float* wp = has_w ? weight.ptr<float>() : nullptr;
  const RowOps& ops = row_ops();
  std::vector<double> loss(static_cast<size_t>(N)), wt(static_cast<size_t>(N));
  parallel_for(N, std::max<int64_t>(1, kGrain / std::max<int64_t>(C, 1)), [&](int64_t b, int64_t e) {
    for (int64_t n = b; n < e; n++) {
      const int32_t t = tp[n];
      if (static_cast<double>(t) == ignore) {
        loss[n] = 0;
        wt[n] = 0;
        continue;
      }
      const float* x = lp + n * C;
      const float m = ops.max(x, C);
      const double lse = static_cast<double>(m) + std::log(ops.exp_sum(x, m, nullptr, C));
      const double w = wp ? wp[t] : 1.0;
      double l = -w * (x[t] - lse);
      if (eps > 0) {
        // −Σ_c w_c·(x_c − lse) = lse·Σ w_c − Σ w_c·x_c
        double sx, sw;
        row_weighted(x, wp, C, sx, sw);
        const double smooth = lse * sw - sx;
        l = (1 - eps) * l + (eps * smooth) / static_cast<double>(C);
      }
      loss[n] = l;
      wt[n] = w;
    }
  });
  float* op = out.numel > 0 ? out.ptr<float>() : nullptr;
  if (reduction == 0) {
    for (int64_t n = 0; n < N; n++) op[n] = static_cast<float>(loss[n]);
    return;
  }
  double total = 0, denom = 0;
  for (int64_t n = 0; n < N; n++) {
    total += loss[n];
    denom += wt[n];
  }
  op[0] = static_cast<float>(reduction == 2 ? total : total / denom);
}
