// A fixed pool of worker threads for parallel_for. The calling thread takes a share of every job,
// so a pool of N threads has N-1 workers. Workers spin briefly before sleeping: kernels arrive in
// quick succession during training, and a wake-up through the kernel costs more than a small op.
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>

#include "tessera.h"

namespace tessera {
namespace {

thread_local bool in_parallel = false;

int default_threads() {
  if (const char* env = std::getenv("TESSERA_NUM_THREADS")) {
    char* end = nullptr;
    long n = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && n >= 1 && n <= 1024) return static_cast<int>(n);
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(hc);
}

class Pool {
 public:
  explicit Pool(int threads) { resize(threads); }
  ~Pool() { stop(); }

  int size() const { return threads_; }

  void resize(int threads) {
    stop();
    threads_ = threads < 1 ? 1 : threads;
    quit_ = false;
    for (int i = 1; i < threads_; i++) workers_.emplace_back([this, i] { loop(i); });
  }

  void run(int chunks, const std::function<void(int)>& body) {
    std::unique_lock<std::mutex> job_lock(job_mutex_);  // one job at a time
    {
      std::lock_guard<std::mutex> g(mutex_);
      body_ = &body;
      chunks_ = chunks;
      next_.store(0);
      pending_.store(chunks);
      error_ = nullptr;
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    work();
    while (pending_.load(std::memory_order_acquire) > 0) std::this_thread::yield();
    body_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void work() {
    bool saved = in_parallel;
    in_parallel = true;
    for (;;) {
      int c = next_.fetch_add(1);
      if (c >= chunks_) break;
      try {
        (*body_)(c);
      } catch (...) {
        std::lock_guard<std::mutex> g(error_mutex_);
        if (!error_) error_ = std::current_exception();
      }
      pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
    in_parallel = saved;
  }

  void loop(int) {
    uint64_t seen = generation_.load();
    for (;;) {
      // Spin for a while, then sleep until the next job.
      bool got = false;
      for (int spin = 0; spin < 20000; spin++) {
        if (generation_.load(std::memory_order_acquire) != seen || quit_.load()) {
          got = true;
          break;
        }
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
      }
      if (!got) {
        std::unique_lock<std::mutex> lk(mutex_);
        cv_.wait(lk, [&] { return generation_.load() != seen || quit_.load(); });
      }
      if (quit_.load()) return;
      {
        std::lock_guard<std::mutex> g(mutex_);  // body_/chunks_ are published under mutex_
        seen = generation_.load();
      }
      work();
    }
  }

  void stop() {
    {
      std::lock_guard<std::mutex> g(mutex_);
      quit_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  int threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex job_mutex_;
  std::mutex mutex_;
  std::mutex error_mutex_;
  std::condition_variable cv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> quit_{false};
  std::atomic<int> next_{0};
  std::atomic<int> pending_{0};
  const std::function<void(int)>* body_ = nullptr;
  int chunks_ = 0;
  std::exception_ptr error_;
};

Pool& pool() {
  static Pool* p = new Pool(default_threads());  // never destroyed: workers may outlive static dtors
  return *p;
}

}  // namespace

int num_threads() { return pool().size(); }

void set_num_threads(int n) {
  if (n < 1 || n > 1024) fail("setNumThreads: the thread count must be between 1 and 1024");
  if (in_parallel) fail("setNumThreads: cannot resize the pool from inside a parallel region");
  if (n != pool().size()) pool().resize(n);
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  int threads = in_parallel ? 1 : pool().size();
  int64_t chunks = (n + grain - 1) / grain;
  if (chunks > threads) chunks = threads;
  if (chunks <= 1) {
    fn(0, n);
    return;
  }
  const int64_t per = (n + chunks - 1) / chunks;
  const std::function<void(int)> body = [&](int c) {
    int64_t b = static_cast<int64_t>(c) * per;
    int64_t e = b + per < n ? b + per : n;
    if (b < e) fn(b, e);
  };
  pool().run(static_cast<int>(chunks), body);
}

}  // namespace tessera
