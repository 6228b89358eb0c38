// Scaled dot-product attention, forward and backward, flash-attention style on the CPU. The tile
// primitives (GEMM on tiles, exp, logits prep) have AVX-512 and AVX2 versions in
// attention_avx512.cc / attention_avx2.cc, picked like the GEMM's path (isa()).
//
// Views (abi.ts): attention: q [B,Sq,D], k [B,Sk,D], v [B,Sk,Dv], mask? [B,Sq,Sk], out [B,Sq,Dv],
// weights? [B,Sq,Sk] | scale, causal. attentionBackward: q, k, v, mask?, dout [B,Sq,Dv], dq, dk, dv,
// dmask? | scale, causal. All float32 and contiguous (the TS side converts half views).
//
// Semantics follow backend-js (packages/backend-js/src/kernels/attention.ts): logits = scale·q·kᵀ + mask,
// causal sets keys j > i to -Inf (top-left aligned, also when Sq != Sk), a row with every key masked
// gives NaN (0/0) in out and weights, Sk == 0 gives out = 0.
//
// Forward without weights: per (batch, block of TQ queries), key tiles of TK: logits tile by a small
// GEMM against the packed kᵀ tile, online softmax (running max / sum per row, the accumulator rescaled
// when the max grows), acc += P·v. The Sq×Sk matrix never exists; causal skips tiles past the
// diagonal. With weights: one tile spans all (unmasked) keys, so the normalised P is the weights.
//
// Backward: when all keys fit one tile, one pass per query block (backward_one_tile). Otherwise a
// forward recompute per query block gives each row's log-sum-exp and D_i = dout_i·out_i; then per
// key tile, over the query blocks that see it: P = exp(S - lse), dv += Pᵀ·dout, dP = dout·vᵀ,
// dS = P∘(dP - D), dmask = dS, dq += scale·dS·k, dk += scale·dSᵀ·q.
// dk/dv of a key tile are owned by one task; dq is accumulated per batch (parallel over batches)
// or, for few batches, into per-thread partials summed in a fixed order.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "attention_args.h"
#include "tessera.h"

namespace tessera {

#if defined(__x86_64__)
void attn_gemm_nn_avx512(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* B,
                         int64_t ldb, float* C, int64_t ldc, bool acc);
void attn_gemm_tn_avx512(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* B,
                         int64_t ldb, float* C, int64_t ldc, bool acc);
float attn_exp_sum_avx512(float* s, int64_t n, float shift);
float attn_prep_row_avx512(float* s, int64_t tk, float scale, const float* mrow, int64_t limit);
void attn_gemm_nn_avx2(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* B, int64_t ldb,
                       float* C, int64_t ldc, bool acc);
void attn_gemm_tn_avx2(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* B, int64_t ldb,
                       float* C, int64_t ldc, bool acc);
float attn_exp_sum_avx2(float* s, int64_t n, float shift);
float attn_prep_row_avx2(float* s, int64_t tk, float scale, const float* mrow, int64_t limit);
#endif

namespace {

constexpr int64_t TQ = 64;
constexpr int64_t TK = 128;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// ---- tile primitives (generic versions; AVX-512 ones in attention_avx512.cc) ----

// C[m,n] (+)= A[m,k]·B[k,n], row-major.
void gemm_nn_generic(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* B, int64_t ldb,
                     float* C, int64_t ldc, bool acc) {
  for (int64_t r = 0; r < m; r++) {
    float* c = C + r * ldc;
    if (!acc) std::fill(c, c + n, 0.0f);
    const float* a = A + r * lda;
    for (int64_t kk = 0; kk < k; kk++) {
      const float av = a[kk];
      const float* b = B + kk * ldb;
      for (int64_t j = 0; j < n; j++) c[j] += av * b[j];
    }
  }
}

// C[m,n] (+)= Aᵀ·B with A stored [k, m] (lda).
void gemm_tn_generic(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* B, int64_t ldb,
                     float* C, int64_t ldc, bool acc) {
  if (!acc)
    for (int64_t r = 0; r < m; r++) std::fill(C + r * ldc, C + r * ldc + n, 0.0f);
  for (int64_t kk = 0; kk < k; kk++) {
    const float* b = B + kk * ldb;
    for (int64_t r = 0; r < m; r++) {
      const float av = A[kk * lda + r];
      float* c = C + r * ldc;
      for (int64_t j = 0; j < n; j++) c[j] += av * b[j];
    }
  }
}

// s[i] = exp(s[i] - shift); returns the sum.
float exp_sum_generic(float* s, int64_t n, float shift) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; i++) {
    const float e = std::exp(s[i] - shift);
    s[i] = e;
    sum += e;
  }
  return sum;
}

