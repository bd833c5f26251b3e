// lab sweep: expansion of [sweep] x seeds, shards, --dry-run, the Slurm script and resuming.
#include "sweep/run_sweep.hpp"
#include "sweep/sweep.hpp"
#include "test_support.hpp"
#include "tiny_run.hpp"

#include <lab/error.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

using namespace lab;
namespace fs = std::filesystem;

namespace {

Recipe sweep_recipe(const std::vector<std::string>& sets) {
  Recipe recipe = Recipe::empty("sweep.toml");
  for (const auto& s : sets) recipe.set(s);
  return recipe;
}

std::string value_of(const Recipe& r, const std::string& key) { return r.find(key)->value.repr(); }

}  // namespace

TEST(Sweep, CartesianProductTimesSeeds) {
  Recipe recipe =
      sweep_recipe({"sweep.moe.top_k=[1, 2]", "sweep.rope.theta=[10000.0, 50000.0, 0.5]", "seeds=[3, 4]"});
  std::vector<SweepRun> runs = expand_sweep(recipe);
  ASSERT_EQ(runs.size(), 12u);
  // First swept key (sorted) outermost, seeds innermost.
  EXPECT_EQ(runs[0].variant, "moe.top_k-1+rope.theta-10000");
  EXPECT_EQ(runs[1].variant, "moe.top_k-1+rope.theta-10000");
  EXPECT_EQ(runs[2].variant, "moe.top_k-1+rope.theta-50000");
  EXPECT_EQ(runs[4].variant, "moe.top_k-1+rope.theta-0.5");
  EXPECT_EQ(runs[11].variant, "moe.top_k-2+rope.theta-0.5");
  std::set<std::pair<std::string, int64_t>> distinct;
  for (size_t n = 0; n < runs.size(); ++n) {
    EXPECT_EQ(runs[n].index, n);
    EXPECT_EQ(runs[n].seed, n % 2 == 0 ? 3 : 4);
    EXPECT_EQ(runs[n].recipe.find("train.seed")->value.i, runs[n].seed);
    EXPECT_EQ(runs[n].recipe.find("experiment.variant")->value.s, runs[n].variant);
    EXPECT_EQ(runs[n].recipe.find("sweep.moe.top_k"), nullptr);  // the run's recipe is one configuration
    distinct.insert({runs[n].variant, runs[n].seed});
  }
  EXPECT_EQ(distinct.size(), 12u);
  EXPECT_EQ(value_of(runs[5].recipe, "moe.top_k"), "1");
  EXPECT_EQ(value_of(runs[5].recipe, "rope.theta"), "0.5");
  EXPECT_EQ(value_of(runs[6].recipe, "moe.top_k"), "2");
}

TEST(Sweep, WithoutSweepTableRunsTheRecipeOncePerSeed) {
  std::vector<SweepRun> plain = expand_sweep(sweep_recipe({"experiment.variant=lora", "train.seed=7"}));
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_EQ(plain[0].variant, "lora");
  EXPECT_EQ(plain[0].seed, 7);
  std::vector<SweepRun> seeded = expand_sweep(sweep_recipe({"experiment.variant=lora", "seeds=[1, 2, 3]"}));
  ASSERT_EQ(seeded.size(), 3u);
  EXPECT_EQ(seeded[2].seed, 3);
  EXPECT_EQ(seeded[2].variant, "lora");
}

TEST(Sweep, BadSweepsAreInputErrors) {
  EXPECT_THROW(expand_sweep(sweep_recipe({"sweep.moe.top_k=[]"})), InputError);
  EXPECT_THROW(expand_sweep(sweep_recipe({"sweep.moe.top_k=2"})), InputError);
  EXPECT_THROW(expand_sweep(sweep_recipe({"sweep.train.seed=[1, 2]"})), InputError);
  EXPECT_THROW(expand_sweep(sweep_recipe({"seeds=[1, 1]"})), InputError);
  EXPECT_THROW(parse_shard("3/3"), InputError);
  EXPECT_THROW(parse_shard("1"), InputError);
  EXPECT_THROW(parse_shard("a/2"), InputError);
  EXPECT_THROW(parse_shard("1/0"), InputError);
  EXPECT_EQ(parse_shard("2/5").index, 2);
  EXPECT_EQ(parse_shard("2/5").count, 5);
}

TEST(Sweep, ShardsPartitionTheRunsExactlyOnce) {
  std::vector<SweepRun> runs = expand_sweep(
      sweep_recipe({"sweep.moe.top_k=[1, 2, 3]", "sweep.train.lr=[0.1, 0.2]", "seeds=[1, 2, 3]"}));
  ASSERT_EQ(runs.size(), 18u);
  for (int64_t n : {1, 2, 4, 7, 18, 25}) {
    std::vector<int> seen(runs.size(), 0);
    for (int64_t i = 0; i < n; ++i)
      for (const auto& run : shard_runs(runs, Shard{i, n})) ++seen[run.index];
    for (size_t k = 0; k < runs.size(); ++k)
      EXPECT_EQ(seen[k], 1) << "run " << k << " with " << n << " shards";
  }
}

