// Checkpoints: model, optimizer, RNG and position. Written into checkpoint.tmp/ with synced files and a
// manifest of checksums, then swapped in by renames; the one before stays as checkpoint.prev/. Loading
// verifies the checksums and falls back to the newest copy that verifies, so a kill at any moment
// leaves a checkpoint that loads.
#pragma once

#include "model/model.hpp"
#include "train/optimizer.hpp"

#include <filesystem>
#include <map>
#include <string>

namespace lab {

// The training figures summed since the last evaluation, so a resumed run's next metrics line
// averages over the same steps as an uninterrupted run's.
struct RunningAverages {
  double loss_sum = 0;
  int64_t loss_count = 0;
  std::map<std::string, double> aux_sum, stat_sum;
  int64_t stat_count = 0;
};

struct TrainingState {
  int64_t step = 0;          // optimizer steps completed
  int64_t tokens = 0;        // training tokens consumed
  double train_seconds = 0;  // wall time spent training (evaluation excluded)
  double wall_seconds = 0;   // wall time since the run started, summed over resumed sessions
  RunningAverages running;
};

void save_checkpoint(const std::filesystem::path& dir, LanguageModel& model, Optimizer& optimizer,
                     const TrainingState& state);
// Throws lab::InputError when no copy verifies, one does not match the model, or its step lies
// outside [0, total_steps] (total_steps < 0: unchecked). Warns when it falls back to an older copy.
TrainingState load_checkpoint(const std::filesystem::path& dir, LanguageModel& model, Optimizer& optimizer,
                              int64_t total_steps = -1);
// Whether `dir` or a finished copy a crash can leave beside it exists (not whether it verifies); a
// half-written first checkpoint does not count.
bool any_checkpoint(const std::filesystem::path& dir);

// The state of every device's default generator (the CPU's and each visible CUDA device's), so a
// resumed run draws the same dropout masks and router noise on any device.
void save_generators(const std::filesystem::path& file);
void load_generators(const std::filesystem::path& file);

void save_model(const std::filesystem::path& file, LanguageModel& model);
// Also checks the file against its folder's manifest: damage is told apart from a different model.
void load_model(const std::filesystem::path& file, LanguageModel& model);

}  // namespace lab
