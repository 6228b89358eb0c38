// The cuda device: probing (cuda_status), one non-blocking stream, a caching allocator for device
// memory, pinned staging for host copies, and the kernel table that TESSERA_CUDA_KERNEL fills.
#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common.cuh"

#ifndef TESSERA_CUDA_ARCHS
#define TESSERA_CUDA_ARCHS "unknown"
#endif

namespace tessera {
namespace cuda {
namespace {

std::vector<KernelEntry>& registry() {
  static std::vector<KernelEntry> r;
  return r;
}

int device_index() {
  const char* env = std::getenv("TESSERA_CUDA_DEVICE");
  return env ? std::atoi(env) : 0;
}

std::string mib(size_t bytes) { return std::to_string(bytes / (1024 * 1024)) + " MiB"; }

/** A kernel that does nothing: if its image cannot load, no kernel of the binary can. */
__global__ void probe_kernel(int* p) {
  if (p) *p = 1;
}

/**
 * Freed device blocks kept by size. Requests are rounded (512 B below 1 MiB, 128 KiB below 32 MiB,
 * 2 MiB above) so that a training step's repeated sizes meet exact matches; a block up to a quarter
 * larger than the request also serves. cudaMalloc failing frees the cache and tries once more.
 */
class Allocator {
 public:
  static size_t rounded(size_t bytes) {
    if (bytes == 0) bytes = 1;
    size_t q = bytes < (1u << 20) ? 512 : bytes < (32u << 20) ? (128u << 10) : (2u << 20);
    return (bytes + q - 1) / q * q;
  }

  void* take(size_t bytes, size_t* reserved) {
    size_t want = rounded(bytes);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = free_.lower_bound(want);
    if (it != free_.end() && it->first <= want + want / 4) {
      void* p = it->second;
      *reserved = it->first;
      cached_ -= it->first;
      in_use_ += it->first;
      free_.erase(it);
      return p;
    }
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, want);
    if (e == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();  // an allocation failure is not sticky; clear it
      release_cached_locked();
      e = cudaMalloc(&p, want);
    }
    // Any other failure (a sticky error left by an earlier kernel, e.g. cudaErrorIllegalAddress) is
    // reported as itself, not disguised as "out of memory".
    if (e != cudaSuccess && e != cudaErrorMemoryAllocation) check(e, "device allocation");
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      size_t freeb = 0, total = 0;
      cudaMemGetInfo(&freeb, &total);
      throw OutOfMemory("out of memory allocating " + mib(want) + " (device: " + mib(freeb) + " free of " +
                        mib(total) + "; this process holds " + mib(reserved_) + ", " + mib(in_use_) +
                        " in use). Free tensors (dispose/tidy) or use a smaller batch");
    }
    *reserved = want;
    reserved_ += want;
    in_use_ += want;
    return p;
  }

  void give(void* p, size_t reserved) {
    std::lock_guard<std::mutex> lock(mu_);
    free_.emplace(reserved, p);
    cached_ += reserved;
    in_use_ -= reserved;
  }

  void release_cached() {
    std::lock_guard<std::mutex> lock(mu_);
    release_cached_locked();
  }

  // Locked: Node worker_threads share this process-wide device, and memory() may run on one while
  // another allocates.
  size_t cached() const {
    std::lock_guard<std::mutex> lock(mu_);
    return cached_;
  }
  size_t reserved() const {
    std::lock_guard<std::mutex> lock(mu_);
    return reserved_;
  }

 private:
  void release_cached_locked() {
    if (free_.empty()) return;
    cudaDeviceSynchronize();  // cudaFree synchronizes anyway; do it once
    for (auto& [size, p] : free_) {
      cudaFree(p);
      reserved_ -= size;
    }
    free_.clear();
    cached_ = 0;
  }

  mutable std::mutex mu_;
  std::multimap<size_t, void*> free_;
  size_t cached_ = 0, reserved_ = 0, in_use_ = 0;
};

/**
 * Page-locked host blocks for copies: an upload is memcpy'd into one and DMA'd asynchronously (a
 * pageable source would make cudaMemcpyAsync wait for the stream); a read lands in one and is copied
 * out once its event completes. Blocks return to the pool when their event has completed.
 */
class Staging {
 public:
  struct Block {
    void* p = nullptr;
    size_t size = 0;
    cudaEvent_t done = nullptr;
  };

  Block acquire(size_t bytes) {
    size_t want = std::max<size_t>(4096, (bytes + 4095) / 4096 * 4096);
    std::lock_guard<std::mutex> lock(mu_);
    recycle_locked();
    for (size_t i = 0; i < free_.size(); i++) {
      if (free_[i].size >= want && free_[i].size <= want * 4) {
        Block b = free_[i];
        free_.erase(free_.begin() + static_cast<std::ptrdiff_t>(i));
        cached_ -= b.size;
        return b;
      }
    }
    Block b;
    b.size = want;
    check(cudaHostAlloc(&b.p, want, cudaHostAllocDefault), "pinned host allocation");
    check(cudaEventCreateWithFlags(&b.done, cudaEventDisableTiming), "event creation");
    return b;
  }