float prep_row_generic(float* s, int64_t tk, float scale, const float* mrow, int64_t limit) {
  if (limit < 0) limit = 0;
  if (limit > tk) limit = tk;
  if (mrow) {
    for (int64_t c = 0; c < limit; c++) s[c] = s[c] * scale + mrow[c];
  } else {
    for (int64_t c = 0; c < limit; c++) s[c] = s[c] * scale;
  }
  for (int64_t c = limit; c < tk; c++) s[c] = kNegInf;
  float mt = kNegInf;
  for (int64_t c = 0; c < limit; c++) mt = s[c] > mt ? s[c] : mt;
  return mt;
}

struct Ops {
  void (*gemm_nn)(int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t, float*, int64_t, bool);
  void (*gemm_tn)(int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t, float*, int64_t, bool);
  float (*exp_sum)(float*, int64_t, float);
  // One row of a logits tile: s = s·scale + mask, keys at column >= limit set to -Inf (causal);
  // returns the row max, ignoring NaN (like backend-js's `if (s > mt)`).
  float (*prep_row)(float*, int64_t, float, const float*, int64_t);
};

const Ops& ops() {
  static const Ops o = [] {
#if defined(__x86_64__)
    // Follows the GEMM's choice, so TESSERA_ISA caps these too.
    const std::string path = isa();
    const CpuFeatures& f = cpu_features();
    if (path == "avx512" && f.avx512f)
      return Ops{attn_gemm_nn_avx512, attn_gemm_tn_avx512, attn_exp_sum_avx512, attn_prep_row_avx512};
    if ((path == "avx512" || path == "avx2") && f.avx2 && f.fma)
      return Ops{attn_gemm_nn_avx2, attn_gemm_tn_avx2, attn_exp_sum_avx2, attn_prep_row_avx2};
#endif
    return Ops{gemm_nn_generic, gemm_tn_generic, exp_sum_generic, prep_row_generic};
  }();
  return o;
}

struct Problem {
  const float* q;
  const float* k;
  const float* v;
  const float* mask;  // null when absent
  int64_t B, Sq, Sk, D, Dv;
  float scale;
  bool causal;
};

// dst[c * ldd + r] = src[r * lds + c] for r < rows, c < cols.
void transpose(const float* src, int64_t lds, int64_t rows, int64_t cols, float* dst, int64_t ldd) {
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++) dst[c * ldd + r] = src[r * lds + c];
}

struct FwdScratch {
  std::vector<float> S, Kt, A, m, l;
  int64_t ktBatch = -1;  // the batch whose kᵀ [D, Sk] is packed in Kt
};

/**
 * Rows [i0, i0+tq) of batch b: writes the normalised output to `out` (tq rows, ld Dv), and when given
 * the weights rows (ld Sk) and each row's log-sum-exp.
 */
