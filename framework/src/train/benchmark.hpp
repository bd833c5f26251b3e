// A short training benchmark of a recipe's model: tokens/s, step time, model FLOPs and MFU against the
// sgemm (or bf16 GEMM) peak measured in the same process.
#pragma once

#include "recipe/config.hpp"

#include <map>
#include <memory>
#include <string>
#include <vector>

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
  double step_seconds_median = 0;
  double step_spread = 0;          // (slowest - fastest) / median of the timed steps
  double tokens_per_s = 0;         // over all timed steps
  double tokens_per_s_median = 0;  // of the median step
  double tokens_per_s_best = 0;    // of the fastest timed step (less sensitive to a shared machine)
  double flops_per_token = 0;      // training FLOPs (forward + backward)
  double attained_gflops = 0;      // flops_per_token · tokens_per_s
  double peak_gflops = 0;          // best GEMM rate measured before and after the steps
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

// The median of `values` and their spread, (max - min) / median; both 0 for no values.
struct MedianSpread {
  double median = 0, spread = 0;
};
MedianSpread median_spread(std::vector<double> values);

// Which of two benchmarks times first in each of `rounds` rounds, flattened: 0 1, 1 0, 0 1, ...
// Alternating the order keeps either from always running on a machine the other has just warmed.
std::vector<int> interleaved_order(int64_t rounds);

// A recipe's model built once and timed as often as asked: construction builds the model, optimizer
// and data source and runs the warm-up steps; time_steps() trains timed steps (AdamW or Muon as
// configured, with gradient clipping and the routers' after-step updates, as in training). Several
// runs can live side by side and be timed in turns.
class BenchmarkRun {
 public:
  BenchmarkRun(const Config& config, const BenchmarkOptions& options);
  ~BenchmarkRun();
  BenchmarkRun(const BenchmarkRun&) = delete;
  BenchmarkRun& operator=(const BenchmarkRun&) = delete;

  // Trains `n` timed steps (at the run's own thread count) and returns each one's seconds.
  std::vector<double> time_steps(int64_t n);
  // Trains one untimed step traced op by op into a Chrome-trace JSON file.
  void trace_step(const std::string& file);
  // The run's GEMM peak: its device, options.peak_size (or the device's default), bf16 on CUDA.
  double measure_peak() const;

  const torch::Device& device() const;
  double tokens_per_step() const;
  // The figures over every step timed so far, MFU against `peak_gflops`.
  BenchmarkResult result(double peak_gflops) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// A BenchmarkRun timed once for options.steps, with the GEMM peak measured before and after.
BenchmarkResult run_benchmark(const Config& config, const BenchmarkOptions& options);

}  // namespace lab
