// Runs one configuration end to end: data, model, stages, evaluation, checkpoints and the run folder.
#pragma once

#include "recipe/config.hpp"

#include <torch/types.h>

#include <filesystem>

namespace lab {

struct TrainOptions {
  bool resume = false;     // continue from the run folder's checkpoint
  bool overwrite = false;  // replace an existing run folder
  int64_t stop_after = 0;  // stop with a checkpoint once this many steps are done (0: run to the end)
  bool quiet = false;      // no progress lines
};

struct RunResult {
  std::filesystem::path run_dir;
  bool finished = false;  // false when stopped early (stop_after or an interrupt)
  int64_t step = 0;
};

// The device train.device names ("auto": CUDA when available); InputError if CUDA is asked for but absent.
torch::Device pick_device(const std::string& wanted);

// The folder a configuration trains into: <run.dir>/<experiment>/<variant>/seed-<train.seed>.
std::filesystem::path run_directory(const Config& config);

// Throws lab::InputError for bad data or an existing run folder (without resume/overwrite).
RunResult train(const Config& config, const TrainOptions& options);

}  // namespace lab
