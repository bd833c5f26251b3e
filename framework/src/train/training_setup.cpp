// The setup of a training run: folder checks, data, model and optimizer, the opened run folder.
#include "train/training_run.hpp"

#include "data/batches.hpp"
#include "recipe/where_set.hpp"
#include "run/files.hpp"
#include "util/hash.hpp"
#include "util/system.hpp"

#include <lab/error.hpp>

#include <torch/torch.h>

#include <fstream>
#include <iostream>

namespace lab {

namespace fs = std::filesystem;

namespace {

// Keeps metrics.jsonl consistent with the checkpoint a run resumes from.
void truncate_metrics(const fs::path& file, int64_t step) {
  if (!fs::exists(file)) return;
  std::string kept;
  for (const auto& line : read_json_lines(file, /*drop_torn_end=*/true))
    if (line.value("step", int64_t{0}) <= step) kept += line.dump() + "\n";
  write_file_atomic(file, kept);
}

// A data-parallel world (WORLD_SIZE > 1 in the environment), or none.
std::optional<World> parallel_world() {
  auto world = world_from_environment();
  if (world && world->size > 1) return world;
  return std::nullopt;
}

// On CUDA each rank of a machine takes its own GPU unless the recipe names one.
torch::Device rank_device(const Config& config, const std::optional<World>& world) {
  const torch::Device device = [&] {
    try {
      return pick_device(config.train.device);
    } catch (const std::exception& err) {  // InputError or LibTorch's for a device index it lacks
      throw InputError(where_set(config, "train.device") + ": " + err.what());
    }
  }();
  if (world && device.is_cuda() && !device.has_index())
    return torch::Device(torch::kCUDA, static_cast<torch::DeviceIndex>(world->local_rank));
  return device;
}

}  // namespace

double seconds_since(TrainClock::time_point start) {
  return std::chrono::duration<double>(TrainClock::now() - start).count();
}

TrainingRun::TrainingRun(const Config& config, const TrainOptions& options)
    : config_(config),
      options_(options),
      world_(parallel_world()),
      device_(rank_device(config, world_)),
      dir_(run_directory(config)),
      checkpoint_dir_(dir_ / "checkpoint"),
      // Rank 0 alone reports progress, as it alone writes the run folder.
      progress_(options.quiet || (world_ && !world_->is_root()), config.train.steps) {}

std::optional<RunResult> TrainingRun::set_up() {
  const TrainConfig& tc = config_.train;
  at::set_num_threads(tc.threads > 0 ? static_cast<int>(tc.threads) : default_thread_count());
  if (world_) {
    if (auto finished = set_up_together()) return finished;
  } else {
    if (auto finished = check_run_folder()) return finished;
    wall_start_ = TrainClock::now();
    load_data();
    build_model();
    open_run_folder();
  }
  progress_.line("model: " + std::to_string(counts_.total) + " parameters (" +
                 std::to_string(counts_.active) + " active per token) on " + device_.str() + ", " +
                 std::to_string(at::get_num_threads()) + " threads");
  model_->train();
  wall_before_ = state_.wall_seconds;
  segment_start_ = TrainClock::now();
  return std::nullopt;
}

// Every rank joins the group, then rank 0 checks the folder and prepares the data before the others do
// (they then find the tokenizer in the cache instead of all training it at once). Every rank builds
// the model, seeded alike, and takes rank 0's weights, so all start from the same ones.
std::optional<RunResult> TrainingRun::set_up_together() {
  const TrainConfig& tc = config_.train;
  const double timeout_s = config_.resolved.at("distributed.timeout_s").value.as_float();
  const double bucket_mb = config_.resolved.at("distributed.bucket_mb").value.as_float();
  parallel_ = std::make_unique<DataParallel>(
      *world_, device_, std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000)),
      static_cast<int64_t>(bucket_mb * 1024 * 1024));
  wall_start_ = TrainClock::now();
  std::optional<RunResult> finished;
  parallel_->together([&] {
    if (!is_root()) return;
    finished = check_run_folder();
    if (!finished) load_data();
  });
  if (parallel_->from_root(finished ? 1 : 0) != 0) return RunResult{dir_, true, tc.steps};
  parallel_->together([&] {
    if (!is_root()) load_data();
    build_model();
    open_run_folder();
  });
  parallel_->broadcast_model(model_);
  seed_rank_stream();
  progress_.line("data parallel: " + std::to_string(ranks()) + " ranks (" + parallel_->backend() +
                 ") | global batch " + std::to_string(global_batch()) + " = " +
                 std::to_string(tc.batch_size) + " x " + std::to_string(ranks()) + " ranks x " +
                 std::to_string(tc.accum_steps) + " accum");
  return std::nullopt;
}

// Dropout and router noise differ between ranks as their data does: rank r > 0 draws from a stream
// of (seed, rank, step), so a run resumed at any world size draws reproducibly; rank 0 keeps the
// stream a single process has, saved in the checkpoint.
void TrainingRun::seed_rank_stream() {
  if (is_root()) return;
  const auto seed = mix_seed(static_cast<uint64_t>(config_.train.seed));
  torch::manual_seed(mix_seed(mix_seed(seed ^ static_cast<uint64_t>(parallel_->rank())) ^
                              static_cast<uint64_t>(state_.step)));
}

