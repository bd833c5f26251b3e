// lab bench --nproc N: tokens/s of 1 against N data-parallel ranks and the communication share.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lab::app {

struct BenchRanksRequest {
  std::string recipe;
  std::vector<std::string> sets, plugin_paths;
  int nproc = 2;
  int64_t warmup = 2, steps = 5;  // trained steps: warmup + steps (all count in tokens/s)
  bool json = false;
};

int run_bench_ranks(const BenchRanksRequest& request);

}  // namespace lab::app
