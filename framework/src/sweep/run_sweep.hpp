// Plans and trains the runs of a sweep, skipping finished runs and resuming stopped ones.
#pragma once

#include "recipe/config.hpp"
#include "registry/registry.hpp"
#include "sweep/sweep.hpp"
#include "train/trainer.hpp"

#include <filesystem>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

namespace lab {

enum class RunState {
  New,       // no folder yet
  Stopped,   // a checkpoint to resume from
  Broken,    // a folder without checkpoint or summary (stopped before its first checkpoint): redone
  Finished,  // summary.json written: skipped
};
const char* to_string(RunState state);

struct PlannedRun {
  SweepRun run;
  Config config;
  std::filesystem::path dir;
  RunState state = RunState::New;
};

struct SweepPlan {
  std::vector<std::unique_ptr<PluginRegistry>> registries;  // keep the plugins the configs point into
  std::vector<PlannedRun> runs;
};

// Validates every run's configuration before anything trains (all problems of all runs, one per
// line) and finds each run's state from its folder. Throws lab::InputError when two runs would share
// a folder.
SweepPlan plan_sweep(const std::vector<SweepRun>& runs, const std::vector<std::string>& plugin_paths);

struct SweepOutcome {
  size_t finished_before = 0;  // skipped
  size_t trained = 0;          // finished now
  size_t stopped = 0;          // stopped early (stop_after or an interrupt)
};

// Trains the plan's unfinished runs in order; `options.resume`/`overwrite` are chosen per run.
SweepOutcome run_sweep(const SweepPlan& plan, const TrainOptions& options, std::ostream& log);

}  // namespace lab