  /** Returns a block whose last copy was queued on `s`: reusable once that copy has finished. */
  void retire(Block b, cudaStream_t s) {
    cudaEventRecord(b.done, s);
    std::lock_guard<std::mutex> lock(mu_);
    busy_.push_back(b);
  }

  /** Returns a block whose copies are known to be complete. */
  void give(Block b) {
    std::lock_guard<std::mutex> lock(mu_);
    keep_locked(b);
  }

  void clear() {
    std::lock_guard<std::mutex> lock(mu_);
    recycle_locked();
    for (auto& b : free_) destroy(b);
    free_.clear();
    cached_ = 0;
  }

 private:
  static constexpr size_t kLimit = size_t{256} << 20;

  static void destroy(Block& b) {
    cudaFreeHost(b.p);
    cudaEventDestroy(b.done);
  }

  void keep_locked(Block b) {
    if (cached_ + b.size > kLimit) {
      destroy(b);
      return;
    }
    free_.push_back(b);
    cached_ += b.size;
  }

  void recycle_locked() {
    for (size_t i = 0; i < busy_.size();) {
      if (cudaEventQuery(busy_[i].done) == cudaSuccess) {
        keep_locked(busy_[i]);
        busy_[i] = busy_.back();
        busy_.pop_back();
      } else {
        i++;
      }
    }
    (void)cudaGetLastError();  // cudaErrorNotReady from the queries is not an error
  }

  std::mutex mu_;
  std::vector<Block> free_, busy_;
  size_t cached_ = 0;
};

class CudaDevice;
CudaDevice* g_device = nullptr;

class CudaDevice final : public Device {
 public:
  CudaDevice() {
    index_ = device_index();
    check(cudaSetDevice(index_), "cudaSetDevice");
    check(cudaGetDeviceProperties(&props_, index_), "cudaGetDeviceProperties");
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "stream creation");
    const char* tf = std::getenv("TESSERA_CUDA_TF32");
    tf32_ = tf && std::string(tf) == "1";
  }
  const char* name() const override { return "cuda"; }

  void* allocate(size_t bytes, size_t* reserved) override {
    bind();
    return alloc_.take(bytes, reserved);
  }
  void release(void* p, size_t reserved) override { alloc_.give(p, reserved); }

  void upload(void* dst, const void* src, size_t bytes) override {
    if (!bytes) return;
    bind();
    Staging::Block b = staging_.acquire(bytes);
    std::memcpy(b.p, src, bytes);
    cudaError_t e = cudaMemcpyAsync(dst, b.p, bytes, cudaMemcpyHostToDevice, stream_);
    if (e != cudaSuccess) {
      staging_.give(b);  // nothing was queued: back to the pool rather than leaked
      check(e, "upload");
    }
    staging_.retire(b, stream_);
  }

  void download(void* dst, const void* src, size_t bytes) override {
    if (!bytes) return;
    bind();
    Staging::Block b = staging_.acquire(bytes);
    cudaError_t e = cudaMemcpyAsync(b.p, src, bytes, cudaMemcpyDeviceToHost, stream_);
    if (e == cudaSuccess) e = cudaStreamSynchronize(stream_);
    if (e == cudaSuccess) std::memcpy(dst, b.p, bytes);
    staging_.give(b);
    check(e, "read");
  }

  class Read final : public PendingRead {
   public:
    Read(CudaDevice* device, Staging* staging, Staging::Block b, size_t bytes)
        : device_(device), staging_(staging), b_(b), bytes_(bytes) {}
    ~Read() override {
      if (!b_.p) return;
      // Dropped before finish() completed (e.g. the ReadWorker's ArrayBuffer allocation threw after
      // begin_read): the DMA may still be writing into the block, and give() makes it reusable at once.
      if (!finished_) {
        (void)cudaEventSynchronize(b_.done);
        (void)cudaGetLastError();
      }
      staging_->give(b_);
    }
    void finish(void* dst) override {
      if (!bytes_) return;
      device_->bind();  // a libuv worker: use our device, not an implicit device 0 context
      check(cudaEventSynchronize(b_.done), "read");
      finished_ = true;
      std::memcpy(dst, b_.p, bytes_);
    }

   private:
    CudaDevice* device_;
    Staging* staging_;
    Staging::Block b_;
    size_t bytes_;
    bool finished_ = false;
  };

  std::unique_ptr<PendingRead> begin_read(const void* src, size_t bytes) override {
    if (!bytes) return std::make_unique<Read>(this, &staging_, Staging::Block{}, 0);
    bind();
    Staging::Block b = staging_.acquire(bytes);
    cudaError_t e = cudaMemcpyAsync(b.p, src, bytes, cudaMemcpyDeviceToHost, stream_);
    if (e == cudaSuccess) e = cudaEventRecord(b.done, stream_);
    if (e != cudaSuccess) {
      staging_.give(b);
      check(e, "read");
    }
    return std::make_unique<Read>(this, &staging_, b, bytes);
  }

  void run(const KernelEntry& k, const Call& call) override {
    bind();
    k.fn(call);
  }

  void synchronize() override {
    bind();
    check(cudaStreamSynchronize(stream_), "synchronize");
  }

