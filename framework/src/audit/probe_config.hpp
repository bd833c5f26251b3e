// The configuration the causality audit builds its models from: the recipe's plugins with their keys,
// at a shape small enough to probe in seconds on a CPU.
#pragma once

#include "recipe/config.hpp"
#include "recipe/recipe.hpp"

#include <string>
#include <vector>

namespace lab {

class PluginRegistry;

struct ProbeSetup {
  Config config;                     // vocab_size set to kProbeVocab
  std::vector<std::string> changes;  // "model.d_model 256 -> 64", one per key that was shrunk
  std::vector<std::string> kept;     // keys left at the recipe's value because the plugins refuse less
};

constexpr int64_t kProbeVocab = 64;

// Resolves `recipe` as training would (InputError for a bad recipe), then shrinks model.n_layers to 2
// and model.d_model and model.seq_len to the smallest of 64, 128, ... below the recipe's value that the
// plugins' validators still accept (DSA's top_k must stay below seq_len, for one).
ProbeSetup probe_setup(const Recipe& recipe, const std::vector<std::string>& plugin_paths,
                       PluginRegistry& registry);

}  // namespace lab
