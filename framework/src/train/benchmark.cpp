#include "train/benchmark.hpp"

#include "data/batches.hpp"
#include "data/corpus.hpp"
#include "model/component_clock.hpp"
#include "model/flops.hpp"
#include "model/model.hpp"
#include "train/trainer.hpp"
#include "train/training_loss.hpp"
#include "train/update_step.hpp"

#include <lab/error.hpp>

#include <ATen/autocast_mode.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/cuda.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <optional>

namespace lab {

namespace {

using Clock = std::chrono::steady_clock;

// Timings of asynchronous devices need the queue drained first.
void sync(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Enables bfloat16 autocast on the device's type for its lifetime.
class Bf16Autocast {
 public:
  Bf16Autocast(const torch::Device& device, bool on) : cuda_(device.is_cuda()), on_(on) {
    if (!on_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    const auto type = cuda_ ? at::kCUDA : at::kCPU;
    at::autocast::set_autocast_dtype(type, at::kBFloat16);
    at::autocast::set_autocast_enabled(type, true);
#else
    if (cuda_) {
      at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
      at::autocast::set_enabled(true);
    } else {
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
      at::autocast::set_cpu_enabled(true);
    }
#endif
  }
  ~Bf16Autocast() {
    if (!on_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(cuda_ ? at::kCUDA : at::kCPU, false);
#else
    if (cuda_)
      at::autocast::set_enabled(false);
    else
      at::autocast::set_cpu_enabled(false);
#endif
    at::autocast::clear_cache();
  }
  Bf16Autocast(const Bf16Autocast&) = delete;
  Bf16Autocast& operator=(const Bf16Autocast&) = delete;

 private:
  bool cuda_, on_;
};

// Token batches: windows of the recipe's corpus, or uniform random ids (no tokenizer to train).
class BatchSource {
 public:
  BatchSource(const Config& config, bool corpus_data) : config_(config) {
    if (!corpus_data) return;
    auto dataset = config.dataset.descriptor->make_dataset(config.dataset.options,
                                                           DatasetContext{config.recipe_file.parent_path()});
    corpus_.emplace(prepare_corpus(*dataset, config.data, default_cache_dir(config.data.tokenizer_cache)));
    if (static_cast<int64_t>(corpus_->train_tokens.size()) <= config.dims.seq_len)
      throw InputError("training split has " + std::to_string(corpus_->train_tokens.size()) +
                       " tokens, too few for model.seq_len = " + std::to_string(config.dims.seq_len));
  }
  int64_t vocab_size() const { return corpus_ ? corpus_->tokenizer.vocab_size() : config_.dims.vocab_size; }
  Batch next(int64_t step, int64_t micro) {
    const auto& t = config_.train;
    if (corpus_)
      return training_batch(corpus_->train_tokens, config_.dims.seq_len, t.batch_size, t.seed, step, micro);
    auto window = torch::randint(vocab_size(), {t.batch_size, config_.dims.seq_len + 1}, torch::kInt64);
    return Batch{window.narrow(1, 0, config_.dims.seq_len), window.narrow(1, 1, config_.dims.seq_len)};
  }

 private:
  const Config& config_;
  std::optional<Corpus> corpus_;
};

}  // namespace

double measure_gemm_peak(const torch::Device& device, int64_t n, bool bf16) {
  torch::NoGradGuard no_grad;
  auto options = torch::TensorOptions().device(device).dtype(bf16 ? torch::kBFloat16 : torch::kFloat32);
  auto a = torch::randn({n, n}, options), b = torch::randn({n, n}, options),
       c = torch::empty({n, n}, options);
  const int repeats = device.is_cuda() ? 20 : 3;
  double best = 0;
  for (int round = 0; round < 3; ++round) {
    at::mm_out(c, a, b);  // warm-up (and the allocator, threads, clocks)
    sync(device);
    auto start = Clock::now();
    for (int r = 0; r < repeats; ++r) at::mm_out(c, a, b);
    sync(device);
    const double seconds = seconds_since(start);
    best = std::max(best, 2.0 * static_cast<double>(n) * n * n * repeats / seconds / 1e9);
  }
  return best;
}

BenchmarkResult run_benchmark(const Config& config_in, const BenchmarkOptions& options) {
  if (options.steps < 1) throw InputError("--steps must be at least 1");
  if (options.warmup_steps < 0) throw InputError("--warmup must not be negative");
  Config config = config_in;
  const TrainConfig& tc = config.train;
  if (tc.threads > 0) at::set_num_threads(static_cast<int>(tc.threads));
  const torch::Device device = pick_device(tc.device);
  BatchSource batches(config, options.corpus_data);
  config.dims.vocab_size = batches.vocab_size();

  torch::manual_seed(static_cast<uint64_t>(tc.seed));
  LanguageModel model(config);
  model->initialize(config.init_std);
  model->to(device);
  std::vector<NamedParameter> named;
  for (auto& p : model->named_parameters()) named.emplace_back(p.key(), p.value());
  auto optimizer = make_optimizer(tc.optimizer, named);
  optimizer->set_lr_factor(1.0);
  model->train();

  BenchmarkResult r;
  r.device = device.str();
  r.threads = at::get_num_threads();
  r.batch_size = tc.batch_size;
  r.seq_len = config.dims.seq_len;
  r.accum_steps = tc.accum_steps;
  r.steps = options.steps;
  r.vocab_size = config.dims.vocab_size;
  const ParameterCounts counts = count_parameters(*model, config.dims.n_experts, config.dims.top_k);
  r.parameters = counts.total;
  r.active_parameters = counts.active;
  r.flops_per_token = model_flops_per_token(*model, config.dims).training;
  r.peak_size = options.peak_size > 0 ? options.peak_size : (device.is_cuda() ? 8192 : 2048);
  r.peak_gflops = measure_gemm_peak(device, r.peak_size, options.bf16 && device.is_cuda());

  PhaseSeconds total;
  // Host clocks time components only where operations are synchronous.
  ComponentClock clock;
  const bool time_components = device.is_cpu();
  double timed_seconds = 0;
  r.step_seconds_min = 1e300;
  const int64_t traced = options.trace_file.empty() ? 0 : 1;
  for (int64_t step = 0; step < options.warmup_steps + options.steps + traced; ++step) {
    const bool timed = step >= options.warmup_steps && step < options.warmup_steps + options.steps;
    // The traced step comes after the timed ones: the profiler's own cost stays out of the figures.
    std::optional<torch::autograd::profiler::RecordProfile> trace;
    if (!timed && step >= options.warmup_steps) trace.emplace(options.trace_file);
    PhaseSeconds phase;
    ComponentClock* step_clock = timed && time_components ? &clock : nullptr;
    model->set_component_clock(step_clock);
    sync(device);
    const auto step_start = Clock::now();
    for (auto& p : model->parameters()) p.mutable_grad() = torch::Tensor();
    for (int64_t micro = 0; micro < tc.accum_steps; ++micro) {
      auto t0 = Clock::now();
      Batch batch = batches.next(step, micro);
      auto inputs = batch.inputs.to(device), targets = batch.targets.to(device);
      sync(device);
      auto t1 = Clock::now();
      torch::Tensor loss;
      std::string first_backward;
      {
        Bf16Autocast autocast(device, options.bf16);
        ForwardState state;
        TrainingLoss lm = training_loss(model, inputs, targets, state, step_clock);
        loss = lm.value;
        first_backward = lm.backward_starts;
        for (const auto& [name, aux] : state.aux_losses) loss = loss + aux;
      }
      sync(device);
      auto t2 = Clock::now();
      if (step_clock) step_clock->opened(first_backward);
      (loss / static_cast<double>(tc.accum_steps)).backward();
      sync(device);
      auto t3 = Clock::now();
      phase.data += std::chrono::duration<double>(t1 - t0).count();
      phase.forward += std::chrono::duration<double>(t2 - t1).count();
      phase.backward += std::chrono::duration<double>(t3 - t2).count();
    }
    auto t4 = Clock::now();
    apply_update(model, *optimizer, tc.grad_clip);
    sync(device);
    phase.optimizer = seconds_since(t4);
    const double seconds = seconds_since(step_start);
    if (!timed) continue;
    timed_seconds += seconds;
    r.step_seconds_min = std::min(r.step_seconds_min, seconds);
    total.data += phase.data;
    total.forward += phase.forward;
    total.backward += phase.backward;
    total.optimizer += phase.optimizer;
  }
  model->set_component_clock(nullptr);
  const double n = static_cast<double>(options.steps);
  for (const auto& [name, span] : clock.spans())
    r.components[name] = ComponentTimes{span.forward_ms / n, span.backward_ms / n};
  r.step_seconds_mean = timed_seconds / n;
  r.phases = {total.data / n, total.forward / n, total.backward / n, total.optimizer / n};
  const double tokens_per_step = static_cast<double>(tc.batch_size * tc.accum_steps * config.dims.seq_len);
  r.tokens_per_s = tokens_per_step / r.step_seconds_mean;
  r.tokens_per_s_best = tokens_per_step / r.step_seconds_min;
  r.attained_gflops = r.flops_per_token * r.tokens_per_s / 1e9;
  // Under load the GEMM rate varies: the better of the two measurements bounds what the step could get.
  r.peak_gflops =
      std::max(r.peak_gflops, measure_gemm_peak(device, r.peak_size, options.bf16 && device.is_cuda()));
  r.mfu = r.peak_gflops > 0 ? r.attained_gflops / r.peak_gflops : 0;
  return r;
}

}  // namespace lab