void forward_block(const Problem& p, int64_t b, int64_t i0, int64_t tq, float* out, float* weights, float* lse,
                   FwdScratch& w) {
  const Ops& o = ops();
  const int64_t Sk = p.Sk, D = p.D, Dv = p.Dv;
  const float* qb = p.q + (b * p.Sq + i0) * D;
  const float* kb = p.k + b * Sk * D;
  const float* vb = p.v + b * Sk * Dv;
  const float* mb = p.mask ? p.mask + (b * p.Sq + i0) * Sk : nullptr;
  // Keys at kend and beyond are masked (causal) for every row of the block.
  const int64_t kend = p.causal ? std::min(Sk, i0 + tq) : Sk;
  const int64_t tkMax = weights ? std::max<int64_t>(kend, 1) : std::min(TK, Sk);
  w.S.resize(static_cast<size_t>(tq * tkMax));
  // Padded so the transpose's column writes do not all fall into one cache set (Sk = 1024, ...).
  const int64_t ldkt = (Sk + 15) / 16 * 16 + 16;
  if (w.ktBatch != b) {
    // Workers take the query blocks of one batch in a row, so kᵀ is packed once per batch and worker.
    w.Kt.resize(static_cast<size_t>(D * ldkt));
    transpose(kb, D, Sk, D, w.Kt.data(), ldkt);
    w.ktBatch = b;
  }
  w.A.assign(static_cast<size_t>(tq * Dv), 0.0f);
  w.m.assign(static_cast<size_t>(tq), kNegInf);
  w.l.assign(static_cast<size_t>(tq), 0.0f);
  float* S = w.S.data();
  float* A = w.A.data();
  for (int64_t j0 = 0; j0 < kend; j0 += tkMax) {
    const int64_t tk = std::min(tkMax, kend - j0);
    o.gemm_nn(tq, tk, D, qb, D, w.Kt.data() + j0, ldkt, S, tk, false);
    for (int64_t r = 0; r < tq; r++) {
      float* s = S + r * tk;
      const int64_t limit = p.causal ? i0 + r + 1 - j0 : tk;
      const float mt = o.prep_row(s, tk, p.scale, mb ? mb + r * Sk + j0 : nullptr, limit);
      const float mOld = w.m[r];
      const float mNew = std::max(mt, mOld);
      if (mNew == kNegInf) {
        // Nothing unmasked so far: the tile adds nothing (exp(-Inf - -Inf) would be NaN), except
        // that a NaN logit poisons the row.
        bool nan = false;
        for (int64_t c = 0; c < tk; c++) nan |= std::isnan(s[c]);
        if (nan) w.l[r] = std::numeric_limits<float>::quiet_NaN();
        std::fill(s, s + tk, 0.0f);
        continue;
      }
      const float l = o.exp_sum(s, tk, mNew);
      if (mNew != mOld) {
        const float corr = std::exp(mOld - mNew);
        w.l[r] = w.l[r] * corr + l;
        float* a = A + r * Dv;
        for (int64_t d = 0; d < Dv; d++) a[d] *= corr;
        w.m[r] = mNew;
      } else {
        w.l[r] += l;
      }
    }
    o.gemm_nn(tq, Dv, tk, S, tk, vb + j0 * Dv, Dv, A, Dv, true);
  }
  for (int64_t r = 0; r < tq; r++) {
    const float inv = 1.0f / w.l[r];
    const float* a = A + r * Dv;
    float* orow = out + r * Dv;
    for (int64_t d = 0; d < Dv; d++) orow[d] = a[d] * inv;
    if (weights) {
      float* wr = weights + r * Sk;
      const float* s = S + r * std::max<int64_t>(kend, 1);
      for (int64_t c = 0; c < kend; c++) wr[c] = s[c] * inv;
      for (int64_t c = kend; c < Sk; c++) wr[c] = 0.0f * inv;  // NaN for a fully masked row
    }
    if (lse) lse[r] = w.m[r] + std::log(w.l[r]);
  }
}

struct BwdScratch {
  std::vector<float> Kt, Vt, S, dP, dk, dv;
};

struct BwdArgs {
  const float* dout;
  const float* lse;   // [B*Sq]
  const float* Drow;  // [B*Sq]
  float* dk;
  float* dv;
  float* dmask;  // null when absent
};

