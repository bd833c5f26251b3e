// The validated configuration of one run: every key typed, defaults filled, plugins resolved.
#pragma once

#include "recipe/recipe.hpp"
#include "train/optimizer.hpp"

#include <lab/dims.hpp>
#include <lab/options.hpp>
#include <lab/plugin.hpp>

#include <string>
#include <vector>

namespace lab {

class PluginRegistry;

struct SlotChoice {
  std::string section;  // recipe section: attention, kernel, rope, router, sparse, data
  std::string plugin;   // "none" leaves an optional slot empty
  const PluginDescriptor* descriptor = nullptr;
  Options options;
};

struct StageConfig {
  std::string name;
  int64_t steps = 0;
  double lr = 0;
  int64_t warmup_steps = 0;
  std::vector<std::string> groups;  // parameter groups that train; "all" for everything
  std::string mode;                 // handed to plugins (e.g. the sparse slot) when the stage starts
};

struct TrainConfig {
  OptimizerSettings optimizer;
  int64_t steps = 0;  // sum over stages
  int64_t batch_size = 0;
  int64_t accum_steps = 1;
  double min_lr_ratio = 0.1;
  double grad_clip = 1.0;
  int64_t seed = 0;
  std::string device;
  int64_t threads = 0;
  int64_t log_every = 10;
  int64_t checkpoint_every = 0;
  std::vector<StageConfig> stages;
};

struct EvalConfig {
  int64_t every = 0;
  int64_t max_batches = 0;  // 0: the whole validation split
  int64_t batch_size = 0;
};

struct DataConfig {
  double val_fraction = 0.1;
  int64_t split_seed = 0;
  int64_t max_documents = 0;
  int64_t vocab_size = 0;
  std::string tokenizer_cache;
};

struct Config {
  std::filesystem::path recipe_file;
  std::string experiment;
  std::string variant;
  ModelDims dims;
  double init_std = 0.02;
  double attention_dropout = 0.0;
  SlotChoice attention, kernel, rope, router, sparse, dataset;
  DataConfig data;
  TrainConfig train;
  EvalConfig eval;
  std::string runs_dir;
  bool audit_causality = true;  // the exact causality probe before training (lab audit's check a)
  std::vector<std::string> plugin_paths;
  std::vector<int64_t> seeds;
  std::map<std::string, Entry> resolved;  // every key, defaults filled: recipe.resolved.toml
};

// Validates `recipe` against the core schema and the chosen plugins' keys. The registry is loaded
// from the search path (command-line dirs first, then LAB_PLUGIN_PATH, the recipe's plugin_paths and
// the defaults). Throws lab::InputError listing every problem, one "file:line: key: message" per line.
Config resolve_config(const Recipe& recipe, const std::vector<std::string>& cli_plugin_paths,
                      PluginRegistry& registry);

// TOML text of resolved keys (dotted keys regrouped into tables, stages as [[train.stages]]).
std::string to_toml(const std::map<std::string, Entry>& entries);

// Closest candidate within a small edit distance, or "".
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace lab
