// conv2d as im2col + GEMM per (image, group), convTranspose2d as GEMM + col2im, both float32 with
// PyTorch's geometry (backend-js's kernels/conv.ts is the reference). A 1x1, stride-1, unpadded conv2d
// multiplies the input planes directly. Work is spread over (image, group) pairs when there are at
// least as many as threads (each then runs a serial GEMM); otherwise the GEMM and the reshuffles
// parallelise inside one pair.
#include <algorithm>
#include <vector>

#include "conv_args.h"
#include "gemm/gemm.h"
#include "tessera.h"

namespace tessera {
namespace {

/**
 * The column scratch holds at most this many floats: 16 MiB when one pair at a time uses the whole pool,
 * 4 MiB per worker when each worker runs its own pairs. Larger problems go in bands of rows.
 */
constexpr int64_t kColLimit = int64_t{1} << 22;
constexpr int64_t kColLimitPerWorker = int64_t{1} << 20;
using conv::Geometry;

/** out[n, o, :] += bias[o] over N*O planes of P elements. */
void add_bias(float* out, const float* bias, int64_t N, int64_t O, int64_t P) {
  if (!bias || N * O * P == 0) return;
  int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(P, 1));
  parallel_for(N * O, grain, [&](int64_t b, int64_t e) {
    for (int64_t q = b; q < e; q++) {
      const float bv = bias[q % O];
      float* row = out + q * P;
      for (int64_t p = 0; p < P; p++) row[p] += bv;
    }
  });
}

struct ConvShape {
  int64_t H, W, Cg, kh, kw, Ho, Wo;
  Geometry a;
};

/**
 * Rows [r0, r1) of the column matrix for output rows oy0..oy0+rows of one group's input `xg`
 * ([Cg, H, W]): row (c, ky, kx) holds, per output position, the input it multiplies (0 in padding).
 */
void im2col_rows(const float* xg, const ConvShape& s, int64_t oy0, int64_t rows, int64_t r0, int64_t r1,
                 float* col) {
  const int64_t L = rows * s.Wo;
  const int64_t HW = s.H * s.W;
  for (int64_t r = r0; r < r1; r++) {
    const int64_t kx = r % s.kw;
    const int64_t ky = (r / s.kw) % s.kh;
    const int64_t c = r / (s.kw * s.kh);
    const float* plane = xg + c * HW;
    float* q = col + r * L;
    const int64_t xoff = kx * s.a.dw - s.a.pw;
    // Output columns whose input column ix = xoff + ox*sw lies in [0, W): [ox0, ox1).
    int64_t ox0 = xoff >= 0 ? 0 : (-xoff + s.a.sw - 1) / s.a.sw;
    int64_t ox1 = xoff >= s.W ? 0 : (s.W - 1 - xoff) / s.a.sw + 1;
    ox0 = std::min(ox0, s.Wo);
    ox1 = std::clamp(ox1, ox0, s.Wo);
    for (int64_t oy = oy0; oy < oy0 + rows; oy++, q += s.Wo) {
      const int64_t iy = oy * s.a.sh - s.a.ph + ky * s.a.dh;
      if (iy < 0 || iy >= s.H) {
        std::fill(q, q + s.Wo, 0.0f);
        continue;
      }
      const float* row = plane + iy * s.W;
      std::fill(q, q + ox0, 0.0f);
      if (s.a.sw == 1) {
        std::copy(row + (xoff + ox0), row + (xoff + ox1), q + ox0);
      } else {
        for (int64_t ox = ox0; ox < ox1; ox++) q[ox] = row[xoff + ox * s.a.sw];
      }
      std::fill(q + ox1, q + s.Wo, 0.0f);
    }
  }
}

/**
 * Output plane `q` of a conv with one input channel per group (depthwise, possibly with a channel
 * multiplier): each window tap is a scaled, strided row added to the output row. Taps that fall in
 * the padding add w * 0 like the im2col GEMM does, so a non-finite weight gives the same NaN.
 */
void depthwise_plane(const float* xplane, const float* wk, float* op, const ConvShape& s, const int64_t* col_lo,
                     const int64_t* col_hi) {
  const Geometry& a = s.a;
  std::fill(op, op + s.Ho * s.Wo, 0.0f);
  for (int64_t oy = 0; oy < s.Ho; oy++) {
    float* __restrict orow = op + oy * s.Wo;
    for (int64_t ky = 0; ky < s.kh; ky++) {
      const int64_t iy = oy * a.sh - a.ph + ky * a.dh;
      const bool row_ok = iy >= 0 && iy < s.H;
      const float* __restrict row = xplane + (row_ok ? iy * s.W : 0);
      for (int64_t kx = 0; kx < s.kw; kx++) {
        const float wv = wk[ky * s.kw + kx];
        const float pad = wv * 0.0f;
        const int64_t off = kx * a.dw - a.pw;
        int64_t ox0 = col_lo[kx], ox1 = col_hi[kx];
        if (!row_ok) ox0 = ox1 = s.Wo;
        for (int64_t ox = 0; ox < ox0; ox++) orow[ox] += pad;
        if (a.sw == 1) {
          const float* __restrict src = row + (off + ox0);
          for (int64_t ox = ox0; ox < ox1; ox++) orow[ox] += wv * src[ox - ox0];
        } else {
          for (int64_t ox = ox0; ox < ox1; ox++) orow[ox] += wv * row[off + ox * a.sw];
        }
        for (int64_t ox = ox1; ox < s.Wo; ox++) orow[ox] += pad;
      }
    }
  }
}

/** How the N·groups (image, group) pairs of a call are spread over the thread pool. */
struct PairPlan {
  int64_t items;
  /** Each worker runs whole pairs (serial GEMMs) when there are at least as many pairs as threads. */
  bool per_worker;
  /** Floats of column scratch per pair at a time. */
  int64_t col_limit;
};

PairPlan plan_pairs(int64_t N, int64_t g) {
  const int64_t items = N * g;
  const bool per_worker = items >= num_threads() && items > 1;
  return {items, per_worker, per_worker ? kColLimitPerWorker : kColLimit};
}

/**
 * Calls run(item, col, inner_parallel) for every pair with a column scratch of col_size floats: one
 * scratch per worker chunk and inner_parallel false when pairs run per worker, else one scratch and
 * the pairs in order with inner_parallel true.
 */
template <class Run>
void for_each_pair(const PairPlan& plan, size_t col_size, const Run& run) {
  if (plan.per_worker) {
    parallel_for(plan.items, 1, [&](int64_t b, int64_t e) {
      std::vector<float> col(col_size);
      for (int64_t i = b; i < e; i++) run(i, col, false);
    });
  } else {
    std::vector<float> col(col_size);
    for (int64_t i = 0; i < plan.items; i++) run(i, col, true);
  }
}

TESSERA_KERNEL(conv2d) {
  const conv::Conv c = conv::conv2d_args(call);
  const Geometry& a = c.a;
  const int64_t N = c.N, C = c.C, H = c.H, W = c.W;
  const int64_t O = c.O, Cg = c.Cg, kh = c.kh, kw = c.kw;
  const float* bias = c.bias;
  const int64_t Ho = c.Ho, Wo = c.Wo;
  const int64_t P = Ho * Wo;
  float* y = c.y;
  if (c.out_numel == 0) return;
  const int64_t g = a.g, Og = O / g, Kc = Cg * kh * kw;
  if (Kc == 0) {
    std::fill(y, y + c.out_numel, 0.0f);
    add_bias(y, bias, N, O, P);
    return;
  }
  const float* xp = c.x;
  const float* wp = c.w;
  const ConvShape s{H, W, Cg, kh, kw, Ho, Wo, a};
  const bool direct = kh == 1 && kw == 1 && a.sh == 1 && a.sw == 1 && a.ph == 0 && a.pw == 0;
  const PairPlan plan = plan_pairs(N, g);
  const int64_t band = std::clamp<int64_t>(plan.col_limit / std::max<int64_t>(Kc * Wo, 1), 1, Ho);
  if (Cg == 1 && Og == 1 && !direct) {
    // GEMMs with one row per group waste the packed kernel: convolve each output plane directly. (With
    // several output channels per input channel, e.g. a grayscale patch embedding, the GEMM wins:
    // MiniViT's 1→128 channel 4×4/4 embedding at batch 128 ran ~30x slower here.)
    // Output columns [lo, hi) whose tap kx lies inside the input row, once per call (no divisions per row).
    std::vector<int64_t> col_lo(kw), col_hi(kw);
    for (int64_t kx = 0; kx < kw; kx++) {
      const int64_t off = kx * a.dw - a.pw;
      const int64_t ox0 = std::min(off >= 0 ? 0 : (-off + a.sw - 1) / a.sw, Wo);
      col_lo[kx] = ox0;
      col_hi[kx] = std::clamp(off >= W ? 0 : (W - 1 - off) / a.sw + 1, ox0, Wo);
    }
    const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(P * kh * kw, 1));
    parallel_for(N * O, grain, [&](int64_t b, int64_t e) {
      for (int64_t q = b; q < e; q++) {
        const int64_t n = q / O, o = q % O;
        depthwise_plane(xp + (n * C + o / Og) * H * W, wp + o * Kc, y + q * P, s, col_lo.data(), col_hi.data());
      }
    });
    add_bias(y, bias, N, O, P);
    return;
  }