  const std::vector<KernelEntry>& kernels() const override { return registry(); }
  size_t cached_bytes() const override { return alloc_.cached(); }
  size_t reserved_bytes() const override { return alloc_.reserved(); }
  void empty_cache() override {
    bind();  // cudaDeviceSynchronize/cudaFree act on the calling thread's current device
    alloc_.release_cached();
    staging_.clear();
  }

  cudaStream_t stream() const { return stream_; }
  const cudaDeviceProp& props() const { return props_; }
  Allocator& allocator() { return alloc_; }
  bool tf32() const { return tf32_; }
  void set_tf32(bool on) { tf32_ = on; }

 private:
  /** cudaSetDevice is per host thread: worker threads bind on their first call. */
  void bind() {
    thread_local bool bound = false;
    if (!bound) {
      check(cudaSetDevice(index_), "cudaSetDevice");
      bound = true;
    }
  }

  int index_ = 0;
  cudaDeviceProp props_{};
  cudaStream_t stream_ = nullptr;
  Allocator alloc_;
  Staging staging_;
  bool tf32_ = false;
};

CudaDevice& dev() {
  if (!g_device) fail("the cuda device is not initialised");
  return *g_device;
}

}  // namespace

KernelRegistrar::KernelRegistrar(const char* name, KernelFn fn, bool half) {
  registry().push_back({name, fn, half});
}

void check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return;
  (void)cudaGetLastError();
  fail(std::string(what) + ": CUDA error " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}

cudaStream_t stream() { return dev().stream(); }
const cudaDeviceProp& props() { return dev().props(); }
bool tf32_enabled() { return dev().tf32(); }

Workspace::Workspace(size_t bytes) : bytes_(bytes) {
  if (bytes) ptr_ = dev().allocator().take(bytes, &reserved_);
}
Workspace::~Workspace() {
  if (ptr_) dev().allocator().give(ptr_, reserved_);
}

}  // namespace cuda

const CudaStatus& cuda_status() {
  static const CudaStatus s = [] {
    CudaStatus r;
    r.built = true;
    r.architectures = TESSERA_CUDA_ARCHS;
    const char* env = std::getenv("TESSERA_CUDA");
    if (env && std::string(env) == "off") {
      r.reason = "disabled by TESSERA_CUDA=off";
      return r;
    }
    cudaRuntimeGetVersion(&r.runtime_version);
    cudaDriverGetVersion(&r.driver_version);  // 0 when no driver is installed
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      r.reason = r.driver_version == 0
                     ? std::string("no NVIDIA driver was found (") + cudaGetErrorString(e) + ")"
                     : std::string("the CUDA driver reports no usable device: ") + cudaGetErrorString(e);
      return r;
    }
    int index = cuda::device_index();
    if (count == 0 || index < 0 || index >= count) {
      r.reason = count == 0 ? "no CUDA device is visible (check CUDA_VISIBLE_DEVICES)"
                            : "TESSERA_CUDA_DEVICE=" + std::to_string(index) + " but " +
                                  std::to_string(count) + " device(s) are visible";
      return r;
    }
    cudaDeviceProp p{};
    e = cudaGetDeviceProperties(&p, index);
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      r.reason = std::string("cudaGetDeviceProperties failed: ") + cudaGetErrorString(e);
      return r;
    }
    r.device_name = p.name;
    r.compute_major = p.major;
    r.compute_minor = p.minor;
    r.multiprocessors = p.multiProcessorCount;
    r.total_memory = p.totalGlobalMem;
    if (p.major < 8) {
      r.reason = std::string(p.name) + " has compute capability " + std::to_string(p.major) + "." +
                 std::to_string(p.minor) + "; this build needs 8.0 or newer (it carries " + TESSERA_CUDA_ARCHS + ")";
      return r;
    }
    // The probe loads the image on the calling thread's current device: make that the chosen one
    // (TESSERA_CUDA_DEVICE), not the default device 0.
    e = cudaSetDevice(index);
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      r.reason = std::string("cudaSetDevice(") + std::to_string(index) + ") failed: " + cudaGetErrorString(e);
      return r;
    }
    cudaFuncAttributes fa{};
    e = cudaFuncGetAttributes(&fa, cuda::probe_kernel);
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      r.reason = std::string("this binary has no kernel image for ") + p.name + " (it carries " +
                 TESSERA_CUDA_ARCHS + "): " + cudaGetErrorString(e);
      return r;
    }
    r.available = true;
    return r;
  }();
  return s;
}

Device* cuda_device() {
  static std::once_flag once;
  static std::string error;
  std::call_once(once, [] {
    if (!cuda_status().available) return;
    try {
      cuda::g_device = new cuda::CudaDevice();  // never destroyed: the driver may be gone at exit
    } catch (const std::exception& e) {
      error = e.what();
    }
  });
  if (!error.empty()) fail("initialising the device failed: " + error);
  return cuda::g_device;
}

void cuda_set_tf32(bool on) {
  if (Device* d = cuda_device()) static_cast<cuda::CudaDevice*>(d)->set_tf32(on);
}

}  // namespace tessera
