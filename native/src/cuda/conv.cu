// conv2d and convTranspose2d of the cuda device, float32, with PyTorch's geometry and the cpu kernels'
// checks (kernels/conv_args.h, shared with kernels/conv.cc). conv2d lowers to im2col + cuda::gemm:
// per (image, group) out[n, g] [Og, Ho·Wo] = W_g [Og, Cg·kh·kw] · col [Cg·kh·kw, Ho·Wo]; a 1×1, stride-1, unpadded conv
// multiplies the input planes directly, and a depthwise conv (one input and one output channel per
// group) runs as a direct kernel, since its GEMMs would have a single row. convTranspose2d is the
// adjoint: col [Og·kh·kw, H·W] = W_gᵀ · x_g by GEMM, then col2im, where each output pixel gathers the
// column entries that land on it (no atomics, so the sum order is fixed).
//
// The column buffer is a cuda::Workspace of at most kColBytes: whole images at a time when one image's
// columns fit, else bands of rows of a single image.
#include <algorithm>
#include <climits>

#include "common.cuh"
#include "gemm.cuh"
#include "kernels/conv_args.h"

namespace tessera {
namespace {

using conv::Geometry;

constexpr int kThreads = 256;
/** Column scratch bound: 256 MiB holds ViT-B/16's patch embedding at batch 445 in one chunk. */
constexpr int64_t kColFloats = (int64_t{256} << 20) / 4;
/** Batch count per cuda::gemm call, so that no implementation meets the grid's 65535 limit. */
constexpr int64_t kMaxGemmBatch = 65535;

unsigned grid_for(int64_t n) {
  unsigned blocks = cuda::blocks_for(n, kThreads);
  return blocks > 65535u * 32 ? 65535u * 32 : blocks;
}

/**
 * Calls launch(index tag, blocks) with int32_t when a grid-stride loop over n elements stays inside
 * 32 bits, else int64_t: the per-element index divisions are then 32-bit.
 */
template <typename F>
void with_index(int64_t n, F&& launch) {
  const unsigned blocks = grid_for(n);
  if (n + int64_t{blocks} * kThreads < INT32_MAX)
    launch(int32_t{}, blocks);
  else
    launch(int64_t{}, blocks);
}

#define TESSERA_GRID_STRIDE(I, i, n)                                                  \
  for (I i = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<I>(gridDim.x) * blockDim.x)

/** out[n, o, p] = (accumulate ? out : 0) + (bias ? bias[o] : 0) over [N, O, P]. */
template <typename I>
__global__ void bias_kernel(float* __restrict__ out, const float* __restrict__ bias, I n, I O, I P, bool accumulate) {
  TESSERA_GRID_STRIDE(I, i, n) {
    const float b = bias ? bias[(i / P) % O] : 0.0f;
    out[i] = accumulate ? out[i] + b : b;
  }
}

void launch_bias(float* out, const float* bias, int64_t N, int64_t O, int64_t P, bool accumulate, const Call& call) {
  const int64_t n = N * O * P;
  if (n == 0 || (accumulate && !bias)) return;
  with_index(n, [&](auto tag, unsigned blocks) {
    using I = decltype(tag);
    bias_kernel<I><<<blocks, kThreads, 0, cuda::stream()>>>(out, bias, static_cast<I>(n), static_cast<I>(O),
                                                            static_cast<I>(P), accumulate);
  });
  TESSERA_CUDA_LAUNCHED(call);
}

/** Extents shared by im2col, col2im and the depthwise kernel. */
struct Shape {
  int64_t C, H, W, O, kh, kw, Ho, Wo;
  Geometry a;
};

/**
 * col[n][r][l] for the chunk's images n, rows r = (c, ky, kx) over all C input channels (so group g's
 * rows are the block [g·Cg·kh·kw, (g+1)·Cg·kh·kw)) and columns l = (oy - oy0)·Wo + ox for output rows
 * [oy0, oy0 + L/Wo): the input each tap multiplies, 0 in the padding. x is the chunk's first image.
 */
template <typename I>
__global__ void im2col_kernel(const float* __restrict__ x, float* __restrict__ col, I n, I rows_per_image, I L,
                              Shape s, int64_t oy0) {
  const I kk = static_cast<I>(s.kh * s.kw), kw = static_cast<I>(s.kw), Wo = static_cast<I>(s.Wo);
  TESSERA_GRID_STRIDE(I, i, n) {
    const I q = i / L;
    const I l = i - q * L;
    const I img = q / rows_per_image;
    const I r = q - img * rows_per_image;
    const I c = r / kk;
    const I k = r - c * kk;
    const I ky = k / kw;
    const I kx = k - ky * kw;
    const I dy = l / Wo;
    const I ox = l - dy * Wo;
    const int64_t iy = (oy0 + dy) * s.a.sh - s.a.ph + int64_t{ky} * s.a.dh;
    const int64_t ix = int64_t{ox} * s.a.sw - s.a.pw + int64_t{kx} * s.a.dw;
    float v = 0.0f;
    if (iy >= 0 && iy < s.H && ix >= 0 && ix < s.W) v = x[((int64_t{img} * s.C + c) * s.H + iy) * s.W + ix];
    col[i] = v;
  }
}

/**
 * One depthwise output element: the taps in row-major order, padding contributing w·0 as the im2col
 * GEMM would (so a non-finite weight still gives NaN), each product and sum rounded like the cpu's
 * depthwise_plane, then the bias.
 */
template <typename I>
__global__ void depthwise_kernel(const float* __restrict__ x, const float* __restrict__ w,
                                 const float* __restrict__ bias, float* __restrict__ out, I n, Shape s) {
  const I Wo = static_cast<I>(s.Wo), Ho = static_cast<I>(s.Ho), O = static_cast<I>(s.O);
  TESSERA_GRID_STRIDE(I, i, n) {
    const I row = i / Wo;
    const I ox = i - row * Wo;
    const I plane = row / Ho;
    const I oy = row - plane * Ho;
    const I o = plane % O;
    // One input channel per group and one output channel per group: channel o reads input channel o.
    const float* xp = x + int64_t{plane} * s.H * s.W;
    const float* wk = w + int64_t{o} * s.kh * s.kw;
    const int64_t y0 = int64_t{oy} * s.a.sh - s.a.ph, x0 = int64_t{ox} * s.a.sw - s.a.pw;
    float acc = 0.0f;
    for (int64_t ky = 0; ky < s.kh; ky++) {
      const int64_t iy = y0 + ky * s.a.dh;
      const bool row_ok = iy >= 0 && iy < s.H;
      for (int64_t kx = 0; kx < s.kw; kx++) {
        const int64_t ix = x0 + kx * s.a.dw;
        const float v = row_ok && ix >= 0 && ix < s.W ? xp[iy * s.W + ix] : 0.0f;
        acc = __fadd_rn(acc, __fmul_rn(wk[ky * s.kw + kx], v));
      }
    }
    out[i] = bias ? __fadd_rn(acc, bias[o]) : acc;
  }
}

/**
 * col2im for the chunk's output images ([nb, O, Ho, Wo] from `out`): each pixel adds, in (ky, kx) order,
 * the column entries of input rows [iy0, iy0 + rows) that land on it. col is [nb·O·kh·kw, rows·W]:
 * row ((n·O + o)·kh + ky)·kw + kx. The first band starts from 0, later bands from out; the last adds the
 * bias (which therefore comes after every contribution, as on the cpu).
 */
template <typename I>
__global__ void col2im_kernel(const float* __restrict__ col, const float* __restrict__ bias, float* __restrict__ out,
                              I n, Shape s, int64_t iy0, int64_t rows, bool accumulate) {
  const I Wo = static_cast<I>(s.Wo), Ho = static_cast<I>(s.Ho), O = static_cast<I>(s.O);
  const int64_t L = rows * s.W;
  TESSERA_GRID_STRIDE(I, i, n) {
    const I r = i / Wo;
    const I ox = i - r * Wo;
    const I plane = r / Ho;
    const I oy = r - plane * Ho;
    const float* cp = col + int64_t{plane} * s.kh * s.kw * L;
    float acc = accumulate ? out[i] : 0.0f;
    // Output row oy receives input row iy through tap ky when iy·sh - ph + ky·dh = oy.
    for (int64_t ky = 0; ky < s.kh; ky++) {
      const int64_t ty = int64_t{oy} + s.a.ph - ky * s.a.dh;
      if (ty < 0) break;  // decreases with ky
      if (ty % s.a.sh != 0) continue;
      const int64_t iy = ty / s.a.sh;
      if (iy < iy0) break;
      if (iy >= iy0 + rows) continue;
      for (int64_t kx = 0; kx < s.kw; kx++) {
        const int64_t tx = int64_t{ox} + s.a.pw - kx * s.a.dw;
        if (tx < 0) break;
        if (tx % s.a.sw != 0) continue;
        const int64_t ix = tx / s.a.sw;
        if (ix >= s.W) continue;
        acc += cp[(ky * s.kw + kx) * L + (iy - iy0) * s.W + ix];
      }
    }
    out[i] = bias ? acc + bias[plane % O] : acc;
  }
}

/**
 * The GEMMs of nimg images × g groups, C(n, gi) = op(A(gi)) · B(n, gi), with A(gi) = A + gi·a_grp and
 * B/C at img/grp strides: one batched call per group (batched over images) or per image (batched over
 * groups), whichever makes fewer calls.
 */
struct GroupedGemm {
  bool transA = false;
  int64_t M = 0, N = 0, K = 0;
  const float* A = nullptr;
  int64_t lda = 0, a_grp = 0;
  const float* B = nullptr;
  int64_t ldb = 0, b_img = 0, b_grp = 0;
  float* C = nullptr;
  int64_t ldc = 0, c_img = 0, c_grp = 0;
};

void run_gemms(const GroupedGemm& p, int64_t nimg, int64_t g) {
  const bool per_group = g <= nimg;
  const int64_t calls = per_group ? g : nimg, batch = per_group ? nimg : g;
  for (int64_t j = 0; j < calls; j++) {
    for (int64_t b0 = 0; b0 < batch; b0 += kMaxGemmBatch) {
      // Element (j, b0 + t) of the loop is (gi, n) per group or (n, gi) per image.
      const int64_t gi = per_group ? j : b0, n = per_group ? b0 : j;
      cuda::Gemm m;
      m.ab = m.c = DType::F32;
      m.transA = p.transA;
      m.M = p.M;
      m.N = p.N;
      m.K = p.K;
      m.A = p.A + gi * p.a_grp;
      m.lda = p.lda;
      m.strideA = per_group ? 0 : p.a_grp;
      m.B = p.B + n * p.b_img + gi * p.b_grp;
      m.ldb = p.ldb;
      m.strideB = per_group ? p.b_img : p.b_grp;
      m.C = p.C + n * p.c_img + gi * p.c_grp;
      m.ldc = p.ldc;
      m.strideC = per_group ? p.c_img : p.c_grp;
      m.batch = std::min(kMaxGemmBatch, batch - b0);
      m.alpha = 1.0f;
      m.beta = 0.0f;
      cuda::gemm(m);
    }
  }
}

/** Images per chunk and rows per band so that chunk · per_row · rows ≤ kColFloats (at least one row). */
struct Chunking {
  int64_t images, rows;
};

Chunking chunking(int64_t N, int64_t rows_total, int64_t per_row) {
  const int64_t per_image = per_row * rows_total;
  if (per_image <= kColFloats) return {std::clamp<int64_t>(kColFloats / std::max<int64_t>(per_image, 1), 1, N), rows_total};
  return {1, std::clamp<int64_t>(kColFloats / std::max<int64_t>(per_row, 1), 1, rows_total)};
}

}  // namespace

TESSERA_CUDA_KERNEL(conv2d) {
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
    launch_bias(y, bias, N, O, P, false, call);
    return;
  }
  const float* xp = c.x;
  const float* wp = c.w;
  const Shape s{C, H, W, O, kh, kw, Ho, Wo, a};
  const bool direct = kh == 1 && kw == 1 && a.sh == 1 && a.sw == 1 && a.ph == 0 && a.pw == 0;

