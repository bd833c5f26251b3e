// Checkpoints: model, optimizer, RNG and position, written to a temporary folder and swapped in whole.
#pragma once

#include "model/model.hpp"
#include "train/optimizer.hpp"

#include <filesystem>

namespace lab {

struct TrainingState {
  int64_t step = 0;          // optimizer steps completed
  int64_t tokens = 0;        // training tokens consumed
  double train_seconds = 0;  // wall time spent training (evaluation excluded)
  double wall_seconds = 0;   // wall time since the run started, summed over resumed sessions
};

void save_checkpoint(const std::filesystem::path& dir, LanguageModel& model, Optimizer& optimizer,
                     const TrainingState& state);
// Throws lab::InputError when the folder is missing or does not match the model.
TrainingState load_checkpoint(const std::filesystem::path& dir, LanguageModel& model, Optimizer& optimizer);

// The state of every device's default generator (the CPU's and each visible CUDA device's), so a
// resumed run draws the same dropout masks and router noise on any device.
void save_generators(const std::filesystem::path& file);
void load_generators(const std::filesystem::path& file);

void save_model(const std::filesystem::path& file, LanguageModel& model);
void load_model(const std::filesystem::path& file, LanguageModel& model);

}  // namespace lab
