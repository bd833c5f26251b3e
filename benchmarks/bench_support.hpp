// What the benchmark programs share: the build tree's plugins, and a main that sets LibTorch's threads.
#pragma once

#include "registry/registry.hpp"
#include "util/system.hpp"

#include <lab_build_config.hpp>

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <string>

namespace lab::bench {

// The plugins of this build, loaded once.
inline PluginRegistry& registry() {
  static PluginRegistry* reg = [] {
    auto* r = new PluginRegistry();
    r->load_directories(plugin_search_path({std::string(LAB_BUILD_DIR) + "/plugins"}, {}));
    return r;
  }();
  return *reg;
}

// The body of each program's main: Google Benchmark on the machine's cores.
inline int run(int argc, char** argv) {
  at::set_num_threads(default_thread_count());  // Debian's LibTorch would use one thread
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace lab::bench
