// One training run in pieces: setup (folder checks, data, model, run folder), one optimizer step, the
// evaluation that writes metrics, checkpoints, and the summary at the end. train() drives them.
#pragma once

#include "audit/run_audit.hpp"
#include "data/corpus.hpp"
#include "distributed/data_parallel.hpp"
#include "eval/evaluate.hpp"
#include "model/model.hpp"
#include "recipe/config.hpp"
#include "tensorboard/event_log.hpp"
#include "train/checkpoint.hpp"
#include "train/optimizer.hpp"
#include "train/progress.hpp"
#include "train/trainer.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace lab {

using TrainClock = std::chrono::steady_clock;

double seconds_since(TrainClock::time_point start);

// Where in the recipe's stages a global step falls.
struct StageCursor {
  size_t index = 0;
  int64_t start = 0;  // global step where the stage begins
};
StageCursor stage_at(const TrainConfig& train, int64_t step);

// Training figures summed between two evaluations, averaged into the metrics line.
struct TrainingTotals {
  double loss_sum = 0;
  int64_t steps = 0;
  std::map<std::string, double> aux_sum, stat_sum;
  nlohmann::json metrics_line(const std::string& stage, double lr, double tokens_per_s) const;
};

// What one optimizer step measured: the mean token loss, and each aux loss and statistic averaged
// over its micro-batches.
// In a data-parallel run these are means over the ranks, and `stop` says whether any rank was asked
// to stop after this step.
struct StepResult {
  double loss = 0;
  std::map<std::string, double> aux, stats;
  bool stop = false;
};

class TrainingRun {
 public:
  TrainingRun(const Config& config, const TrainOptions& options);

  // Setup: refuses to clobber a run, prepares data and model and opens the run folder. Returns the
  // result at once when there is nothing to do (a finished run asked to resume).
  std::optional<RunResult> set_up();
  // Applies the stage the next step falls in when it changed; false when that stage has nothing to
  // train and was passed over (the step counter then moved past it).
  bool enter_stage();
  // `wants_stop` is asked once the step's gradients are in; in a data-parallel run every rank stops
  // at the same step when any rank wants to.
  StepResult train_step(const std::function<bool()>& wants_stop);
  // After a step: totals, progress line, and the evaluation and checkpoint the schedule asks for.
  void record_step(const StepResult& step, double step_seconds);
  // Evaluates the model as it is now and appends the evaluation to metrics.jsonl, beside the training
  // figures in `line`; a step that already has its line (a resumed run) keeps it.
  EvalResult evaluate_and_record(nlohmann::json line);
  void write_checkpoint();
  // The final evaluation (when the model changed since the last one), checkpoint, summary and plots.
  RunResult finish();
  RunResult stop();

  int64_t step() const { return state_.step; }
  bool done() const { return state_.step >= config_.train.steps; }

 private:
  bool is_root() const { return !parallel_ || parallel_->is_root(); }
  int64_t ranks() const { return parallel_ ? parallel_->size() : 1; }
  int64_t global_batch() const { return config_.train.batch_size * config_.train.accum_steps * ranks(); }
  std::optional<RunResult> set_up_together();
  void seed_rank_stream();
  void reduce_step(StepResult& result, bool stop);
  EvalShard eval_shard();
  std::optional<RunResult> check_run_folder();
  void load_data();
  void build_model();
  void open_run_folder();
  void resume_from_checkpoint();

  Config config_;
  TrainOptions options_;
  std::optional<World> world_;  // set in a data-parallel run (WORLD_SIZE > 1)
  torch::Device device_;
  std::filesystem::path dir_, checkpoint_dir_;
  Progress progress_;
  TrainClock::time_point wall_start_;
  bool folder_existed_ = false;

  DatasetPtr dataset_;
  Corpus corpus_;
  LanguageModel model_{nullptr};
  RunAudit audit_;
  std::unique_ptr<Optimizer> optimizer_;
  ParameterCounts counts_;
  TrainingState state_;
  std::optional<TensorBoardLog> tensorboard_;
  std::unique_ptr<DataParallel> parallel_;
  double comm_seconds_ = 0;  // waiting for the other ranks during this session's steps
  int64_t session_steps_ = 0;

  double wall_before_ = 0;
  size_t current_stage_ = static_cast<size_t>(-1);
  double lr_now_ = 0;
  TrainingTotals totals_;
  TrainClock::time_point segment_start_;
  int64_t segment_tokens_ = 0;
  EvalResult last_eval_;
};

}  // namespace lab