  // One (image, group) pair: out[n, group] [Og, P] = W_g [Og, Kc] · cols [Kc, P].
  auto run = [&](int64_t item, std::vector<float>& col, bool inner_parallel) {
    const int64_t n = item / g, gi = item % g;
    const float* xg = xp + (n * C + gi * Cg) * H * W;
    const float* wg = wp + gi * Og * Kc;
    float* og = y + (n * O + gi * Og) * P;
    if (direct) {
      sgemm(false, false, Og, P, Kc, 1.0f, wg, Kc, xg, H * W, 0.0f, og, P);
      return;
    }
    for (int64_t oy0 = 0; oy0 < Ho; oy0 += band) {
      const int64_t rows = std::min(band, Ho - oy0);
      const int64_t L = rows * Wo;
      if (inner_parallel) {
        const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(L, 1));
        parallel_for(Kc, grain, [&](int64_t r0, int64_t r1) { im2col_rows(xg, s, oy0, rows, r0, r1, col.data()); });
      } else {
        im2col_rows(xg, s, oy0, rows, 0, Kc, col.data());
      }
      sgemm(false, false, Og, L, Kc, 1.0f, wg, Kc, col.data(), L, 0.0f, og + oy0 * Wo, P);
    }
  };
  const size_t col_size = direct ? 0 : static_cast<size_t>(Kc * band * Wo);
  for_each_pair(plan, col_size, run);
  add_bias(y, bias, N, O, P);
}

