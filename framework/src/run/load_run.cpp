#include "run/load_run.hpp"

#include "recipe/recipe.hpp"
#include "train/checkpoint.hpp"

#include <lab/error.hpp>

#include <nlohmann/json.hpp>

#include <fstream>

namespace lab {

namespace fs = std::filesystem;

namespace {

// Relative data paths in the recipe were relative to the recipe the run was trained from, which
// summary.json names; without it they are taken relative to the run folder.
fs::path original_recipe(const fs::path& dir) {
  std::ifstream in(dir / "summary.json");
  if (!in) return {};
  try {
    auto summary = nlohmann::json::parse(in);
    return fs::path(summary.value("recipe", std::string()));
  } catch (const nlohmann::json::exception&) {
    throw InputError((dir / "summary.json").string() + ": not valid JSON");
  }
}

}  // namespace

LoadedRun load_run(const fs::path& dir, const LoadRunOptions& options) {
  const fs::path recipe_file = dir / "recipe.resolved.toml";
  const fs::path weights = dir / "checkpoint" / "model.pt";
  if (!fs::is_directory(dir)) throw InputError(dir.string() + ": no such run folder");
  if (!fs::exists(recipe_file))
    throw InputError(dir.string() + ": not a run folder (no recipe.resolved.toml)");
  if (!fs::exists(weights)) throw InputError(dir.string() + ": has no trained weights (checkpoint/model.pt)");

  LoadedRun run;
  run.registry = std::make_unique<PluginRegistry>();
  run.dir = dir;
  Recipe recipe = Recipe::load(recipe_file);
  for (const auto& assignment : options.sets) recipe.set(assignment);
  run.config = resolve_config(recipe, options.plugin_paths, *run.registry);
  run.config.recipe_file = run_recipe_file(dir, run.config.recipe_file);

  run.model = LanguageModel(run.config);
  load_model(weights, run.model);
  run.model->eval();
  return run;
}

fs::path run_recipe_file(const fs::path& dir, const fs::path& fallback) {
  const fs::path source = original_recipe(dir);
  return source.empty() ? fallback : source;
}

Corpus load_run_corpus(const LoadedRun& run) {
  const Config& config = run.config;
  auto dataset = config.dataset.descriptor->make_dataset(config.dataset.options,
                                                         DatasetContext{config.recipe_file.parent_path()});
  return prepare_corpus(*dataset, config.data, default_cache_dir(config.data.tokenizer_cache));
}

}  // namespace lab