  if (Cg == 1 && Og == 1 && !direct) {
    with_index(c.out_numel, [&](auto tag, unsigned blocks) {
      using I = decltype(tag);
      depthwise_kernel<I><<<blocks, kThreads, 0, cuda::stream()>>>(xp, wp, bias, y, static_cast<I>(c.out_numel), s);
    });
    TESSERA_CUDA_LAUNCHED(call);
    return;
  }

  GroupedGemm m;
  m.M = Og;
  m.K = Kc;
  m.A = wp;
  m.lda = Kc;
  m.a_grp = Og * Kc;
  m.ldc = P;
  m.c_img = O * P;
  m.c_grp = Og * P;
  if (direct) {
    // Output sizes equal the input's: each image's group is already the [Cg, H·W] column matrix.
    m.N = P;
    m.B = xp;
    m.ldb = P;
    m.b_img = C * P;
    m.b_grp = Cg * P;
    m.C = y;
    run_gemms(m, N, g);
  } else {
    const int64_t rows_per_image = C * kh * kw;  // g · Kc column rows per image
    const Chunking ch = chunking(N, Ho, rows_per_image * Wo);
    cuda::Workspace ws(static_cast<size_t>(ch.images * rows_per_image * ch.rows * Wo) * sizeof(float));
    float* col = ws.as<float>();
    for (int64_t n0 = 0; n0 < N; n0 += ch.images) {
      const int64_t nb = std::min(ch.images, N - n0);
      for (int64_t oy0 = 0; oy0 < Ho; oy0 += ch.rows) {
        const int64_t L = std::min(ch.rows, Ho - oy0) * Wo;
        const int64_t n = nb * rows_per_image * L;
        with_index(n, [&](auto tag, unsigned blocks) {
          using I = decltype(tag);
          im2col_kernel<I><<<blocks, kThreads, 0, cuda::stream()>>>(
              xp + n0 * C * H * W, col, static_cast<I>(n), static_cast<I>(rows_per_image), static_cast<I>(L), s, oy0);
        });
        TESSERA_CUDA_LAUNCHED(call);
        m.N = L;
        m.B = col;
        m.ldb = L;
        m.b_img = rows_per_image * L;
        m.b_grp = Kc * L;
        m.C = y + n0 * O * P + oy0 * Wo;
        run_gemms(m, nb, g);
      }
    }
  }
  launch_bias(y, bias, N, O, P, true, call);
}

