// lab bench RECIPE --compare RECIPE2: two models benchmarked side by side, their timed rounds
// interleaved (A B, B A, A B, ...), and the ratio of their tokens/s.
#pragma once

#include "train/benchmark.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace lab::app {

struct BenchCompareRequest {
  std::string recipe, compare_recipe;
  std::vector<std::string> sets, compare_sets;  // --set applies to the first, --compare-set to the second
  std::vector<std::string> plugin_paths;
  BenchmarkOptions options;  // warm-up, steps per round, data, precision and peak size, for both
  std::string data, precision;
  int64_t rounds = 5;
  bool json = false;
};

int run_bench_compare(const BenchCompareRequest& request);

}  // namespace lab::app
