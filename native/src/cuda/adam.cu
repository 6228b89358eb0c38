// adamUpdate: param, grad, m, v (float32, param/m/v updated in place) | lr, beta1, beta2, eps,
//   weightDecay, decoupled (0/1), step
// The cpu kernel's update (PyTorch 1.13) in one pass over the four tensors:
//   AdamW: p ← p·(1 − lr·wd);  Adam: g ← g + wd·p
//   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
//   p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + eps)
// The bias corrections depend only on the step, so the host computes them in float64 (β2ᵗ near 1 is
// where float32 would lose them) and the device runs float32 with IEEE sqrt and division.
// float4 loads and stores when all four tensors are 16-byte aligned.
#include <cmath>

#include "common.cuh"
#include "kernels/adam_args.h"

namespace tessera {
namespace {

struct AdamConsts {
  float beta1, beta2, one_minus_beta1, one_minus_beta2, eps, step_size, bc2_sqrt, decay, l2;
};

template <bool kDecoupled>
__device__ __forceinline__ void adam_one(float& p, float g, float& m, float& v, const AdamConsts& c) {
  float pv = p;
  if (kDecoupled) pv *= c.decay;
  const float gv = kDecoupled ? g : g + c.l2 * pv;
  const float mv = c.beta1 * m + c.one_minus_beta1 * gv;
  const float vv = c.beta2 * v + c.one_minus_beta2 * gv * gv;
  m = mv;
  v = vv;
  p = pv - (c.step_size * mv) / (sqrtf(vv) / c.bc2_sqrt + c.eps);
}

template <bool kDecoupled>
__global__ void adam_vec4_kernel(float4* __restrict__ p, const float4* __restrict__ g, float4* __restrict__ m,
                                 float4* __restrict__ v, int64_t n4, AdamConsts c) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n4;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float4 pp = p[i], mm = m[i], vv = v[i];
    const float4 gg = g[i];
    adam_one<kDecoupled>(pp.x, gg.x, mm.x, vv.x, c);
    adam_one<kDecoupled>(pp.y, gg.y, mm.y, vv.y, c);
    adam_one<kDecoupled>(pp.z, gg.z, mm.z, vv.z, c);
    adam_one<kDecoupled>(pp.w, gg.w, mm.w, vv.w, c);
    p[i] = pp;
    m[i] = mm;
    v[i] = vv;
  }
}

/** Elements [begin, n) one by one: everything when unaligned, else the tail after the float4s. */
template <bool kDecoupled>
__global__ void adam_scalar_kernel(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ m,
                                   float* __restrict__ v, int64_t begin, int64_t n, AdamConsts c) {
  for (int64_t i = begin + blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float pp = p[i], mm = m[i], vv = v[i];
    adam_one<kDecoupled>(pp, g[i], mm, vv, c);
    p[i] = pp;
    m[i] = mm;
    v[i] = vv;
  }
}

constexpr int kThreads = 256;

unsigned grid_for(int64_t n) {
  const int64_t cap = 32 * static_cast<int64_t>(cuda::props().multiProcessorCount);
  const unsigned b = cuda::blocks_for(n, kThreads);
  return static_cast<int64_t>(b) > cap ? static_cast<unsigned>(cap) : b;
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

template <bool kDecoupled>
void launch(const Call& call, float* p, const float* g, float* m, float* v, int64_t n, const AdamConsts& c) {
  int64_t done = 0;
  if (aligned16(p) && aligned16(g) && aligned16(m) && aligned16(v)) {
    const int64_t n4 = n / 4;
    if (n4 > 0) {
      adam_vec4_kernel<kDecoupled><<<grid_for(n4), kThreads, 0, cuda::stream()>>>(
          reinterpret_cast<float4*>(p), reinterpret_cast<const float4*>(g), reinterpret_cast<float4*>(m),
          reinterpret_cast<float4*>(v), n4, c);
      TESSERA_CUDA_LAUNCHED(call);
    }
    done = n4 * 4;
  }
  if (done < n) {
    adam_scalar_kernel<kDecoupled><<<grid_for(n - done), kThreads, 0, cuda::stream()>>>(p, g, m, v, done, n, c);
    TESSERA_CUDA_LAUNCHED(call);
  }
}

}  // namespace

TESSERA_CUDA_KERNEL(adamUpdate) {
  const adam_args::Args a = adam_args::read(call);
  const View* const* v4 = a.views;
  const int64_t n = a.n;
  const bool decoupled = a.decoupled;
  AdamConsts c;
  c.beta1 = static_cast<float>(a.beta1);
  c.beta2 = static_cast<float>(a.beta2);
  c.one_minus_beta1 = static_cast<float>(1 - a.beta1);
  c.one_minus_beta2 = static_cast<float>(1 - a.beta2);
  c.eps = static_cast<float>(a.eps);
  c.step_size = static_cast<float>(a.step_size);
  c.bc2_sqrt = static_cast<float>(a.bc2_sqrt);
  c.decay = static_cast<float>(a.decay);
  c.l2 = static_cast<float>(a.l2);
  if (n == 0) return;
  float* p = v4[0]->ptr<float>();
  const float* g = v4[1]->ptr<float>();
  float* m = v4[2]->ptr<float>();
  float* v = v4[3]->ptr<float>();
  if (decoupled) launch<true>(call, p, g, m, v, n, c);
  else launch<false>(call, p, g, m, v, n, c);
}

}  // namespace tessera
