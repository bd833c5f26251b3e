#include "commands.hpp"

#include <lab/error.hpp>

#include <lab_build_config.hpp>

#include <cstdio>
#include <cstring>
#include <string>

namespace lab::app {

namespace {
const char* kUsage =
    "usage: lab --recipe FILE [--set section.key=value]... [options]   train a recipe\n"
    "       lab plugins [NAME] [--plugin-path DIR]...                  list plugins, or one plugin's keys\n"
    "       lab bench RECIPE [--set section.key=value]... [--json]      training speed, FLOPs and MFU\n"
    "       lab --help | --version\n"
    "run `lab --help` or `lab plugins --help` for the options\n";
}

int dispatch(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::string first = argv[1];
  if (first == "--version") {
    std::printf("lab %s\n", LAB_VERSION);
    return 0;
  }
  if (first == "plugins") return run_plugins(argc - 1, argv + 1);
  if (first == "train") return run_train(argc - 1, argv + 1);
  if (first == "bench") return run_bench(argc - 1, argv + 1);
  if (!first.empty() && first[0] == '-') return run_train(argc, argv);
  throw InputError("unknown command '" + first + "' (commands: train, plugins, bench; or --recipe FILE)");
}

}  // namespace lab::app
