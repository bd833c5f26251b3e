#include "command_line.hpp"
#include "commands.hpp"

#include "distributed/launcher.hpp"
#include "distributed/slurm_launch.hpp"

#include <lab/error.hpp>

#include <boost/program_options.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace lab::app {

namespace {

void parse_master(const std::string& text, LaunchPlan& plan) {
  const auto colon = text.rfind(':');
  const std::string port = colon == std::string::npos ? "" : text.substr(colon + 1);
  char* end = nullptr;
  const long value = port.empty() ? 0 : std::strtol(port.c_str(), &end, 10);
  if (colon == 0 || colon == std::string::npos || *end != '\0' || value < 1 || value > 65535)
    throw InputError("--master " + text + ": expected ADDRESS:PORT, e.g. node001:29500");
  plan.master_addr = text.substr(0, colon);
  plan.master_port = static_cast<int>(value);
}

}  // namespace

int run_launch(int argc, char** argv) {
  // Everything after "--" is the ranks' lab command line.
  int split = argc;
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--") == 0) {
      split = i;
      break;
    }
  po::options_description opts("lab launch --nproc N [options] -- <lab arguments>");
  opts.add_options()("help,h", "show this help")("nproc", po::value<int>(), "ranks on this machine")(
      "nnodes", po::value<int>()->default_value(1), "machines in the run")(
      "node-rank", po::value<int>()->default_value(0), "this machine's index among them")(
      "master", po::value<std::string>(),
      "ADDRESS:PORT of rank 0's machine (default with one machine: 127.0.0.1 and a free port)")(
      "no-pin", "do not give each rank its own share of the CPUs")(
      "emit", po::value<std::string>(), "slurm: print an sbatch script for the run instead of starting it")(
      "sbatch", po::value<std::vector<std::string>>()->composing(),
      "with --emit slurm: an extra #SBATCH option, e.g. --sbatch=--time=04:00:00 (repeatable)")(
      "out", po::value<std::string>(), "with --emit slurm: write the script here instead of stdout");
  auto vm = parse_command_line(split, argv, opts, po::positional_options_description(), "lab launch");
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  if (!vm.count("nproc")) throw InputError("lab launch: --nproc N is required (see lab launch --help)");
  LaunchPlan plan;
  plan.nproc = vm["nproc"].as<int>();
  plan.nnodes = vm["nnodes"].as<int>();
  plan.node_rank = vm["node-rank"].as<int>();
  plan.pin_cpus = vm.count("no-pin") == 0;
  if (plan.nproc < 1) throw InputError("lab launch: --nproc must be at least 1");
  if (plan.nnodes < 1) throw InputError("lab launch: --nnodes must be at least 1");
  if (plan.node_rank < 0 || plan.node_rank >= plan.nnodes)
    throw InputError("lab launch: --node-rank must be from 0 to --nnodes - 1 = " +
                     std::to_string(plan.nnodes - 1));
  for (int i = split + 1; i < argc; ++i) plan.args.emplace_back(argv[i]);
  if (plan.args.empty())
    throw InputError("lab launch: no lab arguments after --, e.g. lab launch --nproc 2 -- --recipe FILE");
  plan.program = fs::canonical("/proc/self/exe");

  if (vm.count("emit")) {
    if (vm["emit"].as<std::string>() != "slurm")
      throw InputError("lab launch: --emit " + vm["emit"].as<std::string>() + ": the only choice is slurm");
    SlurmRun run;
    run.nodes = plan.nnodes;
    run.tasks_per_node = plan.nproc;
    run.workdir = fs::current_path();
    run.program = plan.program;
    run.args = plan.args;
    run.sbatch = strings_of(vm, "sbatch");
    const std::string script = slurm_run_script(run);
    if (!vm.count("out")) {
      std::cout << script;
      return 0;
    }
    const fs::path out = vm["out"].as<std::string>();
    std::ofstream(out) << script;
    fs::permissions(out, fs::perms::owner_exec | fs::perms::group_exec, fs::perm_options::add);
    std::cerr << "wrote " << out.string() << " (submit with sbatch)\n";
    return 0;
  }
  if (vm.count("master"))
    parse_master(vm["master"].as<std::string>(), plan);
  else if (plan.nnodes > 1)
    throw InputError("lab launch: --master ADDRESS:PORT is required with --nnodes > 1");
  else {
    plan.master_addr = "127.0.0.1";
    plan.master_port = free_local_port();
  }
  return launch_ranks(plan);
}

}  // namespace lab::app