/**
 * Scatter-adds col[(o, ky, kx), (iy, ix)] for output channels [o0, o1) and input rows iy0..iy0+rows
 * into the group's output planes `ob` ([Og, Ho, Wo]).
 */
void col2im_channels(const float* col, int64_t L, float* ob, int64_t o0, int64_t o1, int64_t kh, int64_t kw,
                     const Geometry& a, int64_t iy0, int64_t rows, int64_t W, int64_t Ho, int64_t Wo) {
  const int64_t Po = Ho * Wo;
  for (int64_t o = o0; o < o1; o++) {
    float* plane = ob + o * Po;
    for (int64_t ky = 0; ky < kh; ky++) {
      for (int64_t kx = 0; kx < kw; kx++) {
        const float* q = col + ((o * kh + ky) * kw + kx) * L;
        const int64_t xoff = kx * a.dw - a.pw;
        // Input columns whose output column ox = xoff + ix*sw lies in [0, Wo): [ix0, ix1).
        int64_t ix0 = xoff >= 0 ? 0 : (-xoff + a.sw - 1) / a.sw;
        int64_t ix1 = xoff >= Wo ? 0 : (Wo - 1 - xoff) / a.sw + 1;
        ix0 = std::min(ix0, W);
        ix1 = std::clamp(ix1, ix0, W);
        for (int64_t iy = iy0; iy < iy0 + rows; iy++, q += W) {
          const int64_t oy = iy * a.sh - a.ph + ky * a.dh;
          if (oy < 0 || oy >= Ho) continue;
          float* row = plane + oy * Wo;
          if (a.sw == 1) {
            float* r = row + (xoff + ix0);
            for (int64_t ix = ix0; ix < ix1; ix++) r[ix - ix0] += q[ix];
          } else {
            for (int64_t ix = ix0; ix < ix1; ix++) row[xoff + ix * a.sw] += q[ix];
          }
        }
      }
    }
  }
}

