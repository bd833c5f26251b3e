#include "profile_memory.hpp"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <torch/version.h>

#ifdef LAB_TORCH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>

namespace lab::app {

namespace {

std::atomic<int64_t> g_live{0};
std::atomic<int64_t> g_peak{0};

void raise_peak(int64_t value) {
  int64_t seen = g_peak.load();
  while (value > seen && !g_peak.compare_exchange_weak(seen, value)) {
  }
}

// Forwards to the allocator it replaced and counts bytes. LibTorch 2.3 made allocate non-const and
// added copy_data; both spellings are declared (without `override`) so either version compiles.
class CountingAllocator : public c10::Allocator {
 public:
  explicit CountingAllocator(c10::Allocator* inner) : inner_(inner) {}

  c10::DataPtr allocate(size_t bytes) const {
    auto* held = new Held{inner_->allocate(bytes), static_cast<int64_t>(bytes)};
    raise_peak(g_live.fetch_add(held->bytes) + held->bytes);
    void* data = held->inner.get();
    const c10::Device device = held->inner.device();
    return {data, held, &release, device};
  }
  c10::DataPtr allocate(size_t bytes) { return static_cast<const CountingAllocator*>(this)->allocate(bytes); }
  void copy_data(void* dest, const void* src, std::size_t count) const { std::memcpy(dest, src, count); }

 private:
  struct Held {
    c10::DataPtr inner;
    int64_t bytes;
  };
  static void release(void* context) {
    auto* held = static_cast<Held*>(context);
    g_live.fetch_sub(held->bytes);
    delete held;
  }
  c10::Allocator* inner_;
};

void install_counting_cpu_allocator() {
  static CountingAllocator* counting = [] {
    auto* a = new CountingAllocator(c10::GetCPUAllocator());
    c10::SetCPUAllocator(a, std::numeric_limits<uint8_t>::max());
    return a;
  }();
  (void)counting;
}

}  // namespace

MemoryMeter::MemoryMeter(torch::Device device) : device_(device) {
  if (device_.is_cpu()) install_counting_cpu_allocator();
}

void MemoryMeter::reset_peak() {
#ifdef LAB_TORCH_CUDA
  if (device_.is_cuda()) {
    c10::cuda::CUDACachingAllocator::resetPeakStats(device_.index() < 0 ? 0 : device_.index());
    return;
  }
#endif
  g_peak.store(g_live.load());
}

#ifdef LAB_TORCH_CUDA
// StatType::AGGREGATE, the first statistic of every kind. The enum moved between LibTorch versions
// (c10::cuda::CUDACachingAllocator, then c10::CachingDeviceAllocator); its position did not.
constexpr size_t kAggregateStat = 0;
#endif

int64_t MemoryMeter::live_bytes() const {
#ifdef LAB_TORCH_CUDA
  if (device_.is_cuda()) {
    const auto stats =
        c10::cuda::CUDACachingAllocator::getDeviceStats(device_.index() < 0 ? 0 : device_.index());
    return stats.allocated_bytes[kAggregateStat].current;
  }
#endif
  return g_live.load();
}

int64_t MemoryMeter::peak_bytes() const {
#ifdef LAB_TORCH_CUDA
  if (device_.is_cuda()) {
    const auto stats =
        c10::cuda::CUDACachingAllocator::getDeviceStats(device_.index() < 0 ? 0 : device_.index());
    return stats.allocated_bytes[kAggregateStat].peak;
  }
#endif
  return g_peak.load();
}

}  // namespace lab::app