// Key tiles jb = start, start+step, ... of batch b; dq contributions (unscaled) are added to dqb [Sq, D].
void backward_ktiles(const Problem& p, const BwdArgs& g, int64_t b, int64_t start, int64_t step, float* dqb,
                     BwdScratch& w) {
  const Ops& o = ops();
  const int64_t Sq = p.Sq, Sk = p.Sk, D = p.D, Dv = p.Dv;
  const int64_t nkb = (Sk + TK - 1) / TK;
  const float* qb = p.q + b * Sq * D;
  const float* kb = p.k + b * Sk * D;
  const float* vb = p.v + b * Sk * Dv;
  const float* ob = g.dout + b * Sq * Dv;
  w.Kt.resize(static_cast<size_t>(D * TK));
  w.Vt.resize(static_cast<size_t>(Dv * TK));
  w.S.resize(static_cast<size_t>(TQ * TK));
  w.dP.resize(static_cast<size_t>(TQ * TK));
  for (int64_t jb = start; jb < nkb; jb += step) {
    const int64_t j0 = jb * TK;
    const int64_t tk = std::min(TK, Sk - j0);
    transpose(kb + j0 * D, D, tk, D, w.Kt.data(), tk);
    transpose(vb + j0 * Dv, Dv, tk, Dv, w.Vt.data(), tk);
    w.dk.assign(static_cast<size_t>(tk * D), 0.0f);
    w.dv.assign(static_cast<size_t>(tk * Dv), 0.0f);
    // Causal: query blocks whose rows all lie before j0 see none of these keys.
    const int64_t iStart = p.causal ? (j0 / TQ) * TQ : 0;
    for (int64_t i0 = iStart; i0 < Sq; i0 += TQ) {
      const int64_t tq = std::min(TQ, Sq - i0);
      float* S = w.S.data();
      float* dP = w.dP.data();
      o.gemm_nn(tq, tk, D, qb + i0 * D, D, w.Kt.data(), tk, S, tk, false);
      for (int64_t r = 0; r < tq; r++) {
        const int64_t i = i0 + r;
        const float* mrow = p.mask ? p.mask + (b * Sq + i) * Sk + j0 : nullptr;
        const int64_t limit = p.causal ? i + 1 - j0 : tk;
        o.prep_row(S + r * tk, tk, p.scale, mrow, limit);
        o.exp_sum(S + r * tk, tk, g.lse[b * Sq + i]);
      }
      o.gemm_nn(tq, tk, Dv, ob + i0 * Dv, Dv, w.Vt.data(), tk, dP, tk, false);
      for (int64_t r = 0; r < tq; r++) {
        const float Di = g.Drow[b * Sq + i0 + r];
        float* dp = dP + r * tk;
        const float* pr = S + r * tk;
        for (int64_t c = 0; c < tk; c++) dp[c] = pr[c] * (dp[c] - Di);
        if (g.dmask) std::copy(dp, dp + tk, g.dmask + (b * Sq + i0 + r) * Sk + j0);
      }
      // dv += Pᵀ·dout, dk += dSᵀ·q, dq += dS·k.
      o.gemm_tn(tk, Dv, tq, S, tk, ob + i0 * Dv, Dv, w.dv.data(), Dv, true);
      o.gemm_tn(tk, D, tq, dP, tk, qb + i0 * D, D, w.dk.data(), D, true);
      o.gemm_nn(tq, D, tk, dP, tk, kb + j0 * D, D, dqb + i0 * D, D, true);
    }
    float* dkb = g.dk + (b * Sk + j0) * D;
    for (int64_t x = 0; x < tk * D; x++) dkb[x] = w.dk[x] * p.scale;
    std::copy(w.dv.begin(), w.dv.end(), g.dv + (b * Sk + j0) * Dv);
  }
}

