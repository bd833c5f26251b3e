// One `lab profile` measurement: a kernel at one sequence length, timed and metered.
#pragma once

#include <lab/kernel.hpp>

#include <torch/types.h>

#include <cstdint>
#include <string>

namespace lab::app {

struct ProfileShape {
  int64_t batch = 1, heads = 8, seq_len = 1024, head_dim = 64, v_head_dim = 64;
  bool causal = true;
  torch::Device device = torch::kCPU;
  torch::ScalarType dtype = torch::kFloat;
  int repeats = 3;
  // The device's GEMM rate measured in the same run with gemm_size² products (0: not measured).
  double gemm_peak_gflops = 0;
  int64_t gemm_size = 0;
};

struct ProfileRow {
  std::string kernel;
  int64_t seq_len = 0;
  double forward_ms = 0, train_ms = 0;          // medians; train = forward + backward
  double forward_gflops = 0, train_gflops = 0;  // useful FLOPs (visible score pairs only) per second
  double held_mib = 0;                          // tensor memory a training forward keeps for backward
  double peak_mib = 0;                          // tensor memory peak during forward + backward
  std::string error;                            // non-empty when the kernel failed at this length
};

// Useful FLOPs of one forward: QKᵀ and PV over the visible (query, key) pairs. The backward's four
// products count twice that; recomputation inside a kernel is not counted.
double forward_flops(const ProfileShape& shape);

// Times `kernel` (median of shape.repeats after one warm-up) and measures its memory. Failures of the
// kernel at run time (out of memory, ...) are returned in ProfileRow::error; lab::InputError passes.
ProfileRow measure(const std::string& name, const Kernel& kernel, const ProfileShape& shape);

}  // namespace lab::app
