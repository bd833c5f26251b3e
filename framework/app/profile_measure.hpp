// One `lab profile` measurement: a kernel at one sequence length, timed and metered.
#pragma once

#include <lab/kernel.hpp>

#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace lab::app {

struct ProfileShape {
  int64_t batch = 1, heads = 8, seq_len = 1024, head_dim = 64, v_head_dim = 64;
  int64_t top_k = 0;  // a sparse row: keys each query attends to (0: dense, every visible key)
  bool causal = true;
  torch::Device device = torch::kCPU;
  torch::ScalarType dtype = torch::kFloat;
  int repeats = 3;
  // The device's GEMM rate measured in the same run with gemm_size² products (0: not measured).
  double gemm_peak_gflops = 0;  // the median of the probes taken through the run
  double gemm_peak_spread = 0;  // (highest - lowest) / median of those probes
  int64_t gemm_size = 0;
};

struct ProfileRow {
  std::string kernel;
  int64_t seq_len = 0;
  int64_t top_k = 0;                            // a sparse plugin's row: its keys per query
  double forward_ms = 0, train_ms = 0;          // medians; train = forward + backward
  double forward_spread = 0, train_spread = 0;  // (slowest - fastest) / median of the repeats
  double forward_gflops = 0, train_gflops = 0;  // useful FLOPs (visible score pairs only) per second
  double held_mib = 0;                          // tensor memory a training forward keeps for backward
  double peak_mib = 0;                          // tensor memory peak during forward + backward
  std::string error;                            // non-empty when the kernel failed at this length
};

// Useful FLOPs of one forward: QKᵀ and PV over the visible (query, key) pairs, at most top_k per query
// when top_k is set. The backward's four products count twice that; recomputation inside a kernel and
// a sparse plugin's indexer are not counted.
double forward_flops(const ProfileShape& shape);

// Losses a profiled operation adds to its training step besides its output (a sparse plugin's indexer
// loss), read after each training forward; empty: none.
using ExtraLoss = std::function<torch::Tensor()>;

// One kernel at one length, ready to be timed: construction makes the inputs, warms the kernel up and
// measures its memory; time_once() adds one forward and one training step to the timings, so the
// caller can interleave the cases it compares (A, B, A, B, ...) on a machine whose speed drifts.
// Failures of the kernel at run time (out of memory, ...) end up in row().error; lab::InputError passes.
class ProfileCase {
 public:
  ProfileCase(std::string name, const Kernel& kernel, const ProfileShape& shape, ExtraLoss extra = {});
  void time_once();
  ProfileRow row() const;

 private:
  torch::Tensor attend(bool grad) const;
  void backward(const torch::Tensor& out);

  ProfileRow row_;
  const Kernel& kernel_;
  ProfileShape shape_;
  ExtraLoss extra_;
  KernelArgs args_;
  torch::Tensor q_, k_, v_, probe_;
  std::vector<double> forward_ms_, train_ms_;
};

}  // namespace lab::app
