#include "train/trainer.hpp"

#include "audit/run_audit.hpp"
#include "data/batches.hpp"
#include "data/corpus.hpp"
#include "eval/evaluate.hpp"
#include "model/model.hpp"
#include "recipe/where_set.hpp"
#include "run/files.hpp"
#include "run/plots.hpp"
#include "run/summary.hpp"
#include "tensorboard/event_log.hpp"
#include "train/checkpoint.hpp"
#include "train/progress.hpp"
#include "train/schedule.hpp"
#include "train/training_loss.hpp"
#include "train/update_step.hpp"
#include "util/hash.hpp"
#include "util/system.hpp"

#include <lab/error.hpp>

#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <fstream>
#include <iostream>
#include <optional>

namespace lab {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

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

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Keeps metrics.jsonl consistent with the checkpoint a run resumes from.
void truncate_metrics(const fs::path& file, int64_t step) {
  if (!fs::exists(file)) return;
  std::string kept;
  for (const auto& line : read_json_lines(file, /*drop_torn_end=*/true))
    if (line.value("step", int64_t{0}) <= step) kept += line.dump() + "\n";
  write_file_atomic(file, kept);
}

bool metrics_has_step(const fs::path& file, int64_t step) {
  if (!fs::exists(file)) return false;
  for (const auto& line : read_json_lines(file))
    if (line.value("step", int64_t{-1}) == step) return true;
  return false;
}

std::string train_loss_text(double loss) {
  char text[48];
  std::snprintf(text, sizeof text, "train loss %.4f |", loss);
  return text;
}

struct StageCursor {
  size_t index = 0;
  int64_t start = 0;  // global step where the stage begins
};

StageCursor stage_at(const TrainConfig& train, int64_t step) {
  StageCursor cursor;
  for (size_t n = 0; n < train.stages.size(); ++n) {
    if (step < cursor.start + train.stages[n].steps || n + 1 == train.stages.size()) {
      cursor.index = n;
      return cursor;
    }
    cursor.start += train.stages[n].steps;
  }
  return cursor;
}

void apply_stage(LanguageModel& model, const StageConfig& stage) {
  auto trains = [&](const std::string& group) {
    for (const auto& g : stage.groups)
      if (g == "all" || g == group) return true;
    return false;
  };
  for (auto& p : model->named_parameters()) p.value().set_requires_grad(trains(parameter_group(p.key())));
  model->set_sparse_mode(stage.mode);
}

bool any_trainable(LanguageModel& model) {
  for (const auto& p : model->parameters())
    if (p.requires_grad()) return true;
  return false;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

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

RunResult train(const Config& config_in, const TrainOptions& options) {
  Config config = config_in;
  const TrainConfig& tc = config.train;
  at::set_num_threads(tc.threads > 0 ? static_cast<int>(tc.threads) : default_thread_count());
  const torch::Device device = [&] {
    try {
      return pick_device(tc.device);
    } catch (const std::exception& err) {  // InputError or LibTorch's for a device index it lacks
      throw InputError(where_set(config, "train.device") + ": " + err.what());
    }
  }();
  const fs::path dir = run_directory(config);
  const fs::path checkpoint_dir = dir / "checkpoint";
  Progress progress(options.quiet, tc.steps);

  // Refuse to clobber a run before doing any work.
  const bool exists = fs::exists(dir);
  if (exists && !options.resume && !options.overwrite) {
    std::string what = fs::exists(dir / "summary.json") ? "a finished run" : "an unfinished run";
    throw InputError(dir.string() + ": holds " + what +
                     "; pass --resume to continue it or --overwrite to start again");
  }
  if (options.resume && fs::exists(dir / "summary.json")) {
    progress.line("run already finished: " + dir.string());
    return RunResult{dir, true, tc.steps};
  }
  if (options.resume && !any_checkpoint(checkpoint_dir))
    throw InputError(dir.string() + ": no checkpoint to resume from");

  const auto wall_start = Clock::now();
  auto dataset = config.dataset.descriptor->make_dataset(config.dataset.options,
                                                         DatasetContext{config.recipe_file.parent_path()});
  Corpus corpus = prepare_corpus(*dataset, config.data, default_cache_dir(config.data.tokenizer_cache));
  if (validation_windows(corpus.val_tokens, config.dims.seq_len) == 0)
    throw InputError(where_set(config, "model.seq_len") + ": validation split has " +
                     std::to_string(corpus.val_tokens.size()) + " tokens, too few for one window of " +
                     std::to_string(config.dims.seq_len));
  if (static_cast<int64_t>(corpus.train_tokens.size()) <= config.dims.seq_len)
    throw InputError(where_set(config, "model.seq_len") + ": training split has " +
                     std::to_string(corpus.train_tokens.size()) + " tokens, too few for " +
                     std::to_string(config.dims.seq_len));
  config.dims.vocab_size = corpus.tokenizer.vocab_size();
  progress.line("data: " + dataset->describe() + " | " + std::to_string(corpus.train_ids.size()) +
                " train / " + std::to_string(corpus.val_ids.size()) + " validation documents | " +
                std::to_string(corpus.train_tokens.size()) + " / " +
                std::to_string(corpus.val_tokens.size()) + " tokens | tokenizer " +
                (corpus.tokenizer_cache_hit ? "cached" : "trained") + " (" +
                std::to_string(config.dims.vocab_size) + " pieces)");

  // Initialisation draws from the seed; dropout and router noise from a second stream of it.
  torch::manual_seed(static_cast<uint64_t>(tc.seed));
  LanguageModel model(config);
  model->initialize(config.init_std);
  // Before the training stream is seeded: the probe seeds the generator itself.
  const RunAudit audit = audit_run(config, corpus);
  progress.line(audit.line);
  for (const auto& w : audit.warnings) std::cerr << "lab: warning: " << w << "\n";
  model->to(device);
  torch::manual_seed(mix_seed(static_cast<uint64_t>(tc.seed)));
  std::vector<NamedParameter> named;
  for (auto& p : model->named_parameters()) named.emplace_back(p.key(), p.value());
  auto optimizer = make_optimizer(tc.optimizer, named);
  const ParameterCounts counts = count_parameters(*model, config.dims.n_experts, config.dims.top_k);

  bool created = false;
  if (options.overwrite && exists) fs::remove_all(dir);
  if (!options.resume) {
    fs::create_directories(dir);
    created = true;
  }
  TrainingState state;
  std::optional<TensorBoardLog> tensorboard;
  try {
    // The checkpoint loads before anything is rewritten: a resume that fails leaves the folder as it was.
    if (options.resume) state = load_checkpoint(checkpoint_dir, model, *optimizer, tc.steps);
    const std::string resolved = to_toml(config.resolved);
    write_file_atomic(dir / "recipe.resolved.toml",
                      "# Every key of this run, defaults filled in.\n" + resolved);
    fs::copy_file(corpus.tokenizer.model_path(), dir / "tokenizer.model",
                  fs::copy_options::overwrite_existing);
    if (options.resume) {
      truncate_metrics(dir / "metrics.jsonl", state.step);
      progress.line("resumed at step " + std::to_string(state.step));
    } else {
      std::ofstream(dir / "metrics.jsonl", std::ios::trunc);
    }
    tensorboard.emplace(dir / "tb", resolved, read_json_lines(dir / "metrics.jsonl"));
  } catch (...) {
    if (created) fs::remove_all(dir);
    throw;
  }
  progress.line("model: " + std::to_string(counts.total) + " parameters (" + std::to_string(counts.active) +
                " active per token) on " + device.str() + ", " + std::to_string(at::get_num_threads()) +
                " threads");

  InterruptGuard interrupt_guard;
  model->train();
  const int64_t tokens_per_step = tc.batch_size * tc.accum_steps * config.dims.seq_len;
  const double wall_before = state.wall_seconds;
  double lr_now = 0;
  // Checkpointed with the state: the first metrics line after a resume averages the same steps.
  double& loss_sum = state.running.loss_sum;
  int64_t& loss_count = state.running.loss_count;
  std::map<std::string, double>&aux_sum = state.running.aux_sum, &stat_sum = state.running.stat_sum;
  int64_t& stat_count = state.running.stat_count;
  size_t current_stage = static_cast<size_t>(-1);
  bool stopped = false;
  auto segment_start = Clock::now();
  int64_t segment_tokens = 0;
  EvalResult last_eval;

  // Evaluates the model as it is now and appends the evaluation to metrics.jsonl, beside the training
  // figures in `line`; a step that already has its line (a resumed run) keeps it.
  auto evaluate_and_record = [&](nlohmann::json line) {
    EvalResult result = evaluate(model, corpus.held_out(), config.dims.seq_len, config.eval.batch_size,
                                 config.eval.max_batches, device);
    result.step = state.step;
    line["step"] = state.step;
    line["tokens"] = state.tokens;
    line["wall_s"] = wall_before + seconds_since(wall_start);
    line["time"] = unix_time();
    line["train_s"] = state.train_seconds;
    line["val_loss"] = result.loss;
    line["val_accuracy"] = result.accuracy;
    line["val_perplexity"] = result.perplexity;
    line["val_tokens_scored"] = result.tokens;
    line["val_documents_scored"] = result.documents;
    line["peak_memory_mb"] = peak_host_memory_mb();
    // Statistics measured on the evaluation batches (e.g. DSA recall) sit beside the training ones.
    if (!line.contains("stats")) line["stats"] = nlohmann::json::object();
    for (const auto& [k, v] : result.stats) line["stats"][k] = v;
    if (!metrics_has_step(dir / "metrics.jsonl", state.step)) {
      append_json_line(dir / "metrics.jsonl", line);
      tensorboard->append(line);
    }
    char text[240];
    std::snprintf(
        text, sizeof text, "eval step %lld | %s val loss %.4f | acc %.4f | ppl %.2f | %lld docs",
        static_cast<long long>(state.step),
        line.contains("train_loss") ? train_loss_text(line["train_loss"].get<double>()).c_str() : "",
        result.loss, result.accuracy, result.perplexity, static_cast<long long>(result.documents));
    progress.line(text);
    return result;
  };

  auto write_checkpoint = [&] {
    state.wall_seconds = wall_before + seconds_since(wall_start);
    save_checkpoint(checkpoint_dir, model, *optimizer, state);
  };

  while (state.step < tc.steps) {
    StageCursor cursor = stage_at(tc, state.step);
    const StageConfig& stage = tc.stages[cursor.index];
    if (cursor.index != current_stage) {
      current_stage = cursor.index;
      apply_stage(model, stage);
      if (!any_trainable(model)) {
        // E.g. an indexer warm-up in a sweep variant without a sparse plugin: nothing to train, so
        // the stage is passed over and later stages keep their step numbers.
        progress.line("stage " + stage.name + ": no parameter of groups [" + join(stage.groups) +
                      "] in this model; its " + std::to_string(stage.steps) + " steps are skipped");
        state.step = std::min(tc.steps, cursor.start + stage.steps);
        continue;
      }
      progress.line("stage " + stage.name + ": " + std::to_string(stage.steps) + " steps, lr " +
                    std::to_string(stage.lr));
    }
    lr_now =
        stage.lr * lr_factor(state.step - cursor.start, stage.warmup_steps, stage.steps, tc.min_lr_ratio);
    optimizer->set_lr_factor(lr_now / tc.optimizer.lr);

    auto step_start = Clock::now();
    for (auto& p : model->parameters()) p.mutable_grad() = torch::Tensor();
    double step_loss = 0;
    for (int64_t micro = 0; micro < tc.accum_steps; ++micro) {
      Batch batch =
          training_batch(corpus.train_tokens, config.dims.seq_len, tc.batch_size, tc.seed, state.step, micro);
      ForwardState fs_state;
      auto ce = training_loss(model, batch.inputs.to(device), batch.targets.to(device), fs_state).value;
      auto loss = ce;
      for (const auto& [name, aux] : fs_state.aux_losses) {
        loss = loss + aux;
        aux_sum[name] += aux.item<double>() / static_cast<double>(tc.accum_steps);
      }
      for (const auto& [name, value] : fs_state.stats)
        stat_sum[name] += value / static_cast<double>(tc.accum_steps);
      (loss / static_cast<double>(tc.accum_steps)).backward();
      step_loss += ce.item<double>() / static_cast<double>(tc.accum_steps);
    }
    if (!std::isfinite(step_loss))
      throw std::runtime_error("training loss is " + std::to_string(step_loss) + " at step " +
                               std::to_string(state.step + 1) +
                               "; lower train.lr or raise train.warmup_steps");
    apply_update(model, *optimizer, tc.grad_clip);

    state.step += 1;
    state.tokens += tokens_per_step;
    segment_tokens += tokens_per_step;
    loss_sum += step_loss;
    loss_count += 1;
    stat_count += 1;
    const double step_seconds = seconds_since(step_start);
    state.train_seconds += step_seconds;
    const double segment_seconds = seconds_since(segment_start);
    const double tokens_per_s = segment_seconds > 0 ? segment_tokens / segment_seconds : 0;
    progress.step(state.step, stage.name, step_loss, lr_now, tokens_per_s,
                  segment_seconds / std::max<int64_t>(segment_tokens / tokens_per_step, 1), tc.log_every);

    const bool last = state.step == tc.steps;
    // A stop request during the last step finishes the run instead: the summary is one step away.
    const bool stop_now =
        !last && (g_interrupted || (options.stop_after > 0 && state.step >= options.stop_after));
    if (state.step % config.eval.every == 0 || last) {
      nlohmann::json line = {{"stage", stage.name},
                             {"lr", lr_now},
                             {"tokens_per_s", tokens_per_s},
                             {"train_loss", loss_sum / std::max<int64_t>(loss_count, 1)}};
      nlohmann::json aux = nlohmann::json::object(), stats = nlohmann::json::object();
      for (const auto& [k, v] : aux_sum) aux[k] = v / std::max<int64_t>(stat_count, 1);
      for (const auto& [k, v] : stat_sum) stats[k] = v / std::max<int64_t>(stat_count, 1);
      line["aux_losses"] = aux;
      line["stats"] = stats;
      last_eval = evaluate_and_record(line);
      loss_sum = 0;
      loss_count = 0;
      aux_sum.clear();
      stat_sum.clear();
      stat_count = 0;
      if (tc.checkpoint_every == 0 && !last) write_checkpoint();
    }
    if (tc.checkpoint_every > 0 && state.step % tc.checkpoint_every == 0 && !last) write_checkpoint();
    if (stop_now) {
      write_checkpoint();
      stopped = true;
      progress.line("stopped at step " + std::to_string(state.step) + "; continue with --resume");
      break;
    }
  }
  if (stopped) return RunResult{dir, false, state.step};
  // The summary holds only measured figures: evaluate now when the model changed since the last
  // evaluation or none ran in this process (a resumed run that had finished training, a skipped last
  // stage).
  if (last_eval.step != state.step) last_eval = evaluate_and_record(nlohmann::json::object());

  write_checkpoint();
  RunFacts facts;
  facts.config = &config;
  facts.counts = counts;
  facts.corpus = &corpus;
  facts.state = state;
  facts.final_eval = last_eval;
  facts.device = device.str();
  facts.threads = at::get_num_threads();
  facts.tokens_per_s = state.train_seconds > 0 ? state.tokens / state.train_seconds : 0;
  facts.audit = audit.json;
  write_summary(dir / "summary.json", facts);
  fs::create_directories(dir / "plots");
  plot_training_curves(dir / "metrics.jsonl", dir / "plots" / "training_curves.png");
  progress.line("run folder: " + dir.string());
  // Again at the end, where the final figures are read.
  for (const auto& w : audit.warnings) std::cerr << "lab: warning: " << w << "\n";
  return RunResult{dir, true, state.step};
}

}  // namespace lab
