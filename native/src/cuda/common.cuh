// What every CUDA kernel file of the addon includes: the cuda device's stream, error checks, a
// scratch-memory guard, half-precision loads and stores, and the kernel registration macros.
//
// A kernel is a host function `void(const Call&)` registered by name, exactly as on the cpu device
// (TESSERA_KERNEL); the views' `data` are device pointers. It validates its call (call.check/fail throw
// tessera::Error, which becomes a JS exception), then launches on `cuda::stream()` and checks the launch
// with TESSERA_CUDA_LAUNCHED(). Launches are asynchronous: never synchronize inside a kernel.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "device.h"
#include "tessera.h"

namespace tessera {
namespace cuda {

/** The device's one stream (non-blocking); every kernel and copy is queued on it. */
cudaStream_t stream();
/** The device's properties (read once). */
const cudaDeviceProp& props();

/** Throws tessera::Error naming `what` and CUDA's message when `e` is not cudaSuccess. */
void check(cudaError_t e, const char* what);

/** Device memory from the caching allocator for the duration of one kernel call (stream-ordered reuse). */
class Workspace {
 public:
  explicit Workspace(size_t bytes);
  ~Workspace();
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
  size_t reserved_ = 0;
};

/** Whether f32 matmuls may use TF32 tensor cores (TESSERA_CUDA_TF32=1 or setTf32(true)). */
bool tf32_enabled();

struct KernelRegistrar {
  KernelRegistrar(const char* name, KernelFn fn, bool half);
};

/** Blocks for a 1-D launch of n threads in blocks of `threads` (at least one block). */
inline unsigned blocks_for(int64_t n, int threads) {
  int64_t b = (n + threads - 1) / threads;
  if (b < 1) b = 1;
  if (b > 0x7fffffff) b = 0x7fffffff;
  return static_cast<unsigned>(b);
}

}  // namespace cuda

// ---- half-precision loads/stores (device and host) ----------------------------------------------

template <typename T>
struct Num;
template <>
struct Num<float> {
  __host__ __device__ static float load(float v) { return v; }
  __host__ __device__ static float store(float v) { return v; }
};
template <>
struct Num<__half> {
  __device__ static float load(__half v) { return __half2float(v); }
  __device__ static __half store(float v) { return __float2half_rn(v); }
};
template <>
struct Num<__nv_bfloat16> {
  __device__ static float load(__nv_bfloat16 v) { return __bfloat162float(v); }
  __device__ static __nv_bfloat16 store(float v) { return __float2bfloat16_rn(v); }
};

/**
 * Calls f with a value of the floating element type of `d` (float, __half or __nv_bfloat16);
 * any other dtype fails with the op's name.
 *   dispatch_float(x.dtype, call, [&](auto tag) { using T = decltype(tag); ... });
 */
template <typename F>
void dispatch_float(DType d, const Call& call, F&& f) {
  switch (d) {
    case DType::F32:
      f(float{});
      return;
    case DType::F16:
      f(__half{});
      return;
    case DType::BF16:
      f(__nv_bfloat16{});
      return;
    default:
      call.fail(std::string("cuda supports float32, float16 and bfloat16 here, got ") + dtype_name(d));
  }
}

}  // namespace tessera

/** Checks the last launch (bad configuration, missing kernel image) and throws with the op's name. */
#define TESSERA_CUDA_LAUNCHED(call) ::tessera::cuda::check(cudaGetLastError(), (call).op)

#define TESSERA_CUDA_KERNEL_IMPL(name, half)                                                          \
  static void tessera_cuda_kernel_##name(const ::tessera::Call& call);                                 \
  static ::tessera::cuda::KernelRegistrar tessera_cuda_registrar_##name(#name, tessera_cuda_kernel_##name, \
                                                                        half);                        \
  static void tessera_cuda_kernel_##name(const ::tessera::Call& call)

/** A cuda kernel whose views are float32/int32/bool only (TS converts half views to float32 first). */
#define TESSERA_CUDA_KERNEL(name) TESSERA_CUDA_KERNEL_IMPL(name, false)
/** A cuda kernel that takes float16/bfloat16 views itself (listed in info().halfOps). */
#define TESSERA_CUDA_KERNEL_HALF(name) TESSERA_CUDA_KERNEL_IMPL(name, true)
