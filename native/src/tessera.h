// Shared declarations of the Tessera addon: dtypes, views, the kernel registry, the thread pool
// and the error type every precondition check throws. No Node-API here: kernels never see JS.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace tessera {

// Codes shared with packages/backend-native/src/abi.ts (DTYPE_CODES).
enum class DType : int32_t { F32 = 0, F64 = 1, I32 = 2, Bool = 3, F16 = 4, BF16 = 5 };
constexpr int kNumDTypes = 6;

size_t dtype_size(DType d);
const char* dtype_name(DType d);

/** A precondition that JS input broke. The binding turns it into a JS Error with this message. */
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

[[noreturn]] void fail(const std::string& msg);
inline void check(bool ok, const char* msg) {
  if (!ok) fail(msg);
}

constexpr int kMaxDims = 16;

/**
 * A validated view of one storage: `data` points at element 0 of the storage (not at `offset`).
 * The binding has checked that every element the view addresses lies inside the storage.
 */
struct View {
  void* data = nullptr;  // null for an absent optional view
  DType dtype = DType::F32;
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};
  int64_t offset = 0;
  int64_t numel = 1;

  bool present() const { return data != nullptr; }
  bool contiguous() const;
  /** Shape equality with another view. */
  bool same_shape(const View& o) const;
  int64_t dim(int i) const { return shape[i < 0 ? i + ndim : i]; }
  template <typename T>
  T* ptr() const {
    return static_cast<T*>(data) + offset;
  }
};

/** One `execute` call: its views (absent optional views have data == nullptr) and numeric attributes. */
struct Call {
  const char* op = "";
  std::vector<View> views;
  std::vector<double> attrs;

  const View& view(size_t i) const;
  double attr(size_t i) const;
  int64_t iattr(size_t i) const;  // attribute that must be an integer
  /** Fails unless there are exactly `nviews` views and at least `nattrs` attributes. */
  void expect(size_t nviews, size_t nattrs) const;
  /** Fails unless view i is present, contiguous and of dtype d. */
  const View& contiguous(size_t i, DType d) const;
  [[noreturn]] void fail(const std::string& msg) const;
  void check(bool ok, const char* msg) const {
    if (!ok) fail(msg);
  }
};

using KernelFn = void (*)(const Call&);

/** Kernels register themselves by name at load time; TS maps names to codes once (info().ops). */
struct KernelRegistrar {
  KernelRegistrar(const char* name, KernelFn fn);
};
const std::vector<std::pair<std::string, KernelFn>>& kernels();

#define TESSERA_KERNEL(name)                                                \
  static void tessera_kernel_##name(const ::tessera::Call& call);           \
  static ::tessera::KernelRegistrar tessera_registrar_##name(#name, tessera_kernel_##name); \
  static void tessera_kernel_##name(const ::tessera::Call& call)

// ---- threads ---------------------------------------------------------------------------------

/** Threads the pool uses (TESSERA_NUM_THREADS, else the hardware concurrency). */
int num_threads();
void set_num_threads(int n);

/**
 * Runs fn(begin, end) over [0, n) split into chunks of at least `grain` iterations, on the pool and
 * the calling thread; returns when every chunk is done. Exceptions thrown by fn are rethrown here.
 * Nested calls run serially in the calling thread.
 */
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

// ---- CPU features ----------------------------------------------------------------------------

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512dq = false;
  bool avx512vl = false;
};
const CpuFeatures& cpu_features();
/** The GEMM path in use: "avx512", "avx2" or "generic" (TESSERA_ISA=generic|avx2|avx512 caps it). */
const char* isa();

// ---- half precision ----------------------------------------------------------------------------

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);  // round to nearest even, like core's f32ToF16
inline float bf16_to_f32(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
uint16_t f32_to_bf16(float f);  // round to nearest even; NaN stays NaN

}  // namespace tessera
