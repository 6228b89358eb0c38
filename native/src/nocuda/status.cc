// Compiled when the addon is built without CUDA: the cuda device reports why it is not there.
#include "device.h"

#ifndef TESSERA_CUDA_REASON
#define TESSERA_CUDA_REASON "this binary was built without CUDA"
#endif

namespace tessera {

const CudaStatus& cuda_status() {
  static const CudaStatus s = [] {
    CudaStatus r;
    r.reason = TESSERA_CUDA_REASON;
    return r;
  }();
  return s;
}

Device* cuda_device() { return nullptr; }

void cuda_set_tf32(bool) {}

}  // namespace tessera
