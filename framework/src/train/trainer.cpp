#include "train/trainer.hpp"

#include "train/training_run.hpp"

#include <lab/error.hpp>

#include <torch/torch.h>

#include <atomic>
#include <csignal>

namespace lab {

namespace fs = std::filesystem;

namespace {

std::atomic<bool> g_interrupted{false};
// The first request stops at the end of the step, with a checkpoint; a second one, for a step that
// takes too long, ends the process at once (the checkpoint before it stays).
void on_interrupt(int sig) {
  if (g_interrupted) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
  g_interrupted = true;
}

// Restores the previous SIGINT/SIGTERM handlers when training returns.
struct InterruptGuard {
  void (*old_int)(int);
  void (*old_term)(int);
  InterruptGuard() {
    g_interrupted = false;
    old_int = std::signal(SIGINT, on_interrupt);
    old_term = std::signal(SIGTERM, on_interrupt);
  }
  ~InterruptGuard() {
    std::signal(SIGINT, old_int);
    std::signal(SIGTERM, old_term);
  }
};

}  // namespace

torch::Device pick_device(const std::string& wanted) {
  if (wanted == "cpu") return torch::kCPU;
  if (wanted == "auto")
    return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  if (!torch::cuda::is_available())
    throw InputError("train.device = \"" + wanted +
                     "\" but this LibTorch sees no CUDA device (use auto or cpu)");
  return torch::Device(wanted);
}

fs::path run_directory(const Config& config) {
  return fs::path(config.runs_dir) / config.experiment / config.variant /
         ("seed-" + std::to_string(config.train.seed));
}

RunResult train(const Config& config, const TrainOptions& options) {
  TrainingRun run(config, options);
  if (auto finished = run.set_up()) return *finished;
  InterruptGuard interrupt_guard;
  while (!run.done()) {
    if (!run.enter_stage()) continue;
    const int64_t done = run.step() + 1;
    // A stop request during the last step finishes the run instead: the summary is one step away.
    auto wants_stop = [&] {
      return done != config.train.steps &&
             (g_interrupted || (options.stop_after > 0 && done >= options.stop_after));
    };
    const auto step_start = TrainClock::now();
    const StepResult step = run.train_step(wants_stop);
    const double step_seconds = seconds_since(step_start);
    run.record_step(step, step_seconds);
    if (step.stop) return run.stop();
  }
  return run.finish();
}

}  // namespace lab
