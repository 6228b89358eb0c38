// Views, calls, the kernel registry, half-precision conversion and CPU feature detection.
#include <cstdlib>
#include <string>

#include "tessera.h"

namespace tessera {

size_t dtype_size(DType d) {
  switch (d) {
    case DType::F64:
      return 8;
    case DType::F32:
    case DType::I32:
      return 4;
    case DType::F16:
    case DType::BF16:
      return 2;
    case DType::Bool:
      return 1;
  }
  return 0;
}

const char* dtype_name(DType d) {
  switch (d) {
    case DType::F32:
      return "float32";
    case DType::F64:
      return "float64";
    case DType::I32:
      return "int32";
    case DType::Bool:
      return "bool";
    case DType::F16:
      return "float16";
    case DType::BF16:
      return "bfloat16";
  }
  return "?";
}

void fail(const std::string& msg) { throw Error(msg); }

bool View::contiguous() const {
  if (numel == 0) return true;  // an empty slice addresses nothing, whatever its strides
  int64_t expected = 1;
  for (int i = ndim - 1; i >= 0; i--) {
    if (shape[i] != 1 && strides[i] != expected) return false;
    expected *= shape[i];
  }
  return true;
}

bool View::same_shape(const View& o) const {
  if (ndim != o.ndim) return false;
  for (int i = 0; i < ndim; i++)
    if (shape[i] != o.shape[i]) return false;
  return true;
}

const View& Call::view(size_t i) const {
  if (i >= views.size()) fail("view " + std::to_string(i) + " is missing");
  return views[i];
}

double Call::attr(size_t i) const {
  if (i >= attrs.size()) fail("attribute " + std::to_string(i) + " is missing");
  return attrs[i];
}

int64_t Call::iattr(size_t i) const {
  double v = attr(i);
  if (!(v == v) || v != static_cast<double>(static_cast<int64_t>(v)) || v > 9.0e15 || v < -9.0e15)
    fail("attribute " + std::to_string(i) + " must be an integer");
  return static_cast<int64_t>(v);
}

void Call::expect(size_t nviews, size_t nattrs) const {
  if (views.size() != nviews)
    fail("expects " + std::to_string(nviews) + " views, got " + std::to_string(views.size()));
  if (attrs.size() < nattrs)
    fail("expects " + std::to_string(nattrs) + " attributes, got " + std::to_string(attrs.size()));
}

const View& Call::contiguous(size_t i, DType d) const {
  const View& v = view(i);
  if (!v.present()) fail("view " + std::to_string(i) + " is required");
  if (v.dtype != d)
    fail("view " + std::to_string(i) + " must be " + dtype_name(d) + ", got " + dtype_name(v.dtype));
  if (!v.contiguous()) fail("view " + std::to_string(i) + " must be contiguous");
  return v;
}

void Call::fail(const std::string& msg) const { ::tessera::fail(std::string(op) + ": " + msg); }

static std::vector<std::pair<std::string, KernelFn>>& registry() {
  static std::vector<std::pair<std::string, KernelFn>> r;
  return r;
}

KernelRegistrar::KernelRegistrar(const char* name, KernelFn fn) { registry().emplace_back(name, fn); }

const std::vector<std::pair<std::string, KernelFn>>& kernels() { return registry(); }

// ---- half precision (bit-exact with core's dtype.ts) ---------------------------------------------

float f16_to_f32(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        e++;
        mant <<= 1;
      } while ((mant & 0x400) == 0);
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13) | (mant ? 0x400000u : 0);
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t f32_to_f16(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  uint32_t sign = (bits >> 16) & 0x8000;
  int32_t exp = (bits >> 23) & 0xff;
  uint32_t mant = bits & 0x7fffff;
  if (exp == 0xff) return static_cast<uint16_t>(sign | 0x7c00 | (mant ? 0x200 : 0));
  int32_t e = exp - 127 + 15;
  if (e >= 0x1f) return static_cast<uint16_t>(sign | 0x7c00);
  if (e <= 0) {
    if (e < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000;
    uint32_t shift = static_cast<uint32_t>(14 - e);
    uint32_t h = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1))) h++;
    return static_cast<uint16_t>(sign | h);
  }
  uint32_t h = static_cast<uint32_t>(e) << 10 | (mant >> 13);
  uint32_t rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
  if ((h & 0x7fff) >= 0x7c00) return static_cast<uint16_t>(sign | 0x7c00);
  return static_cast<uint16_t>(sign | h);
}

uint16_t f32_to_bf16(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  if ((bits & 0x7fffffff) > 0x7f800000) return static_cast<uint16_t>(((bits >> 16) | 0x40) & 0xffff);
  return static_cast<uint16_t>(((bits + 0x7fff + ((bits >> 16) & 1)) >> 16) & 0xffff);
}

// ---- CPU features --------------------------------------------------------------------------------

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = [] {
    CpuFeatures r;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    r.avx2 = __builtin_cpu_supports("avx2");
    r.fma = __builtin_cpu_supports("fma");
    r.f16c = __builtin_cpu_supports("f16c");
    r.avx512f = __builtin_cpu_supports("avx512f");
    r.avx512bw = __builtin_cpu_supports("avx512bw");
    r.avx512dq = __builtin_cpu_supports("avx512dq");
    r.avx512vl = __builtin_cpu_supports("avx512vl");
#endif
    return r;
  }();
  return f;
}

const char* isa() {
  static const char* chosen = [] {
    const CpuFeatures& f = cpu_features();
    const char* cap = std::getenv("TESSERA_ISA");
    std::string want = cap ? cap : "avx512";
    bool has512 = f.avx512f && f.avx512bw && f.avx512dq && f.avx512vl && f.avx2 && f.fma && f.f16c;
    bool has2 = f.avx2 && f.fma && f.f16c;
#if defined(__x86_64__)
    if (want == "avx512" && has512) return "avx512";
    if ((want == "avx512" || want == "avx2") && has2) return "avx2";
#else
    (void)has512;
    (void)has2;
#endif
    return "generic";
  }();
  return chosen;
}

}  // namespace tessera
