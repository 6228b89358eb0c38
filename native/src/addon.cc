// The narrow Node-API binding (DESIGN §3): allocate, upload, download (sync and async), free,
// execute(op code, views, attributes), synchronize, info. Every argument is checked here before a
// kernel sees it; a broken precondition becomes a JS exception, never a crash.
#include <napi.h>

#include <cmath>
#include <cstdlib>
#include <memory>
#include <new>
#include <unordered_map>

#include "device.h"
#include "gemm/gemm.h"
#include "tessera.h"

namespace tessera {
namespace {

constexpr const char* kVersion = "0.1.0";

/**
 * Freed blocks of 64 KiB and more, kept for reuse by size. A fresh large block costs a page fault
 * per 4 KiB on first touch (more than a memory-bound kernel's whole run), and a training step frees
 * and allocates the same sizes over and over. Capped (TESSERA_NATIVE_CACHE_MB, default 512);
 * `emptyCache()` returns everything to the system. Used from the JS thread only.
 */
class BlockCache {
 public:
  static constexpr size_t kMinBytes = 64 * 1024;

  BlockCache() {
    size_t mb = 512;
    if (const char* env = std::getenv("TESSERA_NATIVE_CACHE_MB")) {
      char* end = nullptr;
      unsigned long long v = std::strtoull(env, &end, 10);
      if (end != env && *end == '\0') mb = static_cast<size_t>(v);
    }
    limit_ = mb * 1024 * 1024;
  }
  ~BlockCache() { clear(); }

  /** Bytes actually allocated for a request: 64-byte multiples, 4 KiB multiples for cached sizes. */
  static size_t rounded(size_t bytes) {
    size_t r = (bytes + 63) / 64 * 64;
    if (r == 0) r = 64;
    if (r >= kMinBytes) r = (r + 4095) / 4096 * 4096;
    return r;
  }

  void* take(size_t alloc) {
    auto it = blocks_.find(alloc);
    if (it != blocks_.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      cached_ -= alloc;
      return p;
    }
    void* p = std::aligned_alloc(64, alloc);
    if (!p && cached_ > 0) {  // out of memory: give the cache back and try once more
      clear();
      p = std::aligned_alloc(64, alloc);
    }
    return p;
  }

  void give(void* p, size_t alloc) {
    if (alloc < kMinBytes || cached_ + alloc > limit_) {
      std::free(p);
      return;
    }
    blocks_[alloc].push_back(p);
    cached_ += alloc;
  }

  void clear() {
    for (auto& [size, list] : blocks_)
      for (void* p : list) std::free(p);
    blocks_.clear();
    cached_ = 0;
  }

  size_t cached() const { return cached_; }