TESSERA_KERNEL(convTranspose2d) {
  const conv::Conv c = conv::conv_transpose2d_args(call);
  const Geometry& a = c.a;
  const int64_t N = c.N, C = c.C, H = c.H, W = c.W;
  const int64_t Og = c.Og, kh = c.kh, kw = c.kw;
  const int64_t g = a.g, O = c.O, Cg = c.Cg;
  const float* bias = c.bias;
  const int64_t Ho = c.Ho, Wo = c.Wo;
  const int64_t Po = Ho * Wo;
  float* y = c.y;
  if (c.out_numel == 0) return;
  {
    const int64_t total = c.out_numel;
    parallel_for(total, 1 << 16, [&](int64_t b, int64_t e) { std::fill(y + b, y + e, 0.0f); });
  }
  const int64_t R = Og * kh * kw, P = H * W;
  if (Cg == 0 || R == 0 || P == 0) {
    add_bias(y, bias, N, O, Po);
    return;
  }
  const float* xp = c.x;
  const float* wp = c.w;
  const PairPlan plan = plan_pairs(N, g);
  const int64_t band = std::clamp<int64_t>(plan.col_limit / std::max<int64_t>(R * W, 1), 1, H);

  // One (image, group) pair: col [R, L] = W_g^T · x_g rows, W_g stored [Cg, R]; then col2im.
  auto run = [&](int64_t item, std::vector<float>& col, bool inner_parallel) {
    const int64_t n = item / g, gi = item % g;
    const float* xg = xp + (n * C + gi * Cg) * P;
    const float* wg = wp + gi * Cg * R;
    float* ob = y + (n * O + gi * Og) * Po;
    for (int64_t iy0 = 0; iy0 < H; iy0 += band) {
      const int64_t rows = std::min(band, H - iy0);
      const int64_t L = rows * W;
      sgemm(true, false, R, L, Cg, 1.0f, wg, R, xg + iy0 * W, P, 0.0f, col.data(), L);
      if (inner_parallel) {
        const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(kh * kw * L, 1));
        parallel_for(Og, grain, [&](int64_t o0, int64_t o1) {
          col2im_channels(col.data(), L, ob, o0, o1, kh, kw, a, iy0, rows, W, Ho, Wo);
        });
      } else {
        col2im_channels(col.data(), L, ob, 0, Og, kh, kw, a, iy0, rows, W, Ho, Wo);
      }
    }
  };
  const size_t col_size = static_cast<size_t>(R * band * W);
  for_each_pair(plan, col_size, run);
  add_bias(y, bias, N, O, Po);
}

}  // namespace
}  // namespace tessera