/**
 * Backward of batch b when all keys fit one tile (Sk <= TK, e.g. MiniViT's 50 tokens): one pass instead
 * of a forward recompute plus a key-tile pass (~1.7x faster there). Per block of TQ queries:
 * P = softmax(S) over all keys, dP = dout·vᵀ, D_i = Σ_j P_ij·dP_ij (= dout_i·out_i), dS = P∘(dP - D),
 * dv += Pᵀ·dout, dk += scale·dSᵀ·q, dq = scale·dS·k. Writes dq, dk, dv (and dmask) of batch b.
 */
void backward_one_tile(const Problem& p, const float* dout, float* dq, float* dk, float* dv, float* dmask, int64_t b,
                       BwdScratch& w) {
  const Ops& o = ops();
  const int64_t Sq = p.Sq, Sk = p.Sk, D = p.D, Dv = p.Dv;
  const float* qb = p.q + b * Sq * D;
  const float* kb = p.k + b * Sk * D;
  const float* vb = p.v + b * Sk * Dv;
  const float* ob = dout + b * Sq * Dv;
  float* dkb = dk + b * Sk * D;
  float* dvb = dv + b * Sk * Dv;
  w.Kt.resize(static_cast<size_t>(D * Sk));
  w.Vt.resize(static_cast<size_t>(Dv * Sk));
  w.S.resize(static_cast<size_t>(TQ * Sk));
  w.dP.resize(static_cast<size_t>(TQ * Sk));
  transpose(kb, D, Sk, D, w.Kt.data(), Sk);
  transpose(vb, Dv, Sk, Dv, w.Vt.data(), Sk);
  float* S = w.S.data();
  float* dP = w.dP.data();
  for (int64_t i0 = 0; i0 < Sq; i0 += TQ) {
    const int64_t tq = std::min(TQ, Sq - i0);
    o.gemm_nn(tq, Sk, D, qb + i0 * D, D, w.Kt.data(), Sk, S, Sk, false);
    o.gemm_nn(tq, Sk, Dv, ob + i0 * Dv, Dv, w.Vt.data(), Sk, dP, Sk, false);
    for (int64_t r = 0; r < tq; r++) {
      const int64_t i = i0 + r;
      float* s = S + r * Sk;
      float* dp = dP + r * Sk;
      const float* mrow = p.mask ? p.mask + (b * Sq + i) * Sk : nullptr;
      const float mx = o.prep_row(s, Sk, p.scale, mrow, p.causal ? i + 1 : Sk);
      // A fully masked row has max -Inf: exp(-Inf - -Inf) is NaN, as the forward's 0/0.
      const float inv = 1.0f / o.exp_sum(s, Sk, mx);
      float di = 0.0f;
      for (int64_t c = 0; c < Sk; c++) {
        s[c] *= inv;
        di += s[c] * dp[c];
      }
      for (int64_t c = 0; c < Sk; c++) dp[c] = s[c] * (dp[c] - di);
      if (dmask) std::copy(dp, dp + Sk, dmask + (b * Sq + i) * Sk);
      for (int64_t c = 0; c < Sk; c++) dp[c] *= p.scale;
    }
    const bool acc = i0 > 0;
    o.gemm_tn(Sk, Dv, tq, S, Sk, ob + i0 * Dv, Dv, dvb, Dv, acc);
    o.gemm_tn(Sk, D, tq, dP, Sk, qb + i0 * D, D, dkb, D, acc);
    o.gemm_nn(tq, D, Sk, dP, Sk, kb, D, dq + (b * Sq + i0) * D, D, false);
  }
}

// ---- validation ----

/** View i, contiguous float32 of shape [a, b, c]. */
const View& shaped_f32(const Call& call, size_t i, int64_t a, int64_t b, int64_t c, const char* msg) {
  const View& v = call.contiguous(i, DType::F32);
  attn::check_shape(call, v, a, b, c, msg);
  return v;
}

