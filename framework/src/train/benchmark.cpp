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

// The side of the peak GEMM: as asked, or large enough to reach the device's rate.
int64_t peak_side(const BenchmarkOptions& options, const torch::Device& device) {
  return options.peak_size > 0 ? options.peak_size : (device.is_cuda() ? 8192 : 2048);
}

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

MedianSpread median_spread(std::vector<double> values) {
  if (values.empty()) return {};
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  const double median = n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
  return {median, median > 0 ? (values.back() - values.front()) / median : 0.0};
}

std::vector<int> interleaved_order(int64_t rounds) {
  std::vector<int> order;
  for (int64_t round = 0; round < rounds; ++round) {
    const int first = static_cast<int>(round % 2);
    order.push_back(first);
    order.push_back(1 - first);
  }
  return order;
}

struct BenchmarkRun::State {
  State(const Config& config_in, const BenchmarkOptions& options_in)
      : config(config_in),
        options(options_in),
        threads(apply_thread_count(config_in.train.threads)),
        device(pick_device(config_in.train.device)),
        batches(config, options_in.corpus_data) {
    config.dims.vocab_size = batches.vocab_size();
    torch::manual_seed(static_cast<uint64_t>(config.train.seed));
    model = LanguageModel(config);
    model->initialize(config.init_std);
    model->to(device);
    std::vector<NamedParameter> named;
    for (auto& p : model->named_parameters()) named.emplace_back(p.key(), p.value());
    optimizer = make_optimizer(config.train.optimizer, named);
    optimizer->set_lr_factor(1.0);
    model->train();
    counts = count_parameters(*model, config.dims.n_experts, config.dims.top_k);
    flops_per_token = model_flops_per_token(*model, config.dims).training;
  }

  // Sets the recipe's thread count (when it has one) and returns the count steps run with.
  static int apply_thread_count(int64_t wanted) {
    if (wanted > 0) at::set_num_threads(static_cast<int>(wanted));
    return at::get_num_threads();
  }

  PhaseSeconds micro_step(int64_t micro, ComponentClock* clock);
  double step(bool timed);

  Config config;
  BenchmarkOptions options;
  int threads;
  torch::Device device;
  BatchSource batches;
  LanguageModel model{nullptr};
  std::unique_ptr<Optimizer> optimizer;
  ParameterCounts counts;
  double flops_per_token = 0;
  ComponentClock clock;  // host clocks time components only where operations are synchronous
  int64_t next_step = 0;
  std::vector<double> timed_seconds;
  PhaseSeconds timed_phases;  // summed over the timed steps
};

// One micro-batch's data, forward and backward; the optimizer phase stays 0.
PhaseSeconds BenchmarkRun::State::micro_step(int64_t micro, ComponentClock* step_clock) {
  auto t0 = Clock::now();
  Batch batch = batches.next(next_step, micro);
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
  (loss / static_cast<double>(config.train.accum_steps)).backward();
  sync(device);
  auto t3 = Clock::now();
  using Seconds = std::chrono::duration<double>;
  return {Seconds(t1 - t0).count(), Seconds(t2 - t1).count(), Seconds(t3 - t2).count(), 0};
}

// One training step; a timed one adds its phases and components to the run's totals.
double BenchmarkRun::State::step(bool timed) {
  ComponentClock* step_clock = timed && device.is_cpu() ? &clock : nullptr;
  model->set_component_clock(step_clock);
  sync(device);
  const auto start = Clock::now();
  for (auto& p : model->parameters()) p.mutable_grad() = torch::Tensor();
  PhaseSeconds phase;
  for (int64_t micro = 0; micro < config.train.accum_steps; ++micro) {
    const PhaseSeconds m = micro_step(micro, step_clock);
    phase.data += m.data;
    phase.forward += m.forward;
    phase.backward += m.backward;
  }
  const auto update_start = Clock::now();
  apply_update(model, *optimizer, config.train.grad_clip);
  sync(device);
  phase.optimizer = seconds_since(update_start);
  const double seconds = seconds_since(start);
  model->set_component_clock(nullptr);
  ++next_step;
  if (timed) {
    timed_seconds.push_back(seconds);
    timed_phases.data += phase.data;
    timed_phases.forward += phase.forward;
    timed_phases.backward += phase.backward;
    timed_phases.optimizer += phase.optimizer;
  }
  return seconds;
}

