// A sweep: the cartesian product of a recipe's [sweep] values, times its `seeds`, as one recipe per run.
#pragma once

#include "recipe/recipe.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace lab {

struct SweepRun {
  size_t index = 0;                                    // position in the whole sweep (shards split by it)
  std::string variant;                                 // experiment.variant of the run
  int64_t seed = 0;                                    // train.seed of the run
  std::vector<std::pair<std::string, Value>> choices;  // the swept keys' values of this variant
  Recipe recipe;  // the base recipe with the choices, variant and seed laid over it
};

// Expands `recipe`'s [sweep] table and `seeds` list. Variants are named after the swept values
// ("attention.plugin-mla+rope.theta-50000"), or take the recipe's experiment.variant when nothing is
// swept. Runs are ordered variant by variant (first swept key outermost), seeds innermost. Throws
// lab::InputError for an empty value list or a sweep key that is not a list.
std::vector<SweepRun> expand_sweep(const Recipe& recipe);

struct Shard {
  int64_t index = 0;  // 0-based
  int64_t count = 1;
};

// Parses "i/n" (0 <= i < n); throws lab::InputError otherwise.
Shard parse_shard(const std::string& text);

// The runs of one shard: every run whose index is congruent to shard.index modulo shard.count.
std::vector<SweepRun> shard_runs(const std::vector<SweepRun>& runs, const Shard& shard);

// A folder-name-safe text for a value: strings as written, numbers in their shortest form.
std::string value_label(const Value& value);

}  // namespace lab
