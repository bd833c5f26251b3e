// Reopens a trained run folder: its resolved recipe, its model with trained weights, and its data.
#pragma once

#include "data/corpus.hpp"
#include "model/model.hpp"
#include "recipe/config.hpp"
#include "registry/registry.hpp"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace lab {

struct LoadedRun {
  // Declared first so it is destroyed last: the model's code lives in the plugin libraries.
  std::unique_ptr<PluginRegistry> registry;
  std::filesystem::path dir;
  Config config;
  LanguageModel model{nullptr};  // trained weights, on the CPU, in eval mode
};

struct LoadRunOptions {
  std::vector<std::string> sets;          // "section.key=value" laid over the run's recipe
  std::vector<std::string> plugin_paths;  // extra plugin folders
};

// Reads <dir>/recipe.resolved.toml (plus `sets`), builds the model and loads checkpoint/model.pt.
// Throws lab::InputError when the folder is not a run folder or the weights do not fit the model.
LoadedRun load_run(const std::filesystem::path& dir, const LoadRunOptions& options = {});

// The recipe file a run was trained from (summary.json names it; relative data paths resolve against
// it), or `fallback` when the run has no summary.
std::filesystem::path run_recipe_file(const std::filesystem::path& dir,
                                      const std::filesystem::path& fallback);

// The run's corpus, rebuilt exactly as training built it (same split, same cached tokenizer).
Corpus load_run_corpus(const LoadedRun& run);

}  // namespace lab
