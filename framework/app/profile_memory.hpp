// Peak tensor memory for `lab profile`. CPU: a counting wrapper around LibTorch's CPU allocator
// (installed once per process) tracks the live bytes of every tensor allocated after it; CUDA: the
// caching allocator's own peak statistics. Both count tensor storage only, not scratch buffers that
// kernels allocate outside LibTorch.
#pragma once

#include <torch/types.h>

#include <cstdint>

namespace lab::app {

class MemoryMeter {
 public:
  explicit MemoryMeter(torch::Device device);
  // Starts a measurement: the peak is reset to the bytes live now.
  void reset_peak();
  int64_t live_bytes() const;
  int64_t peak_bytes() const;

 private:
  torch::Device device_;
};

}  // namespace lab::app
