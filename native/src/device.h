// A device owns memory and runs kernels: the binding (addon.cc) keeps one storage table per device
// and talks to it only through this interface. The cpu device lives in addon.cc; the cuda device in
// cuda/runtime.cu (compiled when CMake finds the CUDA toolkit, see make_cuda_device()).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "tessera.h"

namespace tessera {

/** Thrown by Device::allocate when memory is exhausted, with what was asked and what is held. */
class OutOfMemory : public Error {
 public:
  explicit OutOfMemory(const std::string& msg) : Error(msg) {}
};

/** A device-to-host copy started on the JS thread and finished on a worker thread. */
class PendingRead {
 public:
  virtual ~PendingRead() = default;
  /** Blocks until the bytes are on the host and copies them to dst (runs off the JS thread). */
  virtual void finish(void* dst) = 0;
};

struct KernelEntry {
  std::string name;
  KernelFn fn;
  /** The kernel accepts float16/bfloat16 views itself (TS skips its float32 round trip). */
  bool half = false;
};

class Device {
 public:
  virtual ~Device() = default;
  virtual const char* name() const = 0;
  /** Memory for `bytes`; `*reserved` receives the size actually held. Throws OutOfMemory. */
  virtual void* allocate(size_t bytes, size_t* reserved) = 0;
  virtual void release(void* p, size_t reserved) = 0;
  /** Host to device; the source may be reused when this returns. */
  virtual void upload(void* dst, const void* src, size_t bytes) = 0;
  /** Device to host, blocking until the bytes are there. */
  virtual void download(void* dst, const void* src, size_t bytes) = 0;
  /** Starts a copy of the bytes as they are after every kernel queued so far (JS thread). */
  virtual std::unique_ptr<PendingRead> begin_read(const void* src, size_t bytes) = 0;
  /** Runs (or queues) one kernel; may throw Error. */
  virtual void run(const KernelEntry& k, const Call& call) = 0;
  /** Blocks until every queued kernel has finished (called off the JS thread). */
  virtual void synchronize() = 0;
  virtual const std::vector<KernelEntry>& kernels() const = 0;
  /** Bytes of freed blocks held for reuse. */
  virtual size_t cached_bytes() const = 0;
  /** Bytes held from the system (in use + cached). */
  virtual size_t reserved_bytes() const = 0;
  virtual void empty_cache() = 0;
};

/** Whether the cuda device can run here and, when it cannot, why (said by `tessera info`). */
struct CudaStatus {
  bool built = false;
  bool available = false;
  std::string reason;
  std::string device_name;
  int compute_major = 0, compute_minor = 0;
  int multiprocessors = 0;
  size_t total_memory = 0;
  int driver_version = 0, runtime_version = 0;
  std::string architectures;  // what the binary carries, e.g. "sm_80 sm_90 compute_90"
};

/** Probes CUDA once (driver, device count, compute capability); cheap after the first call. */
const CudaStatus& cuda_status();
/** The cuda device, created on first use; nullptr when cuda_status().available is false. */
Device* cuda_device();
/** Whether float32 matmuls on cuda may use TF32 tensor cores (default off, TESSERA_CUDA_TF32=1 turns it on). */
void cuda_set_tf32(bool on);

}  // namespace tessera
