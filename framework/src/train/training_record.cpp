// What a run writes: progress, evaluations in metrics.jsonl and TensorBoard, checkpoints, the summary.
#include "train/training_run.hpp"

#include "run/files.hpp"
#include "run/plots.hpp"
#include "run/summary.hpp"
#include "util/system.hpp"

#include <torch/torch.h>

#include <cstdio>
#include <iostream>

namespace lab {

namespace fs = std::filesystem;

namespace {

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

}  // namespace

nlohmann::json TrainingTotals::metrics_line(const std::string& stage, double lr, double tokens_per_s) const {
  const auto n = static_cast<double>(std::max<int64_t>(steps, 1));
  nlohmann::json line = {
      {"stage", stage}, {"lr", lr}, {"tokens_per_s", tokens_per_s}, {"train_loss", loss_sum / n}};
  nlohmann::json aux = nlohmann::json::object(), stats = nlohmann::json::object();
  for (const auto& [k, v] : aux_sum) aux[k] = v / n;
  for (const auto& [k, v] : stat_sum) stats[k] = v / n;
  line["aux_losses"] = aux;
  line["stats"] = stats;
  return line;
}

void TrainingRun::record_step(const StepResult& step, double step_seconds) {
  const TrainConfig& tc = config_.train;
  const int64_t tokens_per_step = global_batch() * config_.dims.seq_len;
  if (parallel_) comm_seconds_ += parallel_->take_comm_seconds();
  session_steps_ += 1;
  state_.step += 1;
  state_.tokens += tokens_per_step;
  segment_tokens_ += tokens_per_step;
  totals_.loss_sum += step.loss;
  totals_.steps += 1;
  for (const auto& [k, v] : step.aux) totals_.aux_sum[k] += v;
  for (const auto& [k, v] : step.stats) totals_.stat_sum[k] += v;
  state_.train_seconds += step_seconds;
  const double segment_seconds = seconds_since(segment_start_);
  const double tokens_per_s = segment_seconds > 0 ? segment_tokens_ / segment_seconds : 0;
  const std::string& stage = tc.stages[current_stage_].name;
  progress_.step(state_.step, stage, step.loss, lr_now_, tokens_per_s,
                 segment_seconds / std::max<int64_t>(segment_tokens_ / tokens_per_step, 1), tc.log_every);

  const bool last = state_.step == tc.steps;
  if (state_.step % config_.eval.every == 0 || last) {
    last_eval_ = evaluate_and_record(totals_.metrics_line(stage, lr_now_, tokens_per_s));
    totals_ = TrainingTotals();
    if (tc.checkpoint_every == 0 && !last) write_checkpoint();
  }
  if (tc.checkpoint_every > 0 && state_.step % tc.checkpoint_every == 0 && !last) write_checkpoint();
}

EvalResult TrainingRun::evaluate_and_record(nlohmann::json line) {
  EvalResult result = evaluate(model_, corpus_.held_out(), config_.dims.seq_len, config_.eval.batch_size,
                               config_.eval.max_batches, device_, eval_shard());
  result.step = state_.step;
  line["step"] = state_.step;
  line["tokens"] = state_.tokens;
  line["wall_s"] = wall_before_ + seconds_since(wall_start_);
  line["time"] = unix_time();
  line["train_s"] = state_.train_seconds;
  line["val_loss"] = result.loss;
  line["val_accuracy"] = result.accuracy;
  line["val_perplexity"] = result.perplexity;
  line["val_tokens_scored"] = result.tokens;
  line["val_documents_scored"] = result.documents;
  line["peak_memory_mb"] = peak_host_memory_mb();
  // Statistics measured on the evaluation batches (e.g. DSA recall) sit beside the training ones.
  if (!line.contains("stats")) line["stats"] = nlohmann::json::object();
  for (const auto& [k, v] : result.stats) line["stats"][k] = v;
  if (is_root() && !metrics_has_step(dir_ / "metrics.jsonl", state_.step)) {
    append_json_line(dir_ / "metrics.jsonl", line);
    tensorboard_->append(line);
  }
  char text[240];
  std::snprintf(text, sizeof text, "eval step %lld | %s val loss %.4f | acc %.4f | ppl %.2f | %lld docs",
                static_cast<long long>(state_.step),
                line.contains("train_loss") ? train_loss_text(line["train_loss"].get<double>()).c_str() : "",
                result.loss, result.accuracy, result.perplexity, static_cast<long long>(result.documents));
  progress_.line(text);
  return result;
}

// Each rank scores its share of the batches; the sums are added up over the ranks.
EvalShard TrainingRun::eval_shard() {
  EvalShard shard;
  if (!parallel_) return shard;
  shard.index = parallel_->rank();
  shard.count = parallel_->size();
  shard.sum = [this](std::vector<double>& values) { parallel_->sum(values, false); };
  return shard;
}

// Rank 0 writes it: the weights and optimizer state are the same on every rank, and nothing in it
// depends on the number of ranks, so any world size can resume it.
void TrainingRun::write_checkpoint() {
  if (!is_root()) return;
  state_.wall_seconds = wall_before_ + seconds_since(wall_start_);
  state_.running =
      RunningAverages{totals_.loss_sum, totals_.steps, totals_.aux_sum, totals_.stat_sum, totals_.steps};
  save_checkpoint(checkpoint_dir_, model_, *optimizer_, state_);
}

RunResult TrainingRun::stop() {
  write_checkpoint();
  progress_.line("stopped at step " + std::to_string(state_.step) + "; continue with --resume");
  return RunResult{dir_, false, state_.step};
}

RunResult TrainingRun::finish() {
  // The summary holds only measured figures: evaluate now when the model changed since the last
  // evaluation or none ran in this process (a resumed run that had finished training, a skipped last
  // stage).
  if (last_eval_.step != state_.step) last_eval_ = evaluate_and_record(nlohmann::json::object());
  write_checkpoint();
  if (!is_root()) return RunResult{dir_, true, state_.step};
  RunFacts facts;
  facts.config = &config_;
  facts.counts = counts_;
  facts.corpus = &corpus_;
  facts.state = state_;
  facts.final_eval = last_eval_;
  facts.device = device_.str();
  facts.threads = at::get_num_threads();
  facts.tokens_per_s = state_.train_seconds > 0 ? state_.tokens / state_.train_seconds : 0;
  facts.audit = audit_.json;
  facts.world_size = static_cast<int>(ranks());
  facts.backend = parallel_ ? parallel_->backend() : "none";
  facts.global_batch = global_batch();
  facts.comm_seconds_per_step = session_steps_ > 0 ? comm_seconds_ / static_cast<double>(session_steps_) : 0;
  write_summary(dir_ / "summary.json", facts);
  fs::create_directories(dir_ / "plots");
  plot_training_curves(dir_ / "metrics.jsonl", dir_ / "plots" / "training_curves.png");
  progress_.line("run folder: " + dir_.string());
  // Again at the end, where the final figures are read.
  for (const auto& w : audit_.warnings) std::cerr << "lab: warning: " << w << "\n";
  return RunResult{dir_, true, state_.step};
}

}  // namespace lab