TEST(Sweep, DryRunListsRunsAndSlurmScriptRunsShards) {
  fs::path dir = test::temp_dir("sweep-cli");
  std::ofstream(dir / "s.toml") << "seeds = [1, 2]\n[experiment]\nname = \"demo\"\n[run]\ndir = \""
                                << (dir / "runs").string() << "\"\n[sweep]\n\"moe.top_k\" = [1, 2]\n";
  const std::string base = test::plugin_dir();
  auto dry = test::run_lab("sweep " + (dir / "s.toml").string() + " -P " + base + " --dry-run");
  ASSERT_EQ(dry.code, 0) << dry.output;
  EXPECT_NE(dry.output.find("4 of 4 runs"), std::string::npos) << dry.output;
  EXPECT_NE(dry.output.find("moe.top_k-2"), std::string::npos) << dry.output;
  EXPECT_FALSE(fs::exists(dir / "runs" / "demo" / "moe.top_k-1"));  // nothing trained or created
  auto shard = test::run_lab("sweep " + (dir / "s.toml").string() + " -P " + base + " --dry-run --shard 1/2");
  EXPECT_NE(shard.output.find("2 of 4 runs"), std::string::npos) << shard.output;

  auto emit =
      test::run_lab("sweep " + (dir / "s.toml").string() + " -P " + base +
                    " --emit slurm --shards 3 --sbatch=--time=01:00:00 -o " + (dir / "job.sh").string());
  ASSERT_EQ(emit.code, 0) << emit.output;
  std::ifstream in(dir / "job.sh");
  std::stringstream script;
  script << in.rdbuf();
  EXPECT_NE(script.str().find("#SBATCH --array=0-2"), std::string::npos) << script.str();
  EXPECT_NE(script.str().find("#SBATCH --time=01:00:00"), std::string::npos) << script.str();
  EXPECT_NE(script.str().find("--shard \"${SLURM_ARRAY_TASK_ID}/3\""), std::string::npos) << script.str();

  auto bad = test::run_lab("sweep " + (dir / "s.toml").string() + " -P " + base +
                           " --set sweep.moe.topk=[1] --dry-run");
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("moe.topk: unknown key"), std::string::npos) << bad.output;
}

TEST(Sweep, StoppedSweepResumesWithoutRedoingFinishedRuns) {
  fs::path root = test::temp_dir("sweep-resume");
  Recipe recipe = Recipe::empty("sweep.toml");
  for (const auto& s :
       test::plus(test::tiny_run(root, "resume"), {"train.steps=4", "eval.every=2", "seeds=[1, 2, 3]"}))
    recipe.set(s);
  std::vector<SweepRun> runs = expand_sweep(recipe);
  ASSERT_EQ(runs.size(), 3u);
  TrainOptions quiet;
  quiet.quiet = true;
  std::ostringstream log;

  // One machine finishes shard 0 of 3.
  SweepOutcome first = run_sweep(plan_sweep(shard_runs(runs, Shard{0, 3}), {test::plugin_dir()}), quiet, log);
  EXPECT_EQ(first.trained, 1u);
  SweepPlan plan = plan_sweep(runs, {test::plugin_dir()});
  ASSERT_EQ(plan.runs.size(), 3u);
  EXPECT_EQ(plan.runs[0].state, RunState::Finished);
  EXPECT_EQ(plan.runs[1].state, RunState::New);
  const auto finished_at = fs::last_write_time(plan.runs[0].dir / "summary.json");

  // The whole sweep is stopped after two steps of its next run.
  TrainOptions stop = quiet;
  stop.stop_after = 2;
  SweepOutcome second = run_sweep(plan, stop, log);
  EXPECT_EQ(second.finished_before, 1u);
  EXPECT_EQ(second.stopped, 1u);
  EXPECT_EQ(second.trained, 0u);
  EXPECT_EQ(plan_sweep(runs, {test::plugin_dir()}).runs[1].state, RunState::Stopped);
  EXPECT_FALSE(fs::exists(plan.runs[2].dir));

  // Running it again resumes the stopped run and trains the rest; the finished run is untouched.
  SweepOutcome third = run_sweep(plan_sweep(runs, {test::plugin_dir()}), quiet, log);
  EXPECT_EQ(third.finished_before, 1u);
  EXPECT_EQ(third.trained, 2u);
  EXPECT_EQ(fs::last_write_time(plan.runs[0].dir / "summary.json"), finished_at);
  EXPECT_NE(log.str().find("resuming in " + plan.runs[1].dir.string()), std::string::npos) << log.str();
  for (const auto& p : plan.runs) EXPECT_TRUE(fs::exists(p.dir / "summary.json"));
}