 private:
  std::unordered_map<size_t, std::vector<void*>> blocks_;
  size_t cached_ = 0;
  size_t limit_ = 0;
};

/** The cpu device: 64-byte aligned host memory through the block cache; kernels run before `run` returns. */
class CpuDevice final : public Device {
 public:
  CpuDevice() {
    for (const auto& [name, fn] : ::tessera::kernels()) table_.push_back({name, fn, false});
  }
  const char* name() const override { return "cpu"; }
  void* allocate(size_t bytes, size_t* reserved) override {
    *reserved = BlockCache::rounded(bytes);
    void* p = cache_.take(*reserved);
    if (!p) throw OutOfMemory("out of memory allocating " + std::to_string(bytes) + " bytes");
    return p;
  }
  void release(void* p, size_t reserved) override { cache_.give(p, reserved); }
  void upload(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void download(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  /** The copy itself runs on the worker: kernels completed before `run` returned. */
  class Read final : public PendingRead {
   public:
    Read(const void* src, size_t bytes) : src_(src), bytes_(bytes) {}
    void finish(void* dst) override {
      if (bytes_) std::memcpy(dst, src_, bytes_);
    }

   private:
    const void* src_;
    size_t bytes_;
  };
  std::unique_ptr<PendingRead> begin_read(const void* src, size_t bytes) override {
    return std::make_unique<Read>(src, bytes);
  }
  void run(const KernelEntry& k, const Call& call) override { k.fn(call); }
  void synchronize() override {}
  const std::vector<KernelEntry>& kernels() const override { return table_; }
  size_t cached_bytes() const override { return cache_.cached(); }
  size_t reserved_bytes() const override { return 0; }
  void empty_cache() override { cache_.clear(); }

 private:
  BlockCache cache_;
  std::vector<KernelEntry> table_;
};

/** One storage: `data` is device memory of the device that allocated it. */
struct Buffer {
  DType dtype;
  int64_t numel;
  size_t bytes;
  size_t reserved = 0;
  void* data;
  Device* device;
  Buffer(Device* dev, DType d, int64_t n)
      : dtype(d), numel(n), bytes(static_cast<size_t>(n) * dtype_size(d)), device(dev) {
    // At least one cache line (cpu) so that empty storages have an address.
    data = device->allocate(bytes, &reserved);
  }
  // Runs on the JS thread: async reads drop their reference in OnOK/OnError, never on a worker.
  ~Buffer() { device->release(data, reserved); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
};

/** A device's storage table in one environment (worker threads each get their own). */
struct DeviceState {
  Device* device = nullptr;
  bool host_memory = false;  // cpu storages are reported to V8 as external memory
  std::unordered_map<uint32_t, std::shared_ptr<Buffer>> buffers;
  uint32_t next_id = 1;
  int64_t bytes = 0;
};

/** Per-environment state: the cpu device and its table, and the cuda table when cuda is available. */
struct Instance {
  CpuDevice cpu;
  DeviceState cpu_state;
  DeviceState cuda_state;
  Napi::ObjectReference cuda_object;  // the object cuda() returns, once created
  int64_t v8_external = 0;  // V8's external-memory total after our last adjustment
  Instance() {
    cpu_state.device = &cpu;
    cpu_state.host_memory = true;
  }
};

Instance& instance(Napi::Env env) { return *env.GetInstanceData<Instance>(); }

/** The device table a binding function serves: its `data` pointer (see Init). */
DeviceState& state(const Napi::CallbackInfo& info) { return *static_cast<DeviceState*>(info.Data()); }

[[noreturn]] void throw_js(Napi::Env env, const std::string& msg) {
  throw Napi::Error::New(env, "tessera native: " + msg);
}

double number_arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsNumber()) throw_js(info.Env(), std::string(what) + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

int64_t int_arg(const Napi::CallbackInfo& info, size_t i, const char* what, int64_t lo, int64_t hi) {
  double v = number_arg(info, i, what);
  if (!(v >= static_cast<double>(lo) && v <= static_cast<double>(hi)) || v != std::floor(v))
    throw_js(info.Env(), std::string(what) + " must be an integer in [" + std::to_string(lo) + ", " +
                             std::to_string(hi) + "], got " + std::to_string(v));
  return static_cast<int64_t>(v);
}

std::shared_ptr<Buffer> buffer_arg(const Napi::CallbackInfo& info, size_t i) {
  int64_t id = int_arg(info, i, "storage id", 1, 0xffffffffLL);
  auto& bufs = state(info).buffers;
  auto it = bufs.find(static_cast<uint32_t>(id));
  if (it == bufs.end()) throw_js(info.Env(), "storage " + std::to_string(id) + " is not allocated (freed already?)");
  return it->second;
}

constexpr int64_t kMaxElements = int64_t{1} << 40;

void adjust_external(Napi::Env env, DeviceState& ds, int64_t delta) {
  if (!ds.host_memory) return;
  instance(env).v8_external = Napi::MemoryManagement::AdjustExternalMemory(env, delta);
}

Napi::Value Allocate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t code = int_arg(info, 0, "dtype code", 0, kNumDTypes - 1);
  int64_t n = int_arg(info, 1, "element count", 0, kMaxElements);
  DeviceState& ds = state(info);
  std::shared_ptr<Buffer> buf;
  try {
    buf = std::make_shared<Buffer>(ds.device, static_cast<DType>(code), n);
  } catch (const OutOfMemory& e) {
    throw_js(env, std::string(ds.device->name()) + ": " + e.what() + " (" + std::to_string(n) + " elements of " +
                      dtype_name(static_cast<DType>(code)) + "; " + std::to_string(ds.buffers.size()) +
                      " live storages hold " + std::to_string(ds.bytes) + " bytes)");
  } catch (const std::bad_alloc&) {
    throw_js(env, "out of memory allocating " + std::to_string(n) + " elements of " +
                      dtype_name(static_cast<DType>(code)));
  } catch (const Error& e) {
    throw_js(env, std::string(ds.device->name()) + ": " + e.what());
  }
  // After 2^32 allocations the ids wrap: skip ids still live (a model's parameters keep theirs), or
  // emplace below would keep the old storage and hand its id out a second time.
  uint32_t id;
  do {
    id = ds.next_id++;
    if (ds.next_id == 0) ds.next_id = 1;
  } while (ds.buffers.count(id) != 0);
  ds.bytes += static_cast<int64_t>(buf->bytes);
  adjust_external(env, ds, static_cast<int64_t>(buf->bytes));
  ds.buffers.emplace(id, std::move(buf));
  return Napi::Number::New(env, id);
}

Napi::Value Free(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t id = int_arg(info, 0, "storage id", 1, 0xffffffffLL);
  DeviceState& ds = state(info);
  auto it = ds.buffers.find(static_cast<uint32_t>(id));
  if (it == ds.buffers.end()) return Napi::Boolean::New(env, false);
  int64_t bytes = static_cast<int64_t>(it->second->bytes);
  ds.buffers.erase(it);  // an in-flight async read keeps its own reference
  ds.bytes -= bytes;
  adjust_external(env, ds, -bytes);
  return Napi::Boolean::New(env, true);
}

/** Runs a device call, turning its exceptions into JS errors that name the device. */
template <typename F>
void guarded(Napi::Env env, DeviceState& ds, const char* what, F&& f) {
  try {
    f();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw_js(env, std::string(ds.device->name()) + " " + what + ": " + e.what());
  }
}

/** upload(id, typedArray, elementOffset): copies the typed array's bytes into the storage. */
Napi::Value Upload(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto buf = buffer_arg(info, 0);
  if (info.Length() < 2 || !info[1].IsTypedArray()) throw_js(env, "upload: values must be a typed array");
  auto arr = info[1].As<Napi::TypedArray>();
  int64_t offset = int_arg(info, 2, "upload offset", 0, kMaxElements);
  size_t es = dtype_size(buf->dtype);
  size_t nbytes = arr.ByteLength();
  if (arr.ElementSize() != es)
    throw_js(env, std::string("upload: a ") + dtype_name(buf->dtype) + " storage takes " + std::to_string(es) +
                      "-byte elements, got a typed array of " + std::to_string(arr.ElementSize()) + "-byte elements");
  int64_t count = static_cast<int64_t>(nbytes / es);
  if (offset + count > buf->numel)
    throw_js(env, "upload: " + std::to_string(count) + " elements at offset " + std::to_string(offset) +
                      " overrun a storage of " + std::to_string(buf->numel));
  const uint8_t* src = static_cast<const uint8_t*>(arr.ArrayBuffer().Data()) + arr.ByteOffset();
  if (nbytes)
    guarded(env, state(info), "upload",
            [&] { buf->device->upload(static_cast<uint8_t*>(buf->data) + offset * es, src, nbytes); });
  return env.Undefined();
}

struct Range {
  std::shared_ptr<Buffer> buf;
  size_t begin, bytes;
};

Range read_range(const Napi::CallbackInfo& info) {
  auto buf = buffer_arg(info, 0);
  int64_t offset = int_arg(info, 1, "read offset", 0, kMaxElements);
  int64_t size = int_arg(info, 2, "read size", 0, kMaxElements);
  if (size > 0 && offset + size > buf->numel)
    throw_js(info.Env(), "read: " + std::to_string(size) + " elements at offset " + std::to_string(offset) +
                             " overrun a storage of " + std::to_string(buf->numel));
  size_t es = dtype_size(buf->dtype);
  return {buf, static_cast<size_t>(offset) * es, static_cast<size_t>(size) * es};
}

/** readSync(id, offset, size) -> ArrayBuffer holding a copy of the elements. */
Napi::Value ReadSync(const Napi::CallbackInfo& info) {
  Range r = read_range(info);
  auto ab = Napi::ArrayBuffer::New(info.Env(), r.bytes);
  if (r.bytes)
    guarded(info.Env(), state(info), "read", [&] {
      r.buf->device->download(ab.Data(), static_cast<uint8_t*>(r.buf->data) + r.begin, r.bytes);
    });
  return ab;
}

/**
 * An async read: the device starts the copy on the JS thread (so it sees every kernel queued before
 * the call), a libuv worker waits for it and fills the ArrayBuffer (JS cannot see the buffer until the
 * promise resolves), and the storage reference is released back on the JS thread.
 */
class ReadWorker : public Napi::AsyncWorker {
 public:
  ReadWorker(Napi::Env env, Range r, std::unique_ptr<PendingRead> pending)
      : Napi::AsyncWorker(env),
        range_(std::move(r)),
        pending_(std::move(pending)),
        deferred_(Napi::Promise::Deferred::New(env)) {
    auto ab = Napi::ArrayBuffer::New(env, range_.bytes);
    dst_ = ab.Data();
    target_ = Napi::Persistent(ab);
  }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      pending_->finish(dst_);
    } catch (const std::exception& e) {
      SetError(std::string("tessera native: ") + range_.buf->device->name() + " read: " + e.what());
    }
  }
  void OnOK() override {
    pending_.reset();
    range_.buf.reset();
    deferred_.Resolve(target_.Value());
  }
  void OnError(const Napi::Error& e) override {
    pending_.reset();
    range_.buf.reset();
    deferred_.Reject(e.Value());
  }

