// A resumed run must build the model its checkpoint holds: the keys that shape the model or the
// tokenizer are compared with the run's recipe.resolved.toml before anything is loaded or rewritten.
#pragma once

#include "recipe/config.hpp"

#include <filesystem>

namespace lab {

// Throws lab::InputError naming every differing key, its new value and where it was set.
void check_resume_matches(const Config& config, const std::filesystem::path& run_dir);

}  // namespace lab
