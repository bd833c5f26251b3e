// state.json of a checkpoint: the position of the run and its running averages.
#pragma once

#include "train/checkpoint.hpp"

#include <filesystem>
#include <string>

namespace lab {

std::string state_json_text(const TrainingState& state);
// Throws lab::InputError naming the file for bad JSON, a missing or mistyped field, or a step outside
// [0, total_steps] (total_steps < 0: unchecked).
TrainingState read_state_json(const std::filesystem::path& file, int64_t total_steps);

}  // namespace lab