// Refuses to clobber a run before doing any work.
std::optional<RunResult> TrainingRun::check_run_folder() {
  folder_existed_ = fs::exists(dir_);
  if (folder_existed_ && !options_.resume && !options_.overwrite) {
    std::string what = fs::exists(dir_ / "summary.json") ? "a finished run" : "an unfinished run";
    throw InputError(dir_.string() + ": holds " + what +
                     "; pass --resume to continue it or --overwrite to start again");
  }
  if (options_.resume && fs::exists(dir_ / "summary.json")) {
    progress_.line("run already finished: " + dir_.string());
    return RunResult{dir_, true, config_.train.steps};
  }
  if (options_.resume && !any_checkpoint(checkpoint_dir_))
    throw InputError(dir_.string() + ": no checkpoint to resume from");
  return std::nullopt;
}

void TrainingRun::load_data() {
  dataset_ = config_.dataset.descriptor->make_dataset(config_.dataset.options,
                                                      DatasetContext{config_.recipe_file.parent_path()});
  corpus_ = prepare_corpus(*dataset_, config_.data, default_cache_dir(config_.data.tokenizer_cache));
  const int64_t seq_len = config_.dims.seq_len;
  if (validation_windows(corpus_.val_tokens, seq_len) == 0)
    throw InputError(where_set(config_, "model.seq_len") + ": validation split has " +
                     std::to_string(corpus_.val_tokens.size()) + " tokens, too few for one window of " +
                     std::to_string(seq_len));
  if (static_cast<int64_t>(corpus_.train_tokens.size()) <= seq_len)
    throw InputError(where_set(config_, "model.seq_len") + ": training split has " +
                     std::to_string(corpus_.train_tokens.size()) + " tokens, too few for " +
                     std::to_string(seq_len));
  config_.dims.vocab_size = corpus_.tokenizer.vocab_size();
  progress_.line("data: " + dataset_->describe() + " | " + std::to_string(corpus_.train_ids.size()) +
                 " train / " + std::to_string(corpus_.val_ids.size()) + " validation documents | " +
                 std::to_string(corpus_.train_tokens.size()) + " / " +
                 std::to_string(corpus_.val_tokens.size()) + " tokens | tokenizer " +
                 (corpus_.tokenizer_cache_hit ? "cached" : "trained") + " (" +
                 std::to_string(config_.dims.vocab_size) + " pieces)");
}

void TrainingRun::build_model() {
  const TrainConfig& tc = config_.train;
  // Initialisation draws from the seed; dropout and router noise from a second stream of it.
  torch::manual_seed(static_cast<uint64_t>(tc.seed));
  model_ = LanguageModel(config_);
  model_->initialize(config_.init_std);
  // Before the training stream is seeded: the probe seeds the generator itself. Rank 0 alone audits:
  // its summary is the one written.
  if (is_root()) {
    audit_ = audit_run(config_, corpus_);
    progress_.line(audit_.line);
    for (const auto& w : audit_.warnings) std::cerr << "lab: warning: " << w << "\n";
  }
  model_->to(device_);
  torch::manual_seed(mix_seed(static_cast<uint64_t>(tc.seed)));
  std::vector<NamedParameter> named;
  for (auto& p : model_->named_parameters()) named.emplace_back(p.key(), p.value());
  optimizer_ = make_optimizer(tc.optimizer, named);
  counts_ = count_parameters(*model_, config_.dims.n_experts, config_.dims.top_k);
}

void TrainingRun::open_run_folder() {
  if (!is_root()) {  // the other ranks only read the checkpoint
    if (options_.resume) resume_from_checkpoint();
    return;
  }
  bool created = false;
  if (options_.overwrite && folder_existed_) fs::remove_all(dir_);
  if (!options_.resume) {
    fs::create_directories(dir_);
    created = true;
  }
  try {
    // The checkpoint loads before anything is rewritten: a resume that fails leaves the folder as it was.
    if (options_.resume) resume_from_checkpoint();
    const std::string resolved = to_toml(config_.resolved);
    write_file_atomic(dir_ / "recipe.resolved.toml",
                      "# Every key of this run, defaults filled in.\n" + resolved);
    fs::copy_file(corpus_.tokenizer.model_path(), dir_ / "tokenizer.model",
                  fs::copy_options::overwrite_existing);
    if (options_.resume) {
      truncate_metrics(dir_ / "metrics.jsonl", state_.step);
      progress_.line("resumed at step " + std::to_string(state_.step));
    } else {
      std::ofstream(dir_ / "metrics.jsonl", std::ios::trunc);
    }
    tensorboard_.emplace(dir_ / "tb", resolved, read_json_lines(dir_ / "metrics.jsonl"));
  } catch (...) {
    if (created) fs::remove_all(dir_);
    throw;
  }
}

// The checkpoint's state, and the training figures summed since its last evaluation, so the first
// metrics line after the resume averages the same steps as an uninterrupted run's.
void TrainingRun::resume_from_checkpoint() {
  state_ = load_checkpoint(checkpoint_dir_, model_, *optimizer_, config_.train.steps);
  totals_.loss_sum = state_.running.loss_sum;
  totals_.steps = state_.running.loss_count;
  totals_.aux_sum = state_.running.aux_sum;
  totals_.stat_sum = state_.running.stat_sum;
}

}  // namespace lab
