// Writes a trained run's weights as safetensors, with a JSON description of the model beside them.
#pragma once

#include "run/load_run.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>

namespace lab {

// <out_dir>/model.safetensors (every parameter and buffer under the model's own names, float32 as
// trained) and <out_dir>/config.json (shapes, plugins with their keys, the resolved recipe).
void export_safetensors(const LoadedRun& run, const std::filesystem::path& out_dir);

// The description written to config.json.
nlohmann::json export_config(const LoadedRun& run);

// Copies tensors from a model.safetensors into `model` by name; throws lab::InputError naming the
// first missing, unexpected or misshapen tensor.
void load_safetensors_weights(LanguageModel& model, const std::filesystem::path& file);

}  // namespace lab
