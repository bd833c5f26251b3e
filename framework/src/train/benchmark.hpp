// A short training benchmark of a recipe's model: tokens/s, step time, model FLOPs and MFU against the
// sgemm (or bf16 GEMM) peak measured in the same process.
#pragma once

#include "recipe/config.hpp"

#include <map>
#include <string>

namespace lab {

struct BenchmarkOptions {
  int64_t warmup_steps = 2;
  int64_t steps = 5;
  bool corpus_data = false;  // false: uniform random tokens (no tokenizer training)
  bool bf16 = false;         // autocast matrix products to bfloat16
  int64_t peak_size = 0;     // side of the square GEMM of the peak measurement; 0: by device
  std::string trace_file;    // when set: one extra, untimed step is traced to this Chrome-trace JSON file
};

struct PhaseSeconds {
  double data = 0, forward = 0, backward = 0, optimizer = 0;
};

struct ComponentTimes {
  double forward_ms = 0, backward_ms = 0;
};

struct BenchmarkResult {
  std::string device;
  int threads = 0;
  int64_t batch_size = 0, seq_len = 0, accum_steps = 1, steps = 0;
  int64_t vocab_size = 0;
  double step_seconds_mean = 0, step_seconds_min = 0;
  double tokens_per_s = 0;       // over all timed steps
  double tokens_per_s_best = 0;  // of the fastest timed step (less sensitive to a shared machine)
  double flops_per_token = 0;    // training FLOPs (forward + backward)
  double attained_gflops = 0;    // flops_per_token · tokens_per_s
  double peak_gflops = 0;        // best GEMM rate measured before and after the steps
  int64_t peak_size = 0;
  double mfu = 0;       // attained / peak
  PhaseSeconds phases;  // mean per step
  int64_t parameters = 0, active_parameters = 0;
  // Mean ms per step of each model component, forward and backward (CPU only; empty on CUDA):
  // embedding, attention, moe (router: its forward share), head (final norm + tied LM head), loss.
  std::map<std::string, ComponentTimes> components;
};

// Measures the GEMM peak in GFLOP/s with square n×n products on `device` (best of a few repeats).
double measure_gemm_peak(const torch::Device& device, int64_t n, bool bf16);

// Builds the model of `config`, trains it for warm-up plus timed steps (AdamW or Muon as configured,
// with gradient clipping and the routers' after-step updates, as in training) and reports the figures.
BenchmarkResult run_benchmark(const Config& config, const BenchmarkOptions& options);

}  // namespace lab
