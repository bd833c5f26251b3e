// lab sweep RECIPE: trains every variant x seed of a recipe's [sweep], one run folder each.
#include "command_line.hpp"
#include "commands.hpp"

#include "run/files.hpp"
#include "sweep/run_sweep.hpp"
#include "sweep/slurm.hpp"
#include "sweep/sweep.hpp"
#include "sweep/vary.hpp"

#include <lab/error.hpp>

#include <boost/program_options.hpp>

#include <cstdio>
#include <iostream>

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace lab::app {

namespace {

void print_plan(const SweepPlan& plan, size_t total) {
  std::printf("%zu of %zu runs\n", plan.runs.size(), total);
  std::printf("%5s  %-6s  %-40s  %6s  %s\n", "run", "state", "variant", "seed", "folder");
  for (const auto& p : plan.runs)
    std::printf("%5zu  %-6s  %-40s  %6lld  %s\n", p.run.index, to_string(p.state), p.run.variant.c_str(),
                static_cast<long long>(p.run.seed), p.dir.string().c_str());
}

}  // namespace

int run_sweep(int argc, char** argv) {
  po::options_description opts("lab sweep RECIPE [options]");
  opts.add_options()("help,h", "show this help")("recipe", po::value<std::string>(),
                                                 "TOML recipe with [sweep]")(
      "preset", po::value<std::string>(), "apply the recipe's [presets.NAME] overrides (before --set)")(
      "set,s", po::value<std::vector<std::string>>()->composing(), "override a key (repeatable)")(
      "vary", po::value<std::vector<std::string>>()->composing(),
      "add or replace a sweep axis: section.key=v1,v2,... (repeatable; after --set)")(
      "plugin-path,P", po::value<std::vector<std::string>>()->composing(),
      "extra plugin folder (repeatable)")("shard", po::value<std::string>(),
                                          "run only shard i/n (0 <= i < n) of the runs")(
      "dry-run", "list the runs and their state; train nothing")(
      "emit", po::value<std::string>(), "write a job script instead of training: slurm")(
      "shards", po::value<int64_t>(), "array tasks of the emitted script (default: one per run)")(
      "sbatch", po::value<std::vector<std::string>>()->composing(),
      "extra #SBATCH option of the emitted script, e.g. --sbatch=--gres=gpu:1 (repeatable)")(
      "output,o", po::value<std::string>(),
      "file of the emitted script (default: <run.dir>/<experiment>/sweep.slurm)")(
      "stop-after", po::value<int64_t>()->default_value(0), "stop a run with a checkpoint after N steps")(
      "quiet,q", "no progress output from training");
  po::positional_options_description positional;
  positional.add("recipe", 1);
  auto vm = parse_command_line(argc, argv, opts, positional, "lab sweep");
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  if (!vm.count("recipe")) throw InputError("lab sweep: a recipe is required (see lab sweep --help)");
  if (vm["stop-after"].as<int64_t>() < 0) throw InputError("--stop-after must not be negative");
  if (vm.count("emit") && vm["emit"].as<std::string>() != "slurm")
    throw InputError("--emit " + vm["emit"].as<std::string>() + ": unknown script kind (choices: slurm)");
  if (vm.count("emit") && vm.count("shard")) throw InputError("--emit and --shard exclude each other");

  const std::string recipe_file = vm["recipe"].as<std::string>();
  Recipe recipe = recipe_of(vm);
  for (const auto& axis : strings_of(vm, "vary")) apply_vary(recipe, axis);
  const std::vector<SweepRun> all = expand_sweep(recipe);
  std::vector<SweepRun> runs = all;
  if (vm.count("shard")) runs = shard_runs(all, parse_shard(vm["shard"].as<std::string>()));
  const std::vector<std::string> plugin_paths = strings_of(vm, "plugin-path");
  SweepPlan plan = plan_sweep(runs, plugin_paths);

  if (vm.count("emit")) {
    const int64_t shards = vm.count("shards") ? vm["shards"].as<int64_t>() : static_cast<int64_t>(all.size());
    if (shards < 1) throw InputError("--shards must be at least 1");
    const Config& first = plan.runs.front().config;
    const fs::path experiment_dir = fs::absolute(fs::path(first.runs_dir) / first.experiment);
    SlurmJob job;
    job.job_name = "lab-" + first.experiment;
    job.shards = shards;
    job.workdir = fs::current_path();
    job.log_dir = experiment_dir;
    job.command = {fs::read_symlink("/proc/self/exe").string(), "sweep", fs::absolute(recipe_file).string()};
    if (vm.count("preset")) job.command.push_back("--preset=" + vm["preset"].as<std::string>());
    for (const auto& s : strings_of(vm, "set")) job.command.push_back("--set=" + s);
    for (const auto& v : strings_of(vm, "vary")) job.command.push_back("--vary=" + v);
    for (const auto& p : plugin_paths) job.command.push_back("--plugin-path=" + fs::absolute(p).string());
    job.sbatch = strings_of(vm, "sbatch");
    const fs::path out =
        vm.count("output") ? fs::path(vm["output"].as<std::string>()) : experiment_dir / "sweep.slurm";
    if (out.has_parent_path()) fs::create_directories(out.parent_path());
    write_file_atomic(out, slurm_array_script(job));
    fs::permissions(out, fs::perms::owner_exec | fs::perms::group_exec, fs::perm_options::add);
    std::printf("wrote %s: %lld array tasks over %zu runs; submit with: sbatch %s\n", out.string().c_str(),
                static_cast<long long>(shards), all.size(), out.string().c_str());
    return 0;
  }
  if (vm.count("dry-run")) {
    print_plan(plan, all.size());
    return 0;
  }
  TrainOptions options;
  options.stop_after = vm["stop-after"].as<int64_t>();
  options.quiet = vm.count("quiet") != 0;
  SweepOutcome outcome = run_sweep(plan, options, std::cout);
  std::printf("sweep: %zu trained, %zu finished before, %zu stopped, %zu not reached\n", outcome.trained,
              outcome.finished_before, outcome.stopped,
              plan.runs.size() - outcome.trained - outcome.finished_before - outcome.stopped);
  return outcome.stopped ? 3 : 0;
}

}  // namespace lab::app
