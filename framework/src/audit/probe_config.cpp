#include "audit/probe_config.hpp"

#include "registry/registry.hpp"

#include <lab/error.hpp>

#include <iostream>

namespace lab {

namespace {

// Silences std::cerr while trial shapes are resolved: their warnings repeat the recipe's own.
class QuietErrors {
 public:
  QuietErrors() : saved_(std::cerr.rdbuf(nullptr)) {}
  ~QuietErrors() {
    std::cerr.rdbuf(saved_);
    std::cerr.clear();
  }

 private:
  std::streambuf* saved_;
};

int64_t current(const Config& c, const std::string& key) {
  if (key == "model.n_layers") return c.dims.n_layers;
  if (key == "model.d_model") return c.dims.d_model;
  return c.dims.seq_len;
}

std::vector<int64_t> candidates(const std::string& key, int64_t value) {
  if (key == "model.n_layers") return value > 2 ? std::vector<int64_t>{2} : std::vector<int64_t>{};
  std::vector<int64_t> out;
  for (int64_t v = 64; v < value; v *= 2) out.push_back(v);
  return out;
}

}  // namespace

ProbeSetup probe_setup(const Recipe& recipe, const std::vector<std::string>& plugin_paths,
                       PluginRegistry& registry) {
  ProbeSetup setup;
  setup.config = resolve_config(recipe, plugin_paths, registry);
  Recipe shrunk = recipe;
  for (const std::string key : {"model.n_layers", "model.d_model", "model.seq_len"}) {
    const int64_t original = current(setup.config, key);
    const auto tries = candidates(key, original);
    bool done = tries.empty();
    for (int64_t v : tries) {
      Recipe trial = shrunk;
      trial.set(key + "=" + std::to_string(v));
      try {
        QuietErrors quiet;
        setup.config = resolve_config(trial, plugin_paths, registry);
      } catch (const InputError&) {
        continue;
      }
      shrunk = trial;
      setup.changes.push_back(key + " " + std::to_string(original) + " -> " + std::to_string(v));
      done = true;
      break;
    }
    if (!done) setup.kept.push_back(key + " " + std::to_string(original));
  }
  setup.config.dims.vocab_size = kProbeVocab;
  return setup;
}

}  // namespace lab