TESSERA_CUDA_KERNEL(convTranspose2d) {
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
  const int64_t R = Og * kh * kw, P = H * W;
  if (Cg == 0 || R == 0 || P == 0) {
    launch_bias(y, bias, N, O, Po, false, call);
    return;
  }
  const float* xp = c.x;
  const float* wp = c.w;
  const Shape s{C, H, W, O, kh, kw, Ho, Wo, a};
  // Per image the columns are [g, R, rows·W] = [O·kh·kw, rows·W].
  const int64_t rows_per_image = O * kh * kw;
  const Chunking ch = chunking(N, H, rows_per_image * W);
  cuda::Workspace ws(static_cast<size_t>(ch.images * rows_per_image * ch.rows * W) * sizeof(float));
  float* col = ws.as<float>();
  GroupedGemm m;
  // W_g is stored [Cg, R]: its transpose times x_g's [Cg, rows·W] band.
  m.transA = true;
  m.M = R;
  m.K = Cg;
  m.A = wp;
  m.lda = R;
  m.a_grp = Cg * R;
  m.ldb = P;
  m.b_img = C * P;
  m.b_grp = Cg * P;
  m.C = col;
  for (int64_t n0 = 0; n0 < N; n0 += ch.images) {
    const int64_t nb = std::min(ch.images, N - n0);
    float* yc = y + n0 * O * Po;
    for (int64_t iy0 = 0; iy0 < H; iy0 += ch.rows) {
      const int64_t rows = std::min(ch.rows, H - iy0);
      const int64_t L = rows * W;
      m.N = L;
      m.B = xp + n0 * C * P + iy0 * W;
      m.ldc = L;
      m.c_img = rows_per_image * L;
      m.c_grp = R * L;
      run_gemms(m, nb, g);
      const bool last = iy0 + rows >= H;
      const int64_t n = nb * O * Po;
      with_index(n, [&](auto tag, unsigned blocks) {
        using I = decltype(tag);
        col2im_kernel<I><<<blocks, kThreads, 0, cuda::stream()>>>(col, last ? bias : nullptr, yc, static_cast<I>(n),
                                                                  s, iy0, rows, iy0 > 0);
      });
      TESSERA_CUDA_LAUNCHED(call);
    }
  }
}

}  // namespace tessera

#undef TESSERA_GRID_STRIDE
