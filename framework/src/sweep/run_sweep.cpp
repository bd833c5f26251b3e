#include "sweep/run_sweep.hpp"

#include "sweep/eta.hpp"
#include "train/checkpoint.hpp"

#include <lab/error.hpp>

#include <map>
#include <ostream>

namespace lab {

namespace fs = std::filesystem;

const char* to_string(RunState state) {
  switch (state) {
    case RunState::New:
      return "new";
    case RunState::Stopped:
      return "resume";
    case RunState::Broken:
      return "redo";
    case RunState::Finished:
      return "done";
  }
  return "";
}

namespace {

RunState state_of(const fs::path& dir) {
  if (fs::exists(dir / "summary.json")) return RunState::Finished;
  if (any_checkpoint(dir / "checkpoint")) return RunState::Stopped;
  if (fs::exists(dir)) return RunState::Broken;
  return RunState::New;
}

}  // namespace

SweepPlan plan_sweep(const std::vector<SweepRun>& runs, const std::vector<std::string>& plugin_paths) {
  SweepPlan plan;
  std::string problems;
  std::map<fs::path, std::string> owners;
  for (const auto& run : runs) {
    plan.registries.push_back(std::make_unique<PluginRegistry>());
    PlannedRun planned;
    planned.run = run;
    try {
      planned.config = resolve_config(run.recipe, plugin_paths, *plan.registries.back());
    } catch (const InputError& err) {
      // Every variant usually repeats the same problem; report each line once.
      std::string text = err.what();
      if (problems.find(text) == std::string::npos) problems += (problems.empty() ? "" : "\n") + text;
      continue;
    }
    planned.dir = run_directory(planned.config);
    std::string who = run.variant + " seed " + std::to_string(run.seed);
    auto [it, fresh] = owners.emplace(planned.dir.lexically_normal(), who);
    if (!fresh)
      throw InputError("sweep: runs '" + it->second + "' and '" + who + "' would both write " +
                       planned.dir.string());
    planned.state = state_of(planned.dir);
    plan.runs.push_back(std::move(planned));
  }
  if (!problems.empty()) throw InputError(problems);
  return plan;
}

SweepOutcome run_sweep(const SweepPlan& plan, const TrainOptions& options, std::ostream& log) {
  SweepOutcome outcome;
  size_t n = 0, to_train = 0;
  for (const auto& planned : plan.runs) to_train += state_of(planned.dir) != RunState::Finished;
  SweepEta eta(to_train);
  for (const auto& planned : plan.runs) {
    ++n;
    const std::string head = "[" + std::to_string(n) + "/" + std::to_string(plan.runs.size()) + "] " +
                             planned.run.variant + " seed " + std::to_string(planned.run.seed) + ": ";
    // The folder may have changed since planning (another shard, an earlier pass).
    const RunState state = state_of(planned.dir);
    if (state == RunState::Finished) {
      log << head << "finished before, skipped\n" << std::flush;
      ++outcome.finished_before;
      continue;
    }
    log << head
        << (state == RunState::Stopped  ? "resuming"
            : state == RunState::Broken ? "restarting"
                                        : "training")
        << " in " << planned.dir.string() << " | " << eta.describe() << "\n"
        << std::flush;
    TrainOptions run_options = options;
    run_options.resume = state == RunState::Stopped;
    run_options.overwrite = state == RunState::Broken;
    eta.start_run();
    RunResult result = train(planned.config, run_options);
    eta.finish_run();
    if (result.finished) {
      ++outcome.trained;
    } else {
      ++outcome.stopped;
      break;  // an interrupt or stop_after ends the sweep; a second call picks it up here
    }
  }
  return outcome;
}

}  // namespace lab