/** Optional view i, contiguous float32 of shape [a, b, c]: its data, or null when absent. */
float* optional_f32(const Call& call, size_t i, int64_t a, int64_t b, int64_t c, const char* msg) {
  if (!call.view(i).present()) return nullptr;
  return shaped_f32(call, i, a, b, c, msg).ptr<float>();
}

Problem problem(const Call& call) {
  const View& q = call.contiguous(0, DType::F32);
  const View& k = call.contiguous(1, DType::F32);
  const View& v = call.contiguous(2, DType::F32);
  const attn::Dims d = attn::qkv_dims(call, q, k, v);
  Problem p{};
  p.B = d.B;
  p.Sq = d.Sq;
  p.Sk = d.Sk;
  p.D = d.D;
  p.Dv = d.Dv;
  p.q = q.ptr<float>();
  p.k = k.ptr<float>();
  p.v = v.ptr<float>();
  p.mask = optional_f32(call, 3, p.B, p.Sq, p.Sk, "mask must be [B, Sq, Sk]");
  const attn::Attrs at = attn::attrs_of(call);
  p.scale = at.scale;
  p.causal = at.causal;
  return p;
}

}  // namespace
}  // namespace tessera

TESSERA_KERNEL(attention) {
  using namespace tessera;
  call.expect(6, 2);
  const Problem p = problem(call);
  const View& out = shaped_f32(call, 4, p.B, p.Sq, p.Dv, "out must be [B, Sq, Dv]");
  float* weights = optional_f32(call, 5, p.B, p.Sq, p.Sk, "weights must be [B, Sq, Sk]");
  float* o = out.ptr<float>();
  if (p.B * p.Sq == 0) return;
  if (p.Sk == 0) {
    // Softmax over no keys is empty and the weighted sum of no values is 0 (as backend-js).
    std::fill(o, o + p.B * p.Sq * p.Dv, 0.0f);
    return;
  }
  const int64_t nqb = (p.Sq + TQ - 1) / TQ;
  // One scratch per worker: tasks of one worker run in sequence.
  const int64_t T = std::min<int64_t>(num_threads(), p.B * nqb);
  std::vector<FwdScratch> scratch(static_cast<size_t>(std::max<int64_t>(T, 1)));
  parallel_for(std::max<int64_t>(T, 1), 1, [&](int64_t t0, int64_t t1) {
    for (int64_t wkr = t0; wkr < t1; wkr++) {
      for (int64_t t = wkr; t < p.B * nqb; t += std::max<int64_t>(T, 1)) {
        const int64_t b = t / nqb, i0 = (t % nqb) * TQ;
        const int64_t tq = std::min(TQ, p.Sq - i0);
        forward_block(p, b, i0, tq, o + (b * p.Sq + i0) * p.Dv,
                      weights ? weights + (b * p.Sq + i0) * p.Sk : nullptr, nullptr, scratch[wkr]);
      }
    }
  });
}

