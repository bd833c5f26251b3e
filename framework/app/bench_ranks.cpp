// lab bench RECIPE --nproc N: short real trainings of the recipe with 1 and with N ranks (one thread
// each, the same batch per rank), compared by tokens/s and the share of the step spent communicating.
#include "bench_ranks.hpp"

#include "distributed/launcher.hpp"
#include "run/files.hpp"
#include "sweep/slurm.hpp"

#include <lab/error.hpp>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace lab::app {

namespace {

struct RanksFigures {
  double tokens_per_s = 0;
  double step_seconds = 0;
  double comm_seconds = 0;  // per step, rank 0
  int64_t global_batch = 0;
};

RanksFigures train_with(const BenchRanksRequest& request, int nproc, const fs::path& root) {
  const int64_t steps = request.warmup + request.steps;
  const fs::path runs = root / ("ranks-" + std::to_string(nproc));
  std::vector<std::string> args = {"--quiet", "--overwrite", "--recipe", request.recipe};
  for (const auto& p : request.plugin_paths) args.insert(args.end(), {"--plugin-path", p});
  for (const auto& s : request.sets) args.insert(args.end(), {"--set", s});
  for (const std::string& s : std::vector<std::string>{
           "train.threads=1", "train.steps=" + std::to_string(steps), "eval.every=" + std::to_string(steps),
           "eval.max_batches=1", "audit.causality=false", "experiment.name=bench", "experiment.variant=ranks",
           "run.dir=\"" + runs.string() + "\""})
    args.insert(args.end(), {"--set", s});
  LaunchPlan plan;
  plan.nproc = nproc;
  plan.master_addr = "127.0.0.1";
  plan.master_port = free_local_port();
  plan.program = fs::canonical("/proc/self/exe");
  plan.args = args;
  if (const int code = launch_ranks(plan); code != 0)
    throw std::runtime_error("lab bench: the " + std::to_string(nproc) + "-rank training failed (exit code " +
                             std::to_string(code) + ")");
  fs::path summary_file;
  for (const auto& entry : fs::recursive_directory_iterator(runs))
    if (entry.path().filename() == "summary.json") summary_file = entry.path();
  const auto summary = read_json(summary_file);
  RanksFigures f;
  f.tokens_per_s = summary["tokens_per_s"].get<double>();
  f.step_seconds = summary["train_seconds"].get<double>() / static_cast<double>(steps);
  f.comm_seconds = summary["distributed"]["comm_seconds_per_step"].get<double>();
  f.global_batch = summary["distributed"]["global_batch"].get<int64_t>();
  return f;
}

}  // namespace

int run_bench_ranks(const BenchRanksRequest& request) {
  if (request.nproc < 2) throw InputError("lab bench: --nproc must be at least 2 (it compares with 1 rank)");
  const fs::path root = fs::temp_directory_path() / ("lab-bench-ranks-" + std::to_string(::getpid()));
  fs::remove_all(root);
  RanksFigures one, many;
  try {
    one = train_with(request, 1, root);
    many = train_with(request, request.nproc, root);
  } catch (...) {
    fs::remove_all(root);
    throw;
  }
  fs::remove_all(root);
  const double speedup = one.tokens_per_s > 0 ? many.tokens_per_s / one.tokens_per_s : 0;
  const double share = many.step_seconds > 0 ? many.comm_seconds / many.step_seconds : 0;
  if (request.json) {
    std::cout << nlohmann::json{{"recipe", request.recipe},
                                {"nproc", request.nproc},
                                {"threads_per_rank", 1},
                                {"steps", request.warmup + request.steps},
                                {"one_rank",
                                 {{"tokens_per_s", one.tokens_per_s},
                                  {"step_s", one.step_seconds},
                                  {"global_batch", one.global_batch}}},
                                {"ranks",
                                 {{"tokens_per_s", many.tokens_per_s},
                                  {"step_s", many.step_seconds},
                                  {"comm_s_per_step", many.comm_seconds},
                                  {"global_batch", many.global_batch}}},
                                {"speedup", speedup},
                                {"comm_share", share}}
                     .dump(2)
              << "\n";
    return 0;
  }
  std::printf("lab bench %s --nproc %d (1 thread per rank, %lld steps, the recipe's data)\n",
              request.recipe.c_str(), request.nproc, static_cast<long long>(request.warmup + request.steps));
  std::printf("  1 rank      %8.0f tok/s | %.1f ms per step | global batch %lld\n", one.tokens_per_s,
              one.step_seconds * 1e3, static_cast<long long>(one.global_batch));
  std::printf("  %d ranks     %8.0f tok/s | %.1f ms per step | global batch %lld | %.2fx\n", request.nproc,
              many.tokens_per_s, many.step_seconds * 1e3, static_cast<long long>(many.global_batch), speedup);
  std::printf("  communication %.1f ms per step (%.1f %% of the step, rank 0)\n", many.comm_seconds * 1e3,
              100.0 * share);
  return 0;
}

}  // namespace lab::app