BenchmarkRun::BenchmarkRun(const Config& config, const BenchmarkOptions& options) {
  if (options.warmup_steps < 0) throw InputError("--warmup must not be negative");
  state_ = std::make_unique<State>(config, options);
  for (int64_t s = 0; s < options.warmup_steps; ++s) state_->step(false);
}

BenchmarkRun::~BenchmarkRun() = default;

std::vector<double> BenchmarkRun::time_steps(int64_t n) {
  if (n < 1) throw InputError("--steps must be at least 1");
  // Another run in the same process may have set a different thread count.
  if (at::get_num_threads() != state_->threads) at::set_num_threads(state_->threads);
  std::vector<double> seconds;
  for (int64_t s = 0; s < n; ++s) seconds.push_back(state_->step(true));
  return seconds;
}

void BenchmarkRun::trace_step(const std::string& file) {
  torch::autograd::profiler::RecordProfile trace(file);
  state_->step(false);
}

double BenchmarkRun::measure_peak() const {
  const torch::Device& d = state_->device;
  return measure_gemm_peak(d, peak_side(state_->options, d), state_->options.bf16 && d.is_cuda());
}

const torch::Device& BenchmarkRun::device() const { return state_->device; }

double BenchmarkRun::tokens_per_step() const {
  const Config& c = state_->config;
  return static_cast<double>(c.train.batch_size * c.train.accum_steps * c.dims.seq_len);
}

BenchmarkResult BenchmarkRun::result(double peak_gflops) const {
  const State& s = *state_;
  const TrainConfig& tc = s.config.train;
  BenchmarkResult r;
  r.device = s.device.str();
  r.threads = s.threads;
  r.batch_size = tc.batch_size;
  r.seq_len = s.config.dims.seq_len;
  r.accum_steps = tc.accum_steps;
  r.steps = static_cast<int64_t>(s.timed_seconds.size());
  r.vocab_size = s.config.dims.vocab_size;
  r.parameters = s.counts.total;
  r.active_parameters = s.counts.active;
  r.flops_per_token = s.flops_per_token;
  r.peak_size = peak_side(s.options, s.device);
  r.peak_gflops = peak_gflops;
  if (s.timed_seconds.empty()) return r;

  const double n = static_cast<double>(r.steps);
  for (const auto& [name, span] : s.clock.spans())
    r.components[name] = ComponentTimes{span.forward_ms / n, span.backward_ms / n};
  const PhaseSeconds& p = s.timed_phases;
  r.phases = {p.data / n, p.forward / n, p.backward / n, p.optimizer / n};
  double total = 0;
  for (double t : s.timed_seconds) total += t;
  r.step_seconds_mean = total / n;
  r.step_seconds_min = *std::min_element(s.timed_seconds.begin(), s.timed_seconds.end());
  const MedianSpread steps = median_spread(s.timed_seconds);
  r.step_seconds_median = steps.median;
  r.step_spread = steps.spread;
  const double tokens = tokens_per_step();
  r.tokens_per_s = tokens / r.step_seconds_mean;
  r.tokens_per_s_median = tokens / r.step_seconds_median;
  r.tokens_per_s_best = tokens / r.step_seconds_min;
  r.attained_gflops = r.flops_per_token * r.tokens_per_s / 1e9;
  r.mfu = peak_gflops > 0 ? r.attained_gflops / peak_gflops : 0;
  return r;
}

BenchmarkResult run_benchmark(const Config& config, const BenchmarkOptions& options) {
  if (options.steps < 1) throw InputError("--steps must be at least 1");
  BenchmarkRun run(config, options);
  const double before = run.measure_peak();
  run.time_steps(options.steps);
  // The traced step comes after the timed ones: the profiler's own cost stays out of the figures.
  if (!options.trace_file.empty()) run.trace_step(options.trace_file);
  // Under load the GEMM rate varies: the better of the two measurements bounds what the step could get.
  return run.result(std::max(before, run.measure_peak()));
}

}  // namespace lab