TESSERA_KERNEL(attentionBackward) {
  using namespace tessera;
  call.expect(9, 2);
  const Problem p = problem(call);
  const View& dout = shaped_f32(call, 4, p.B, p.Sq, p.Dv, "dout must be [B, Sq, Dv]");
  const View& dq = shaped_f32(call, 5, p.B, p.Sq, p.D, "dq must be [B, Sq, D] like q");
  const View& dk = shaped_f32(call, 6, p.B, p.Sk, p.D, "dk must be [B, Sk, D] like k");
  const View& dv = shaped_f32(call, 7, p.B, p.Sk, p.Dv, "dv must be [B, Sk, Dv] like v");
  float* dmask = optional_f32(call, 8, p.B, p.Sq, p.Sk, "dmask must be [B, Sq, Sk]");
  float* dqp = dq.ptr<float>();
  float* dkp = dk.ptr<float>();
  float* dvp = dv.ptr<float>();
  const int64_t B = p.B, Sq = p.Sq, Sk = p.Sk, D = p.D, Dv = p.Dv;
  if (B * Sq == 0 || Sk == 0) {
    std::fill(dqp, dqp + B * Sq * D, 0.0f);
    // No query or no key: out does not depend on k, v (or is the constant 0).
    std::fill(dkp, dkp + B * Sk * D, 0.0f);
    std::fill(dvp, dvp + B * Sk * Dv, 0.0f);
    return;
  }
  const float* dop = dout.ptr<float>();
  if (Sk <= TK) {
    const int64_t T = std::max<int64_t>(std::min<int64_t>(num_threads(), B), 1);
    parallel_for(T, 1, [&](int64_t t0, int64_t t1) {
      BwdScratch w;
      for (int64_t wkr = t0; wkr < t1; wkr++)
        for (int64_t b = wkr; b < B; b += T) backward_one_tile(p, dop, dqp, dkp, dvp, dmask, b, w);
    });
    return;
  }
  std::fill(dqp, dqp + B * Sq * D, 0.0f);
  if (dmask) std::fill(dmask, dmask + B * Sq * Sk, 0.0f);

  // Pass 1: each row's log-sum-exp and D_i = dout_i · out_i.
  std::vector<float> lse(static_cast<size_t>(B * Sq)), Drow(static_cast<size_t>(B * Sq));
  const int64_t nqb = (Sq + TQ - 1) / TQ;
  {
    const int64_t T = std::max<int64_t>(std::min<int64_t>(num_threads(), B * nqb), 1);
    parallel_for(T, 1, [&](int64_t t0, int64_t t1) {
      FwdScratch w;
      std::vector<float> ob(static_cast<size_t>(TQ * Dv));
      for (int64_t wkr = t0; wkr < t1; wkr++) {
        for (int64_t t = wkr; t < B * nqb; t += T) {
          const int64_t b = t / nqb, i0 = (t % nqb) * TQ;
          const int64_t tq = std::min(TQ, Sq - i0);
          forward_block(p, b, i0, tq, ob.data(), nullptr, lse.data() + b * Sq + i0, w);
          for (int64_t r = 0; r < tq; r++) {
            const float* g = dop + (b * Sq + i0 + r) * Dv;
            const float* orow = ob.data() + r * Dv;
            float s = 0.0f;
            for (int64_t d = 0; d < Dv; d++) s += g[d] * orow[d];
            Drow[b * Sq + i0 + r] = s;
          }
        }
      }
    });
  }

  // Pass 2: per key tile.
  const BwdArgs g{dop, lse.data(), Drow.data(), dkp, dvp, dmask};
  const int64_t nkb = (Sk + TK - 1) / TK;
  const int64_t threads = num_threads();
  if (B >= threads || nkb == 1) {
    const int64_t T = std::max<int64_t>(std::min<int64_t>(threads, B), 1);
    parallel_for(T, 1, [&](int64_t t0, int64_t t1) {
      BwdScratch w;
      for (int64_t wkr = t0; wkr < t1; wkr++)
        for (int64_t b = wkr; b < B; b += T) backward_ktiles(p, g, b, 0, 1, dqp + b * Sq * D, w);
    });
  } else {
    // Few batches: split each batch's key tiles over the threads, dq into per-thread partials.
    const int64_t T = std::min(threads, nkb);
    std::vector<float> partial(static_cast<size_t>(T * Sq * D));
    for (int64_t b = 0; b < B; b++) {
      std::fill(partial.begin(), partial.end(), 0.0f);
      parallel_for(T, 1, [&](int64_t t0, int64_t t1) {
        BwdScratch w;
        for (int64_t t = t0; t < t1; t++) backward_ktiles(p, g, b, t, T, partial.data() + t * Sq * D, w);
      });
      float* dqb = dqp + b * Sq * D;
      for (int64_t t = 0; t < T; t++) {
        const float* pt = partial.data() + t * Sq * D;
        for (int64_t x = 0; x < Sq * D; x++) dqb[x] += pt[x];
      }
    }
  }
  for (int64_t x = 0; x < B * Sq * D; x++) dqp[x] *= p.scale;
}
