#include "commands.hpp"

#include <lab/error.hpp>

#include <lab_build_config.hpp>

#include "util/blas_core.hpp"

#include <torch/version.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace lab::app {

namespace {

struct Command {
  const char* name;
  int (*run)(int argc, char** argv);
  const char* args;
  const char* what;
};

const Command kCommands[] = {
    {"train", run_train, "--recipe FILE [--set section.key=value]... [options]", "train a recipe"},
    {"plugins", run_plugins, "[NAME] [--plugin-path DIR]...", "list plugins, or one plugin's keys"},
    {"sweep", run_sweep, "RECIPE [--vary key=v1,v2]... [--shard i/n] [--dry-run]",
     "train every variant x seed"},
    {"compare", run_compare, "DIR... [--out DIR] [--baseline VARIANT]", "compare runs over seeds"},
    {"report", run_report, "DIR... [--out FILE] [--baseline VARIANT]",
     "one self-contained HTML page of runs"},
    {"generate", run_generate, "RUN_DIR --prompt TEXT [--temperature T]", "sample text from a trained run"},
    {"export", run_export, "RUN_DIR --format safetensors", "write a run's weights and config"},
    {"visualize", run_visualize, "RUN_DIR [--layer L] [--seq-len N]",
     "draw a sparse run's attention pictures"},
    {"bench", run_bench, "RECIPE [--set section.key=value]... [--json]", "training speed, FLOPs and MFU"},
    {"params", run_params, "--recipe FILE [--set ...]", "parameter counts of a recipe's model"},
    {"eval", run_eval, "RUN_DIR [--seq-len N,...]", "evaluate a trained run at other lengths"},
    {"parity", run_parity, "FILE... [--attention NAME] [--kernel NAME]",
     "check plugins against reference outputs"},
    {"audit", run_audit, "causality|data (--recipe FILE | RUN_DIR) [--json]",
     "check causality, validation overlap and epochs"},
    {"launch", run_launch, "--nproc N [--nnodes M --node-rank R --master A:P] -- ARGS",
     "data-parallel run over N local ranks"},
    {"profile", run_profile, "[--seq-lens 128,256,...] [--kernels a,b] ...",
     "time attention kernels across lengths"},
};

void print_usage() {
  std::fputs("usage: lab --recipe FILE [options]   (the same as lab train)\n", stderr);
  for (const auto& c : kCommands) std::fprintf(stderr, "       lab %-9s %-52s %s\n", c.name, c.args, c.what);
  std::fputs("       lab --help | --version\nrun `lab COMMAND --help` for a command's options\n", stderr);
}

}  // namespace

int dispatch(int argc, char** argv) {
  if (argc < 2) {
    print_usage();
    throw InputError("no command given (see the usage above)");
  }
  std::string first = argv[1];
  if (first == "--version") {
    std::printf("lab %s\nLibTorch %s\n%s\n", LAB_VERSION, TORCH_VERSION, describe(blas_info()).c_str());
    return 0;
  }
  for (const auto& c : kCommands)
    if (first == c.name) return c.run(argc - 1, argv + 1);
  if (!first.empty() && first[0] == '-') return run_train(argc, argv);
  std::string names;
  for (const auto& c : kCommands) names += (names.empty() ? "" : ", ") + std::string(c.name);
  throw InputError("unknown command '" + first + "' (commands: " + names + "; or --recipe FILE)");
}

}  // namespace lab::app
