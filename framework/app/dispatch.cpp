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
    "       lab parity FILE... [--attention NAME] [--kernel NAME]          check plugins against reference "
    "outputs\n"
    "       lab eval RUN_DIR [--seq-len N]                                 evaluate a trained run\n"
    "       lab params --recipe FILE [--set ...]                           parameter counts of a recipe's "
    "model\n"
    "       lab sweep RECIPE [--shard i/n] [--dry-run] [--emit slurm]      train every variant x seed\n"
    "       lab compare DIR... [--out DIR]                                 compare runs over seeds\n"
    "       lab generate RUN_DIR --prompt TEXT                             sample text from a trained run\n"
    "       lab export RUN_DIR --format safetensors                        write a run's weights\n"
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
  if (first == "parity") return run_parity(argc - 1, argv + 1);
  if (first == "eval") return run_eval(argc - 1, argv + 1);
  if (first == "params") return run_params(argc - 1, argv + 1);
  if (first == "sweep") return run_sweep(argc - 1, argv + 1);
  if (first == "compare") return run_compare(argc - 1, argv + 1);
  if (first == "generate") return run_generate(argc - 1, argv + 1);
  if (first == "export") return run_export(argc - 1, argv + 1);
  if (!first.empty() && first[0] == '-') return run_train(argc, argv);
  throw InputError("unknown command '" + first +
                   "' (commands: train, plugins, parity, eval, params, sweep, compare, generate, export; or "
                   "--recipe FILE)");
}

}  // namespace lab::app
