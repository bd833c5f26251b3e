// Checks around a training run's folder that keep bad input from leaving anything behind: the folder
// can be created, a resume continues the same model, a failed new run leaves no folder.
#pragma once

#include "recipe/config.hpp"
#include "train/trainer.hpp"

#include <filesystem>

namespace lab {

// Throws lab::InputError naming run.dir when the run folder cannot be created or written in.
void check_run_folder_writable(const Config& config);

// For --resume: a folder stopped before its first checkpoint starts again from step 0 (with a
// warning); otherwise the model's shape keys must match the run's. Adjusts `options`.
void prepare_resume(const Config& config, TrainOptions& options);

// The deepest part of `dir` that exists now (what a failed run must not remove).
std::filesystem::path existing_part(const std::filesystem::path& dir);

// After a failure: removes a run folder this process created unless it holds a checkpoint to resume,
// and the emptied folders above it up to `existing` (from existing_part before the run).
void discard_failed_run(const std::filesystem::path& dir, const std::filesystem::path& existing);

}  // namespace lab
