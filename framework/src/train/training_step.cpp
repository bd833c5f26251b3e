// Stages and the optimizer step: which parameters train, the micro-batches, the update.
#include "train/training_run.hpp"

#include "data/batches.hpp"
#include "distributed/rank_sums.hpp"
#include "train/schedule.hpp"
#include "train/training_loss.hpp"
#include "train/update_step.hpp"

#include <torch/torch.h>

#include <cmath>

namespace lab {

namespace {

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

// In model order, which is the same on every rank.
std::vector<torch::Tensor> trainable_parameters(LanguageModel& model) {
  std::vector<torch::Tensor> out;
  for (const auto& p : model->parameters())
    if (p.requires_grad()) out.push_back(p);
  return out;
}

}  // namespace

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

bool TrainingRun::enter_stage() {
  const TrainConfig& tc = config_.train;
  const StageCursor cursor = stage_at(tc, state_.step);
  const StageConfig& stage = tc.stages[cursor.index];
  if (cursor.index != current_stage_) {
    current_stage_ = cursor.index;
    apply_stage(model_, stage);
    if (!any_trainable(model_)) {
      // E.g. an indexer warm-up in a sweep variant without a sparse plugin: nothing to train, so
      // the stage is passed over and later stages keep their step numbers.
      progress_.line("stage " + stage.name + ": no parameter of groups [" + join(stage.groups) +
                     "] in this model; its " + std::to_string(stage.steps) + " steps are skipped");
      state_.step = std::min(tc.steps, cursor.start + stage.steps);
      return false;
    }
    progress_.line("stage " + stage.name + ": " + std::to_string(stage.steps) + " steps, lr " +
                   std::to_string(stage.lr));
  }
  lr_now_ =
      stage.lr * lr_factor(state_.step - cursor.start, stage.warmup_steps, stage.steps, tc.min_lr_ratio);
  optimizer_->set_lr_factor(lr_now_ / tc.optimizer.lr);
  return true;
}

StepResult TrainingRun::train_step(const std::function<bool()>& wants_stop) {
  const TrainConfig& tc = config_.train;
  const auto accum = static_cast<double>(tc.accum_steps);
  const int64_t rank = parallel_ ? parallel_->rank() : 0;
  for (auto& p : model_->parameters()) p.mutable_grad() = torch::Tensor();
  StepResult result;
  for (int64_t micro = 0; micro < tc.accum_steps; ++micro) {
    // Micro-batches are numbered over all ranks, interleaved (micro · ranks + rank): R ranks with A
    // accumulation steps see the windows of one process with R·A, and one process sees its own.
    Batch batch = training_batch(corpus_.train_tokens, config_.dims.seq_len, tc.batch_size, tc.seed,
                                 state_.step, micro * ranks() + rank);
    ForwardState forward;
    auto ce = training_loss(model_, batch.inputs.to(device_), batch.targets.to(device_), forward).value;
    auto loss = ce;
    for (const auto& [name, aux] : forward.aux_losses) {
      loss = loss + aux;
      result.aux[name] += aux.item<double>() / accum;
    }
    for (const auto& [name, value] : forward.stats) result.stats[name] += value / accum;
    if (parallel_ && micro + 1 == tc.accum_steps) parallel_->watch_gradients(trainable_parameters(model_));
    (loss / accum).backward();
    result.loss += ce.item<double>() / accum;
  }
  if (parallel_) parallel_->average_gradients();
  reduce_step(result, wants_stop());
  if (!std::isfinite(result.loss))
    throw std::runtime_error("training loss is " + std::to_string(result.loss) + " at step " +
                             std::to_string(state_.step + 1) +
                             "; lower train.lr or raise train.warmup_steps");
  // The routers' after-step updates sum their statistics over the ranks (lab::sum_over_ranks).
  RankSumScope rank_sums(parallel_.get());
  apply_update(model_, *optimizer_, tc.grad_clip);
  return result;
}

// The step's figures become means over the ranks (each rank's are means over its micro-batches) in
// one collective that also carries the stop request, so every rank reports and stops alike.
void TrainingRun::reduce_step(StepResult& result, bool stop) {
  result.stop = stop;
  if (!parallel_) return;
  std::vector<double> values{result.loss};
  for (const auto& [name, v] : result.aux) values.push_back(v);
  for (const auto& [name, v] : result.stats) values.push_back(v);
  values.push_back(stop ? 1.0 : 0.0);
  parallel_->sum(values);
  const auto n = static_cast<double>(ranks());
  size_t at = 0;
  result.loss = values[at++] / n;
  for (auto& [name, v] : result.aux) v = values[at++] / n;
  for (auto& [name, v] : result.stats) v = values[at++] / n;
  result.stop = values[at] > 0;
}

}  // namespace lab