 private:
  Range range_;
  std::unique_ptr<PendingRead> pending_;
  void* dst_ = nullptr;
  Napi::Reference<Napi::ArrayBuffer> target_;
  Napi::Promise::Deferred deferred_;
};

Napi::Value Read(const Napi::CallbackInfo& info) {
  Range r = read_range(info);
  std::unique_ptr<PendingRead> pending;
  guarded(info.Env(), state(info), "read", [&] {
    pending = r.buf->device->begin_read(static_cast<uint8_t*>(r.buf->data) + r.begin, r.bytes);
  });
  auto* w = new ReadWorker(info.Env(), std::move(r), std::move(pending));
  auto p = w->Promise();
  w->Queue();
  return p;
}

/**
 * Decodes the view table: [count, then per view: id, dtype, ndim, offset, shape[ndim], strides[ndim]];
 * id 0 is an absent optional view (ndim 0). Bounds are checked against each storage.
 */
void decode_views(Napi::Env env, const double* d, size_t len, DeviceState& ds, std::vector<View>& out) {
  auto need = [&](size_t pos, size_t n) {
    if (pos + n > len) throw_js(env, "execute: the view table is truncated");
  };
  auto integer = [&](double v, const char* what, double lo, double hi) -> int64_t {
    if (!(v >= lo && v <= hi) || v != std::floor(v))
      throw_js(env, std::string("execute: view ") + what + " is out of range or not an integer");
    return static_cast<int64_t>(v);
  };
  need(0, 1);
  int64_t count = integer(d[0], "count", 0, 64);
  size_t pos = 1;
  out.resize(static_cast<size_t>(count));
  for (int64_t v = 0; v < count; v++) {
    need(pos, 4);
    int64_t id = integer(d[pos], "id", 0, 4294967295.0);
    int64_t dtype = integer(d[pos + 1], "dtype", 0, kNumDTypes - 1);
    int64_t ndim = integer(d[pos + 2], "rank", 0, kMaxDims);
    int64_t offset = integer(d[pos + 3], "offset", 0, static_cast<double>(kMaxElements));
    pos += 4;
    need(pos, static_cast<size_t>(2 * ndim));
    View& view = out[static_cast<size_t>(v)];
    view = View{};
    if (id == 0) {
      if (ndim != 0) throw_js(env, "execute: an absent view must have rank 0");
      continue;
    }
    auto it = ds.buffers.find(static_cast<uint32_t>(id));
    if (it == ds.buffers.end())
      throw_js(env, "execute: view " + std::to_string(v) + " names storage " + std::to_string(id) +
                        ", which is not allocated on " + ds.device->name());
    Buffer& buf = *it->second;
    if (static_cast<int64_t>(buf.dtype) != dtype)
      throw_js(env, "execute: view " + std::to_string(v) + " says " + dtype_name(static_cast<DType>(dtype)) +
                        " but its storage is " + dtype_name(buf.dtype));
    view.data = buf.data;
    view.dtype = buf.dtype;
    view.ndim = static_cast<int>(ndim);
    view.offset = offset;
    int64_t n = 1, lo = offset, hi = offset;
    bool beyond = false;  // some (s - 1) * stride alone exceeds kMaxElements
    for (int64_t i = 0; i < ndim; i++) {
      int64_t s = integer(d[pos + i], "dimension", 0, static_cast<double>(kMaxElements));
      int64_t st = integer(d[pos + ndim + i], "stride", -static_cast<double>(kMaxElements),
                           static_cast<double>(kMaxElements));
      view.shape[i] = s;
      view.strides[i] = st;
      // Checked before multiplying: n and s are each up to 2^40, and n * s wrapping (to 0, say) would
      // pass for an empty view.
      if (s > 0 && n > kMaxElements / s)
        throw_js(env, "execute: view " + std::to_string(v) + " has too many elements");
      n *= s;
      // A term past kMaxElements cannot lie inside a storage; catching it before the product keeps
      // (s - 1) * st (each up to 2^40) from overflowing int64 and wrapping past the bounds check.
      if (s > 1 && (st > kMaxElements / (s - 1) || -st > kMaxElements / (s - 1))) {
        beyond = true;
      } else if (s > 0) {
        if (st >= 0) hi += (s - 1) * st;
        else lo += (s - 1) * st;
      }
    }
    pos += static_cast<size_t>(2 * ndim);
    view.numel = n;
    if (n > 0 && beyond)
      throw_js(env, "execute: view " + std::to_string(v) + " has a stride that addresses past any storage");
    if (n > 0 && (lo < 0 || hi >= buf.numel))
      throw_js(env, "execute: view " + std::to_string(v) + " addresses elements [" + std::to_string(lo) + ", " +
                        std::to_string(hi) + "] outside its storage of " + std::to_string(buf.numel));
  }
  if (pos != len) throw_js(env, "execute: the view table has trailing values");
}

const double* f64_array(const Napi::CallbackInfo& info, size_t i, const char* what, size_t& len) {
  if (info.Length() <= i || !info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throw_js(info.Env(), std::string("execute: ") + what + " must be a Float64Array");
  auto a = info[i].As<Napi::Float64Array>();
  len = a.ElementLength();
  return a.Data();
}

/** execute(opCode, views: Float64Array, attrs: Float64Array) */
Napi::Value Execute(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceState& ds = state(info);
  const auto& table = ds.device->kernels();
  int64_t code = int_arg(info, 0, "op code", 0, static_cast<int64_t>(table.size()) - 1);
  size_t nv = 0, na = 0;
  const double* vd = f64_array(info, 1, "views", nv);
  const double* ad = f64_array(info, 2, "attrs", na);
  const KernelEntry& k = table[static_cast<size_t>(code)];
  Call call;
  call.op = k.name.c_str();
  decode_views(env, vd, nv, ds, call.views);
  call.attrs.assign(ad, ad + na);
  try {
    ds.device->run(k, call);
  } catch (const Error& e) {
    throw_js(env, e.what());
  } catch (const std::bad_alloc&) {
    throw_js(env, std::string(call.op) + ": out of memory");
  } catch (const std::exception& e) {
    throw_js(env, std::string(call.op) + ": " + e.what());
  }
  return env.Undefined();
}

/** Waits off the event loop for every kernel queued on the device. */
class SyncWorker : public Napi::AsyncWorker {
 public:
  SyncWorker(Napi::Env env, Device* device)
      : Napi::AsyncWorker(env), device_(device), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      device_->synchronize();
    } catch (const std::exception& e) {
      SetError(std::string("tessera native: ") + device_->name() + " synchronize: " + e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Device* device_;
  Napi::Promise::Deferred deferred_;
};

Napi::Value Synchronize(const Napi::CallbackInfo& info) {
  DeviceState& ds = state(info);
  if (ds.host_memory) {  // CPU kernels complete before execute returns
    auto d = Napi::Promise::Deferred::New(info.Env());
    d.Resolve(info.Env().Undefined());
    return d.Promise();
  }
  auto* w = new SyncWorker(info.Env(), ds.device);
  auto p = w->Promise();
  w->Queue();
  return p;
}

Napi::Value Memory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceState& ds = state(info);
  auto o = Napi::Object::New(env);
  o.Set("handles", Napi::Number::New(env, static_cast<double>(ds.buffers.size())));
  o.Set("bytes", Napi::Number::New(env, static_cast<double>(ds.bytes)));
  o.Set("v8External", Napi::Number::New(env, static_cast<double>(ds.host_memory ? instance(env).v8_external : 0)));
  o.Set("cachedBytes", Napi::Number::New(env, static_cast<double>(ds.device->cached_bytes())));
  o.Set("reservedBytes", Napi::Number::New(env, static_cast<double>(ds.device->reserved_bytes())));
  return o;
}

/** emptyCache(): frees every cached block (live storages are untouched). */
Napi::Value EmptyCache(const Napi::CallbackInfo& info) {
  DeviceState& ds = state(info);
  guarded(info.Env(), ds, "emptyCache", [&] { ds.device->empty_cache(); });
  return info.Env().Undefined();
}

Napi::Array kernel_names(Napi::Env env, const std::vector<KernelEntry>& table, bool half_only) {
  auto ops = Napi::Array::New(env);
  uint32_t n = 0;
  for (const auto& k : table)
    if (!half_only || k.half) ops.Set(n++, k.name);
  return ops;
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = Napi::Object::New(env);
  o.Set("version", kVersion);
  o.Set("isa", isa());
  o.Set("threads", num_threads());
  const CpuFeatures& f = cpu_features();
  auto feats = Napi::Object::New(env);
  feats.Set("avx2", f.avx2);
  feats.Set("fma", f.fma);
  feats.Set("f16c", f.f16c);
  feats.Set("avx512f", f.avx512f);
  feats.Set("avx512bw", f.avx512bw);
  feats.Set("avx512dq", f.avx512dq);
  feats.Set("avx512vl", f.avx512vl);
  o.Set("cpuFeatures", feats);
  o.Set("ops", kernel_names(env, instance(env).cpu.kernels(), false));
#if defined(__clang__)
  o.Set("compiler", std::string("clang ") + __clang_version__);
#elif defined(__GNUC__)
  o.Set("compiler", std::string("gcc ") + __VERSION__);
#else
  o.Set("compiler", "unknown");
#endif
#if defined(__SANITIZE_ADDRESS__)
  o.Set("sanitized", true);
#else
  o.Set("sanitized", false);
#endif
  return o;
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  int64_t n = int_arg(info, 0, "thread count", 1, 1024);
  try {
    set_num_threads(static_cast<int>(n));
  } catch (const Error& e) {
    throw_js(info.Env(), e.what());
  }
  return Napi::Number::New(info.Env(), num_threads());
}

Napi::Value FmaPeak(const Napi::CallbackInfo& info) {
  int64_t threads = int_arg(info, 0, "thread count", 1, 1024);
  double seconds = number_arg(info, 1, "seconds");
  if (!(seconds > 0 && seconds <= 10)) throw_js(info.Env(), "fmaPeak: seconds must be in (0, 10]");
  return Napi::Number::New(info.Env(), fma_peak_gflops(static_cast<int>(threads), seconds));
}

Napi::Object cuda_status_object(Napi::Env env) {
  const CudaStatus& st = cuda_status();
  auto o = Napi::Object::New(env);
  o.Set("built", st.built);
  o.Set("available", st.available);
  if (!st.available) o.Set("reason", st.reason);
  o.Set("architectures", st.architectures);
  if (st.runtime_version) o.Set("runtimeVersion", st.runtime_version);
  if (st.driver_version) o.Set("driverVersion", st.driver_version);
  if (st.available) {
    o.Set("deviceName", st.device_name);
    o.Set("computeCapability", std::to_string(st.compute_major) + "." + std::to_string(st.compute_minor));
    o.Set("multiprocessors", st.multiprocessors);
    o.Set("totalMemory", static_cast<double>(st.total_memory));
  }
  return o;
}

/** cudaStatus(): whether this binary has a cuda device and whether it runs here (never throws). */
Napi::Value CudaStatusFn(const Napi::CallbackInfo& info) { return cuda_status_object(info.Env()); }

Napi::Value CudaInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceState& ds = state(info);
  auto o = cuda_status_object(env);
  o.Set("version", kVersion);
  o.Set("ops", kernel_names(env, ds.device->kernels(), false));
  o.Set("halfOps", kernel_names(env, ds.device->kernels(), true));
  return o;
}

/** setTf32(on): lets float32 matmuls use TF32 tensor cores (about 10 mantissa bits per product). */
Napi::Value SetTf32(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsBoolean()) throw_js(info.Env(), "setTf32: expected a boolean");
  cuda_set_tf32(info[0].As<Napi::Boolean>().Value());
  return info.Env().Undefined();
}

/** The functions every device offers, bound to one device table. */
void bind_device(Napi::Env env, Napi::Object target, DeviceState* ds) {
  target.Set("allocate", Napi::Function::New(env, Allocate, "allocate", ds));
  target.Set("free", Napi::Function::New(env, Free, "free", ds));
  target.Set("upload", Napi::Function::New(env, Upload, "upload", ds));
  target.Set("readSync", Napi::Function::New(env, ReadSync, "readSync", ds));
  target.Set("read", Napi::Function::New(env, Read, "read", ds));
  target.Set("execute", Napi::Function::New(env, Execute, "execute", ds));
  target.Set("synchronize", Napi::Function::New(env, Synchronize, "synchronize", ds));
  target.Set("memory", Napi::Function::New(env, Memory, "memory", ds));
  target.Set("emptyCache", Napi::Function::New(env, EmptyCache, "emptyCache", ds));
}

/**
 * cuda(): the cuda device's functions (created on first call, then the same object), or throws with
 * the reason when there is none. Creating it initialises the CUDA context.
 */
Napi::Value CudaDeviceFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Instance& inst = instance(env);
  if (!inst.cuda_object.IsEmpty()) return inst.cuda_object.Value();
  const CudaStatus& st = cuda_status();
  if (!st.available) throw_js(env, "cuda is unavailable: " + st.reason);
  Device* dev = nullptr;
  try {
    dev = cuda_device();
  } catch (const std::exception& e) {
    throw_js(env, std::string("cuda: ") + e.what());
  }
  if (!dev) throw_js(env, "cuda is unavailable: " + st.reason);
  inst.cuda_state.device = dev;
  auto o = Napi::Object::New(env);
  bind_device(env, o, &inst.cuda_state);
  o.Set("info", Napi::Function::New(env, CudaInfo, "info", &inst.cuda_state));
  o.Set("setTf32", Napi::Function::New(env, SetTf32, "setTf32"));
  inst.cuda_object = Napi::Persistent(o);
  return o;
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* inst = new Instance();
  env.SetInstanceData(inst);
  bind_device(env, exports, &inst->cpu_state);
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads));
  exports.Set("fmaPeak", Napi::Function::New(env, FmaPeak));
  exports.Set("cudaStatus", Napi::Function::New(env, CudaStatusFn));
  exports.Set("cuda", Napi::Function::New(env, CudaDeviceFn));
  return exports;
}

}  // namespace tessera

static Napi::Object InitTessera(Napi::Env env, Napi::Object exports) { return tessera::Init(env, exports); }

NODE_API_MODULE(tessera_native, InitTessera)
