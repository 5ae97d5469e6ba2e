// A counting CPU allocator with an exact-size cache for large blocks (engine.md §2): glibc kept
// freed multi-MiB tensor blocks unusable in some heap layouts (RSS 4.1 GB with 0 B live); reusing
// blocks of the same rounded size fixes that and skips page faults on every training step.
#include "common.h"
#include <c10/core/CPUAllocator.h>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <unordered_map>

namespace vigil {
extern std::atomic<int64_t> liveHandles;
namespace {

constexpr size_t kHeader = 64;              // size header before each block; keeps 64-byte alignment
constexpr size_t kMinCached = 256 * 1024;   // only large blocks are cached
constexpr size_t kRound = 64 * 1024;        // large blocks are rounded so nearby sizes share bins

struct State {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> bins;  // rounded size -> free bases
  size_t cached = 0;
  size_t cacheCap = size_t(1) << 30;
  std::atomic<int64_t> live{0};
  std::atomic<int64_t> peak{0};
  std::atomic<int64_t> blocks{0};
};

State& state() {
  static State* s = new State();  // never destroyed: blocks may be freed during process teardown
  return *s;
}

void deleter(void* ptr) {
  if (!ptr) return;
  State& s = state();
  void* base = static_cast<char*>(ptr) - kHeader;
  size_t size = *static_cast<size_t*>(base);
  s.live -= static_cast<int64_t>(size);
  s.blocks--;
  if (size >= kMinCached) {
    std::lock_guard<std::mutex> g(s.mu);
    if (s.cached + size <= s.cacheCap) {
      s.bins[size].push_back(base);
      s.cached += size;
      return;
    }
  }
  std::free(base);
}

struct CachingAllocator final : public c10::Allocator {
  c10::DataPtr allocate(size_t n) const override {
    if (n == 0) return {nullptr, nullptr, &deleter, c10::Device(c10::DeviceType::CPU)};
    State& s = state();
    size_t size = n >= kMinCached ? (n + kRound - 1) / kRound * kRound : n;
    void* base = nullptr;
    if (size >= kMinCached) {
      std::lock_guard<std::mutex> g(s.mu);
      auto it = s.bins.find(size);
      if (it != s.bins.end() && !it->second.empty()) {
        base = it->second.back();
        it->second.pop_back();
        s.cached -= size;
      }
    }
    if (!base && posix_memalign(&base, 64, size + kHeader) != 0) {
      // Free the cache and try once more before giving up.
      emptyCache();
      if (posix_memalign(&base, 64, size + kHeader) != 0) {
        TORCH_CHECK(false, "can't allocate memory: you tried to allocate ", n, " bytes");
      }
    }
    *static_cast<size_t*>(base) = size;
    int64_t now = (s.live += static_cast<int64_t>(size));
    int64_t p = s.peak.load();
    while (now > p && !s.peak.compare_exchange_weak(p, now)) {}
    s.blocks++;
    void* ptr = static_cast<char*>(base) + kHeader;
    return {ptr, ptr, &deleter, c10::Device(c10::DeviceType::CPU)};  // context == data (MKLDNN asserts it)
  }
  c10::DeleterFnPtr raw_deleter() const override { return &deleter; }

  static void emptyCache() {
    State& s = state();
    std::lock_guard<std::mutex> g(s.mu);
    for (auto& kv : s.bins)
      for (void* b : kv.second) std::free(b);
    s.bins.clear();
    s.cached = 0;
  }
};

CachingAllocator* allocator() {
  static CachingAllocator* a = new CachingAllocator();
  return a;
}

Napi::Value Memory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = state();
  auto o = Napi::Object::New(env);
  o.Set("nativeBytes", Napi::Number::New(env, static_cast<double>(s.live.load())));
  o.Set("nativePeak", Napi::Number::New(env, static_cast<double>(s.peak.load())));
  o.Set("numTensors", Napi::Number::New(env, static_cast<double>(liveHandles.load())));
  o.Set("nativeBlocks", Napi::Number::New(env, static_cast<double>(s.blocks.load())));
  {
    std::lock_guard<std::mutex> g(s.mu);
    o.Set("cachedBytes", Napi::Number::New(env, static_cast<double>(s.cached)));
  }
  return o;
}

Napi::Value ResetPeak(const Napi::CallbackInfo& info) {
  state().peak = state().live.load();
  return info.Env().Undefined();
}

Napi::Value EmptyCache(const Napi::CallbackInfo& info) {
  CachingAllocator::emptyCache();
  return info.Env().Undefined();
}

Napi::Value SetCacheLimit(const Napi::CallbackInfo& info) {
  State& s = state();
  {
    std::lock_guard<std::mutex> g(s.mu);
    s.cacheCap = static_cast<size_t>(info[0].As<Napi::Number>().DoubleValue());
  }
  if (s.cached > s.cacheCap) CachingAllocator::emptyCache();
  return info.Env().Undefined();
}

}  // namespace

void InstallAllocator() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (std::getenv("VIGIL_DEFAULT_ALLOCATOR")) return;  // escape hatch for debugging with ASan/valgrind
    c10::SetCPUAllocator(allocator(), /*priority=*/1);
  });
}

void InitAllocator(Napi::Env env, Napi::Object exports) {
  exports.Set("memory", Napi::Function::New(env, Memory));
  exports.Set("resetPeak", Napi::Function::New(env, ResetPeak));
  exports.Set("emptyCache", Napi::Function::New(env, EmptyCache));
  exports.Set("setCacheLimit", Napi::Function::New(env, SetCacheLimit));
}

}  // namespace vigil
