// cuBLAS for cuda::gemm when it is installed: loaded at run time with dlopen, never linked, so the addon
// builds and runs without it. Looked for in TESSERA_CUBLAS_PATH (the library file, or a directory that
// holds it), then as libcublas.so.13 and libcublas.so.12 on the loader's path; TESSERA_CUBLAS=0 skips it.
//
// There are no cuBLAS headers here: the few prototypes and enum values below are cuBLAS's public API
// (cublas_api.h, library_types.h). Row-major C = A·B is column-major Cᵀ = Bᵀ·Aᵀ, so the call swaps
// the operands and M with N and keeps every leading dimension.
#include <dlfcn.h>
#include <sys/stat.h>

#include <atomic>
#include <climits>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "gemm.cuh"

namespace tessera {
namespace {

using BlasHandle = void*;
using BlasStatus = int;
constexpr BlasStatus kBlasSuccess = 0;
constexpr int kOpN = 0, kOpT = 1;                              // cublasOperation_t
constexpr int kR32F = 0, kR16F = 2, kR16BF = 14;               // cudaDataType_t
constexpr int kCompute32F = 68, kCompute32FFastTF32 = 77;      // cublasComputeType_t
constexpr int kGemmDefault = -1;                               // cublasGemmAlgo_t
constexpr int kMathDisallowReducedPrecisionReduction = 16;     // cublasMath_t (with CUBLAS_DEFAULT_MATH = 0)
constexpr size_t kWorkspaceBytes = size_t{32} << 20;           // what NVIDIA suggests for Hopper

using CreateFn = BlasStatus (*)(BlasHandle*);
using SetStreamFn = BlasStatus (*)(BlasHandle, cudaStream_t);
using SetWorkspaceFn = BlasStatus (*)(BlasHandle, void*, size_t);
using SetMathModeFn = BlasStatus (*)(BlasHandle, int);
using GemmStridedBatchedExFn = BlasStatus (*)(BlasHandle, int transa, int transb, int m, int n, int k,
                                              const void* alpha, const void* A, int Atype, int lda,
                                              long long strideA, const void* B, int Btype, int ldb,
                                              long long strideB, const void* beta, void* C, int Ctype, int ldc,
                                              long long strideC, int batchCount, int computeType, int algo);

struct Cublas {
  bool ok = false;
  std::string path;  // the library loaded, or why none was
  BlasHandle handle = nullptr;
  SetStreamFn set_stream = nullptr;
  SetWorkspaceFn set_workspace = nullptr;
  GemmStridedBatchedExFn gemm = nullptr;
};

bool is_dir(const std::string& p) {
  struct stat st {};
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> candidates() {
  std::vector<std::string> out;
  const char* env = std::getenv("TESSERA_CUBLAS_PATH");
  if (env && *env) {
    std::string p = env;
    if (is_dir(p)) {
      if (p.back() != '/') p += '/';
      for (const char* name : {"libcublas.so.13", "libcublas.so.12", "libcublas.so"}) out.push_back(p + name);
    } else {
      out.push_back(p);
    }
  }
  out.push_back("libcublas.so.13");
  out.push_back("libcublas.so.12");
  return out;
}

/**
 * libcublas needs libcublasLt of the same version; a copy outside the loader's path (a pip wheel's lib
 * folder, say) is found only if loaded first from beside it.
 */
void preload_lt_beside(const std::string& lib) {
  const size_t slash = lib.rfind('/');
  const size_t so = lib.find(".so");
  if (slash == std::string::npos || so == std::string::npos) return;
  const std::string lt = lib.substr(0, slash + 1) + "libcublasLt" + lib.substr(so);
  dlopen(lt.c_str(), RTLD_NOW | RTLD_GLOBAL);  // failure is fine: the system's may serve
}

Cublas load() {
  Cublas c;
  const char* env = std::getenv("TESSERA_CUBLAS");
  if (env && std::string(env) == "0") {
    c.path = "disabled by TESSERA_CUBLAS=0";
    return c;
  }
  std::string tried;
  for (const std::string& name : candidates()) {
    if (name.find('/') != std::string::npos) preload_lt_beside(name);
    void* lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      tried += (tried.empty() ? "" : ", ") + name;
      continue;
    }
    auto create = reinterpret_cast<CreateFn>(dlsym(lib, "cublasCreate_v2"));
    auto set_math = reinterpret_cast<SetMathModeFn>(dlsym(lib, "cublasSetMathMode"));
    c.set_stream = reinterpret_cast<SetStreamFn>(dlsym(lib, "cublasSetStream_v2"));
    c.set_workspace = reinterpret_cast<SetWorkspaceFn>(dlsym(lib, "cublasSetWorkspace_v2"));
    c.gemm = reinterpret_cast<GemmStridedBatchedExFn>(dlsym(lib, "cublasGemmStridedBatchedEx"));
    if (!create || !set_math || !c.set_stream || !c.set_workspace || !c.gemm) {
      tried += (tried.empty() ? "" : ", ") + name + " (missing symbols)";
      dlclose(lib);
      continue;
    }
    if (create(&c.handle) != kBlasSuccess) {
      // Usually a driver older than this cuBLAS needs; the library stays loaded (unloading it after
      // a failed init is not known to be safe) but unused.
      tried += (tried.empty() ? "" : ", ") + name + " (cublasCreate failed)";
      continue;
    }
    // Half-precision products sum in float32 all the way, like the addon's own kernels.
    set_math(c.handle, kMathDisallowReducedPrecisionReduction);
    Dl_info info{};
    c.path = dladdr(reinterpret_cast<void*>(c.gemm), &info) && info.dli_fname ? info.dli_fname : name;
    c.ok = true;
    return c;
  }
  c.path = "not found (tried " + tried + ")";
  return c;
}

Cublas& cublas() {
  static Cublas c = load();
  return c;
}

std::atomic<bool> g_enabled{true};
std::mutex g_mu;  // one handle: its stream and workspace are set per call

int data_type(DType d) { return d == DType::F16 ? kR16F : d == DType::BF16 ? kR16BF : kR32F; }

bool fits_int(int64_t v) { return v >= 0 && v <= INT_MAX; }

}  // namespace

namespace cuda {

const char* gemm_backend() {
  static std::string name;
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  const Cublas& c = cublas();
  name = g_enabled && c.ok ? "cublas (" + c.path + ")" : "tessera";
  return name.c_str();
}

void set_cublas_enabled(bool on) { g_enabled = on; }

/** gemm.cu asks here first: true when cuBLAS queued the product. */
bool cublas_gemm(const Gemm& g) {
  if (!g_enabled) return false;
  Cublas& c = cublas();
  if (!c.ok) return false;
  // Column-major view: C' (N×M, ldc) = op'(B) (N×K) · op'(A) (K×M), where a row-major operand that is
  // not transposed is already the column-major transpose cuBLAS needs.
  const int64_t rowsB = g.transB ? g.K : g.N;  // rows of B as cuBLAS sees it stored
  const int64_t rowsA = g.transA ? g.M : g.K;
  if (!fits_int(g.M) || !fits_int(g.N) || !fits_int(g.K) || !fits_int(g.batch) || !fits_int(g.lda) ||
      !fits_int(g.ldb) || !fits_int(g.ldc) || g.ldb < rowsB || g.lda < rowsA || g.ldc < g.N)
    return false;  // cuBLAS would reject it; the own kernels take any of these
  const int compute = g.ab == DType::F32 && tf32_enabled() ? kCompute32FFastTF32 : kCompute32F;
  const float alpha = g.alpha, beta = g.beta;
  std::lock_guard<std::mutex> lock(g_mu);
  // cublasSetStream resets the workspace to cuBLAS's own pool: set the stream first. The workspace goes
  // back to the allocator at the end of this call, which is safe because all its users queue on stream().
  std::optional<Workspace> ws;
  try {
    ws.emplace(kWorkspaceBytes);
  } catch (const std::exception&) {
    // Out of memory for the workspace: cuBLAS then picks algorithms that need none.
  }
  if (c.set_stream(c.handle, stream()) != kBlasSuccess) return false;
  if (c.set_workspace(c.handle, ws ? ws->as<void>() : nullptr, ws ? ws->bytes() : 0) != kBlasSuccess) return false;
  const BlasStatus st =
      c.gemm(c.handle, g.transB ? kOpT : kOpN, g.transA ? kOpT : kOpN, static_cast<int>(g.N), static_cast<int>(g.M),
             static_cast<int>(g.K), &alpha, g.B, data_type(g.ab), static_cast<int>(g.ldb), g.strideB, g.A,
             data_type(g.ab), static_cast<int>(g.lda), g.strideA, &beta, g.C, data_type(g.c), static_cast<int>(g.ldc),
             g.strideC, static_cast<int>(g.batch), compute, kGemmDefault);
  // A refused call (an unsupported combination on this GPU) queued nothing: the own kernels take it.
  return st == kBlasSuccess;
}

}  // namespace cuda
}  // namespace tessera
