// Elementwise kernels of the cuda device. (Skeleton: fill only; the rest is being written.)
#include "common.cuh"

namespace tessera {
namespace {

struct Strides {
  int ndim;
  int64_t shape[kMaxDims];
  int64_t strides[kMaxDims];
};

__device__ inline int64_t strided_offset(const Strides& s, int64_t i) {
  int64_t off = 0;
  for (int d = s.ndim - 1; d >= 0; d--) {
    int64_t n = s.shape[d];
    off += (i % n) * s.strides[d];
    i /= n;
  }
  return off;
}

template <typename T>
__global__ void fill_kernel(T* out, Strides s, int64_t n, T value) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    out[strided_offset(s, i)] = value;
}

template <typename T>
void launch_fill(const View& v, T value, const Call& call) {
  Strides s{};
  s.ndim = v.ndim;
  for (int d = 0; d < v.ndim; d++) {
    s.shape[d] = v.shape[d];
    s.strides[d] = v.strides[d];
  }
  if (v.numel == 0) return;
  unsigned blocks = cuda::blocks_for(v.numel, 256);
  if (blocks > 65535u * 8) blocks = 65535u * 8;
  fill_kernel<T><<<blocks, 256, 0, cuda::stream()>>>(v.ptr<T>(), s, v.numel, value);
  TESSERA_CUDA_LAUNCHED(call);
}

}  // namespace

TESSERA_CUDA_KERNEL_HALF(fill) {
  call.expect(1, 1);
  const View& v = call.view(0);
  call.check(v.present(), "dst is required");
  double x = call.attr(0);
  switch (v.dtype) {
    case DType::F32:
      launch_fill<float>(v, static_cast<float>(x), call);
      break;
    case DType::I32:
      launch_fill<int32_t>(v, static_cast<int32_t>(x), call);
      break;
    case DType::Bool:
      launch_fill<uint8_t>(v, x != 0 ? 1 : 0, call);
      break;
    case DType::F16: {
      uint16_t bits = f32_to_f16(static_cast<float>(x));
      launch_fill<uint16_t>(v, bits, call);
      break;
    }
    case DType::BF16: {
      uint16_t bits = f32_to_bf16(static_cast<float>(x));
      launch_fill<uint16_t>(v, bits, call);
      break;
    }
    default:
      call.fail(std::string("unsupported dtype ") + dtype_name(v.dtype));
  }
}

}  // namespace tessera
