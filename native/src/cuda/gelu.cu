// gelu: x, out | approximate (0 erf, 1 tanh);  geluBackward: x, dy, dx | approximate
//   erf:  gelu(x) = x·Φ(x),               gelu'(x) = Φ(x) + x·φ(x)
//   tanh: gelu(x) = x·s, s = σ(2u) = (1 + tanh u)/2, u = √(2/π)·(x + 0.044715·x³)
//         gelu'(x) = s + 2·x·s·(1 − s)·u'(x),  u'(x) = √(2/π)·(1 + 3·0.044715·x²)
// Both gates avoid a 1 + (something near −1) that would cancel for negative x: s is 1/(1 + e^(−2u))
// rather than (1 + tanh u)/2, and Φ(x) is erfc(−x/√2)/2 rather than (1 + erf(x/√2))/2, so x·Φ(x)
// stays a small negative number far out on the left, as on cpu.
// Elementwise and grid-stride; halves compute in float32 and round once.
#include <string>

#include "common.cuh"

namespace tessera {
namespace {

constexpr float kSqrt1_2 = 0.70710678118654752f;
constexpr float kSqrt2OverPi = 0.79788456080286536f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;
constexpr float kGeluC = 0.044715f;

/** σ(2u) = (1 + tanh u)/2; e^(−2u) overflowing to +Inf gives 0. */
__device__ __forceinline__ float tanh_gate(float x) {
  const float u = kSqrt2OverPi * (x + kGeluC * x * x * x);
  return 1.0f / (1.0f + expf(-2.0f * u));
}

__device__ __forceinline__ float gelu_f(float x, bool tanh_form) {
  if (tanh_form) {
    return x * tanh_gate(x);
  }
  return 0.5f * x * erfcf(-x * kSqrt1_2);
}

__device__ __forceinline__ float gelu_grad_f(float x, bool tanh_form) {
  if (tanh_form) {
    const float s = tanh_gate(x);
    const float du = kSqrt2OverPi * (1.0f + 3.0f * kGeluC * x * x);
    return s + 2.0f * x * s * (1.0f - s) * du;
  }
  return 0.5f * erfcf(-x * kSqrt1_2) + x * kInvSqrt2Pi * expf(-0.5f * x * x);
}

template <typename T>
__global__ void gelu_kernel(const T* __restrict__ x, T* __restrict__ out, int64_t n, bool tanh_form) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    out[i] = Num<T>::store(gelu_f(Num<T>::load(x[i]), tanh_form));
}

template <typename T>
__global__ void gelu_backward_kernel(const T* __restrict__ x, const T* __restrict__ dy, T* __restrict__ dx, int64_t n,
                                     bool tanh_form) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    dx[i] = Num<T>::store(Num<T>::load(dy[i]) * gelu_grad_f(Num<T>::load(x[i]), tanh_form));
}

bool approximate(const Call& call) {
  const int64_t a = call.iattr(0);
  call.check(a == 0 || a == 1, "approximate must be 0 (erf) or 1 (tanh)");
  return a == 1;
}

/** View i, contiguous, of dtype d (empty views are never touched and pass unchecked). */
const View& dense_view(const Call& call, size_t i, DType d) {
  const View& v = call.view(i);
  if (v.numel == 0) return v;
  call.check(v.present(), "a required view is absent");
  if (v.dtype != d) call.fail(std::string("views must share one dtype, got ") + dtype_name(v.dtype) + " and " + dtype_name(d));
  call.check(v.contiguous(), "views must be contiguous");
  return v;
}

constexpr int kThreads = 256;

/** Enough blocks to fill the device a few times over; the loops are grid-stride. */
unsigned elementwise_blocks(int64_t n) {
  const int64_t cap = 32 * static_cast<int64_t>(cuda::props().multiProcessorCount);
  const unsigned b = cuda::blocks_for(n, kThreads);
  return static_cast<int64_t>(b) > cap ? static_cast<unsigned>(cap) : b;
}

}  // namespace

TESSERA_CUDA_KERNEL_HALF(gelu) {
  call.expect(2, 1);
  const View& x = dense_view(call, 0, call.view(0).dtype);
  const View& out = dense_view(call, 1, x.dtype);
  call.check(out.same_shape(x), "out must have x's shape");
  const bool t = approximate(call);
  if (x.numel == 0) return;
  dispatch_float(x.dtype, call, [&](auto tag) {
    using T = decltype(tag);
    gelu_kernel<T><<<elementwise_blocks(x.numel), kThreads, 0, cuda::stream()>>>(x.ptr<T>(), out.ptr<T>(), x.numel, t);
    TESSERA_CUDA_LAUNCHED(call);
  });
}

TESSERA_CUDA_KERNEL_HALF(geluBackward) {
  call.expect(3, 1);
  const View& x = dense_view(call, 0, call.view(0).dtype);
  const View& dy = dense_view(call, 1, x.dtype);
  const View& dx = dense_view(call, 2, x.dtype);
  call.check(dy.same_shape(x) && dx.same_shape(x), "x, dy and dx must have one shape");
  const bool t = approximate(call);
  if (x.numel == 0) return;
  dispatch_float(x.dtype, call, [&](auto tag) {
    using T = decltype(tag);
    gelu_backward_kernel<T><<<elementwise_blocks(x.numel), kThreads, 0, cuda::stream()>>>(x.ptr<T>(), dy.ptr<T>(),
                                                                                          dx.ptr<T>(), x.numel, t);
    TESSERA_CUDA_LAUNCHED(call);
  });
}

}  // namespace tessera
