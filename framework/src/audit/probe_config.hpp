// The configuration the causality audit builds its models from: the recipe's plugins with their keys,
// at a shape small enough to probe in seconds on a CPU.
#pragma once

#include "recipe/config.hpp"
#include "recipe/recipe.hpp"

#include <string>
#include <vector>

namespace lab {

class PluginRegistry;

struct ProbeShape {
  std::vector<std::string> changes;  // "model.d_model 256 -> 64", one per dimension that was shrunk
  std::vector<std::string> kept;     // dimensions left at the recipe's value because a plugin refuses less
};

constexpr int64_t kProbeVocab = 64;

// Shrinks config.dims in place: n_layers to 2, d_model and seq_len to the smallest of 64, 128, ... below
// their value that every plugin's validator still accepts (DSA's top_k must stay below seq_len, MLA's
// kv_lora_rank below d_model), and the vocabulary to kProbeVocab. Plugin keys stay as they are; an
// expert width left to its default (4 x d_model) follows d_model.
ProbeShape shrink_for_probe(Config& config);

struct ProbeSetup {
  Config config;
  ProbeShape shape;
};

// Resolves `recipe` as training would (InputError for a bad recipe), then shrinks it for the probe.
ProbeSetup probe_setup(const Recipe& recipe, const std::vector<std::string>& plugin_paths,
                       PluginRegistry& registry);

}  // namespace lab
