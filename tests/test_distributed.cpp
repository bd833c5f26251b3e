// Data-parallel runs through the real program: `lab launch --nproc 2` on 127.0.0.1 against one process
// with the same global batch, a killed rank, an interrupted launcher, and a 2-rank checkpoint resumed
// by one process.
#include "distributed/world.hpp"
#include "run/files.hpp"
#include "test_support.hpp"
#include "tiny_run.hpp"

#include <lab/error.hpp>

#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

using namespace lab;
namespace fs = std::filesystem;

namespace {

std::string quote(const std::string& word) {
  std::string out = "'";
  for (char ch : word) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

// lab's arguments for a tiny run into <root>/<name>, with `sets` on top of the test recipe.
std::string run_args(const fs::path& root, const std::string& name, const std::vector<std::string>& sets) {
  std::string args = "--recipe " + quote(std::string(LAB_TEST_DATA_DIR) + "/recipes/distributed_tiny.toml");
  std::vector<std::string> all = {"data.path=\"" + test::synthetic_corpus().string() + "\"",
                                  "tokenizer.cache_dir=\"" + (root / "cache").string() + "\"",
                                  "run.dir=\"" + (root / name).string() + "\""};
  all.insert(all.end(), sets.begin(), sets.end());
  for (const auto& s : all) args += " --set " + quote(s);
  return args;
}

test::Outcome launch_two(const std::string& args) {
  return test::run_command(std::string(LAB_PROGRAM) + " launch --nproc 2 -- " + args + " 2>&1");
}

fs::path run_dir(const fs::path& root, const std::string& name) {
  return root / name / "ddp" / "baseline" / "seed-42";
}

double relative(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-12); }

// The largest relative difference between two runs' metrics (losses, aux losses, statistics) line by
// line; fails when the runs logged different steps or keys.
double curve_difference(const fs::path& a, const fs::path& b) {
  const auto left = read_json_lines(a / "metrics.jsonl"), right = read_json_lines(b / "metrics.jsonl");
  EXPECT_EQ(left.size(), right.size());
  double worst = 0;
  for (size_t n = 0; n < std::min(left.size(), right.size()); ++n) {
    EXPECT_EQ(left[n]["step"], right[n]["step"]);
    EXPECT_EQ(left[n]["tokens"], right[n]["tokens"]);
    for (const char* key : {"train_loss", "val_loss", "val_accuracy"})
      worst = std::max(worst, relative(left[n][key].get<double>(), right[n][key].get<double>()));
    for (const char* group : {"aux_losses", "stats"}) {
      EXPECT_EQ(left[n][group].size(), right[n][group].size()) << group;
      for (const auto& [k, v] : left[n][group].items()) {
        EXPECT_TRUE(right[n][group].contains(k)) << k;
        if (right[n][group].contains(k))
          worst = std::max(worst, relative(v.get<double>(), right[n][group][k].get<double>()));
      }
    }
  }
  return worst;
}

// The topk router's exploration noise draws from each rank's own stream, which one process cannot
// reproduce: the runs compared step by step train without it.
const char* const kNoNoise = "router.noise_std=0";

// One process accumulating two micro-batches against two ranks of one each: the same windows, so the
// same losses up to the order of float sums.
void expect_parity(const std::string& name, const std::vector<std::string>& sets) {
  const fs::path root = test::temp_dir("ddp-" + name);
  auto one = test::run_lab("--quiet " + run_args(root, "one", test::plus(sets, {"train.accum_steps=2"})));
  ASSERT_EQ(one.code, 0) << one.output;
  auto two = launch_two("--quiet " + run_args(root, "two", test::plus(sets, {"train.accum_steps=1"})));
  ASSERT_EQ(two.code, 0) << two.output;
  const double worst = curve_difference(run_dir(root, "two"), run_dir(root, "one"));
  std::cout << "[ parity ] " << name << ": largest relative difference " << worst << "\n";
  EXPECT_LE(worst, 1e-5);
  const auto summary = read_json(run_dir(root, "two") / "summary.json");
  EXPECT_EQ(summary["distributed"]["world_size"], 2);
  EXPECT_EQ(summary["distributed"]["backend"], "gloo");
  EXPECT_EQ(summary["distributed"]["global_batch"], 8);
  EXPECT_GT(summary["distributed"]["comm_seconds_per_step"].get<double>(), 0.0);
  EXPECT_EQ(read_json(run_dir(root, "one") / "summary.json")["distributed"]["global_batch"], 8);
  // Rank 0 alone wrote the folder: one line per evaluation, not one per rank.
  EXPECT_EQ(read_json_lines(run_dir(root, "two") / "metrics.jsonl").size(), 4u);
  // Started again on the finished folder: rank 0 refuses, and the other rank stops with it.
  auto again = launch_two("--quiet " + run_args(root, "two", test::plus(sets, {"train.accum_steps=1"})));
  EXPECT_EQ(again.code, 2) << again.output;
  EXPECT_NE(again.output.find("holds a finished run"), std::string::npos) << again.output;
  EXPECT_NE(again.output.find("rank 1: stopping because rank 0 could not start"), std::string::npos)
      << again.output;
  fs::remove_all(root);
}

// A running `lab launch` whose output is read line by line.
struct Launch {
  FILE* pipe = nullptr;
  std::string output;
  explicit Launch(const std::string& args) {
    pipe = popen((std::string(LAB_PROGRAM) + " launch --nproc 2 -- " + args + " 2>&1").c_str(), "r");
  }
  // Reads until a line matches; returns the match and its groups (empty at the end of the output).
  std::vector<std::string> until(const std::regex& pattern) {
    std::array<char, 1024> buffer{};
    while (fgets(buffer.data(), buffer.size(), pipe)) {
      output += buffer.data();
      const std::string line = buffer.data();
      std::smatch m;
      if (std::regex_search(line, m, pattern)) return {m.begin(), m.end()};
    }
    return {};
  }
  int finish() {
    until(std::regex("$^"));
    const int status = pclose(pipe);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
};

pid_t parent_of(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // pid (comm) state ppid ...
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  std::string state;
  pid_t ppid = 0;
  rest >> state >> ppid;
  return ppid;
}

}  // namespace

// Leaves no torchrun variable behind, however the test ends: a later run in this process would join a
// group.
struct TorchrunVariables {
  TorchrunVariables() { clear(); }
  ~TorchrunVariables() { clear(); }
  static void clear() {
    for (const char* v :
         {"WORLD_SIZE", "RANK", "LOCAL_WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"})
      ::unsetenv(v);
  }
};

TEST(Distributed, WorldComesFromTorchrunVariables) {
  TorchrunVariables guard;
  EXPECT_FALSE(world_from_environment().has_value());
  ::setenv("WORLD_SIZE", "4", 1);
  ::setenv("RANK", "3", 1);
  ::setenv("LOCAL_WORLD_SIZE", "2", 1);
  ::setenv("LOCAL_RANK", "1", 1);
  ::setenv("MASTER_ADDR", "node001", 1);
  ::setenv("MASTER_PORT", "29500", 1);
  const auto world = world_from_environment();
  ASSERT_TRUE(world.has_value());
  EXPECT_EQ(world->rank, 3);
  EXPECT_EQ(world->size, 4);
  EXPECT_EQ(world->local_rank, 1);
  EXPECT_EQ(world->master_addr, "node001");
  EXPECT_EQ(world->master_port, 29500);
  ::setenv("RANK", "4", 1);
  try {
    world_from_environment();
    ADD_FAILURE() << "RANK 4 of 4 accepted";
  } catch (const InputError& err) {
    EXPECT_NE(std::string(err.what()).find("RANK"), std::string::npos) << err.what();
  }
  ::setenv("RANK", "1", 1);
  ::unsetenv("MASTER_PORT");
  EXPECT_THROW(world_from_environment(), InputError);
}

TEST(Distributed, LaunchRejectsBadArguments) {
  auto none = test::run_lab("launch -- --recipe x.toml");
  EXPECT_EQ(none.code, 2);
  EXPECT_NE(none.output.find("--nproc"), std::string::npos) << none.output;
  auto empty = test::run_lab("launch --nproc 2");
  EXPECT_EQ(empty.code, 2);
  EXPECT_NE(empty.output.find("no lab arguments"), std::string::npos) << empty.output;
  auto nodes = test::run_lab("launch --nproc 2 --nnodes 2 -- --recipe x.toml");
  EXPECT_EQ(nodes.code, 2);
  EXPECT_NE(nodes.output.find("--master"), std::string::npos) << nodes.output;
}

TEST(Distributed, SlurmScriptRunsOneLabPerTask) {
  auto out = test::run_lab(
      "launch --nproc 4 --nnodes 2 --emit slurm --sbatch=--time=01:00:00 -- --recipe 'my run.toml'", false);
  ASSERT_EQ(out.code, 0) << out.output;
  EXPECT_NE(out.output.find("#SBATCH --nodes=2"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("#SBATCH --ntasks-per-node=4"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("#SBATCH --time=01:00:00"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("MASTER_ADDR=\"$(scontrol show hostnames"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("RANK=\"$SLURM_PROCID\""), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("srun"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("'--recipe' 'my run.toml'"), std::string::npos) << out.output;
}

TEST(Distributed, TwoRanksMatchOneProcessMha) { expect_parity("mha", {"attention.plugin=mha", kNoNoise}); }

TEST(Distributed, TwoRanksMatchOneProcessMlaFlash2) {
  expect_parity("mla-flash2",
                {kNoNoise, "attention.plugin=mla", "kernel.plugin=flash2", "attention.kv_lora_rank=16",
                 "attention.qk_nope_head_dim=8", "attention.qk_rope_head_dim=8", "attention.v_head_dim=8"});
}

TEST(Distributed, TwoRanksMatchOneProcessDsa) {
  // Two indexer warm-up steps (the KL loss alone trains) then two sparse steps.
  expect_parity(
      "dsa", {kNoNoise, "sparse.plugin=dsa", "sparse.top_k=8", "sparse.index_heads=2", "sparse.index_dim=16",
              "sparse.index_rope_dim=8", "train.stages.0.name=\"warmup\"", "train.stages.0.steps=2",
              "train.stages.0.lr=0.01", "train.stages.0.groups=[\"sparse\"]",
              "train.stages.0.mode=\"warmup\"", "train.stages.1.steps=2", "train.stages.1.mode=\"sparse\""});
}

TEST(Distributed, TwoRanksMatchOneProcessDeepseekRouter) {
  // A large bias step so the bias update from the summed expert loads changes routing within 4 steps.
  expect_parity("deepseek", {"router.plugin=deepseek", "router.bias_update_speed=0.05"});
}

TEST(Distributed, KilledRankEndsTheOtherNamingIt) {
  const fs::path root = test::temp_dir("ddp-kill");
  Launch run(run_args(
      root, "run",
      {"train.steps=100000", "eval.every=100000", "train.checkpoint_every=2", "distributed.timeout_s=30"}));
  const auto pid_line = run.until(std::regex("rank 1 pid ([0-9]+)"));
  ASSERT_FALSE(pid_line.empty()) << run.output;
  const pid_t rank1 = std::stoi(pid_line[1]);
  ASSERT_FALSE(run.until(std::regex("step 3/")).empty()) << run.output;
  const auto killed_at = std::chrono::steady_clock::now();
  ::kill(rank1, SIGKILL);
  const int code = run.finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
  std::cout << "[ kill ] ranks stopped " << seconds << " s after the kill; output tail:\n"
            << run.output.substr(run.output.size() > 600 ? run.output.size() - 600 : 0) << "\n";
  EXPECT_EQ(code, 1) << run.output;
  EXPECT_NE(run.output.find("rank 0: lost rank 1"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("rank 1 (pid " + std::to_string(rank1) + ") was killed by signal 9"),
            std::string::npos)
      << run.output;
  EXPECT_LT(seconds, 30.0);
  // The last checkpoint still loads: one process resumes it for one more step.
  const auto state = read_json(run_dir(root, "run") / "checkpoint" / "state.json");
  const int64_t step = state["step"].get<int64_t>();
  EXPECT_GE(step, 2);
  auto resumed = test::run_lab(
      "--quiet --resume --stop-after " + std::to_string(step + 1) + " " +
      run_args(root, "run", {"train.steps=100000", "eval.every=100000", "train.accum_steps=2"}));
  EXPECT_EQ(resumed.code, 3) << resumed.output;
  fs::remove_all(root);
}

TEST(Distributed, InterruptedLauncherCheckpointsEveryRank) {
  const fs::path root = test::temp_dir("ddp-interrupt");
  Launch run(run_args(root, "run", {"train.steps=100000", "eval.every=100000"}));
  const auto pid_line = run.until(std::regex("rank 0 pid ([0-9]+)"));
  ASSERT_FALSE(pid_line.empty()) << run.output;
  const pid_t launcher = parent_of(std::stoi(pid_line[1]));
  ASSERT_FALSE(run.until(std::regex("step 3/")).empty()) << run.output;
  ::kill(launcher, SIGINT);
  const int code = run.finish();
  EXPECT_EQ(code, 3) << run.output;
  std::smatch stopped;
  ASSERT_TRUE(std::regex_search(run.output, stopped, std::regex("stopped at step ([0-9]+)"))) << run.output;
  const auto state = read_json(run_dir(root, "run") / "checkpoint" / "state.json");
  EXPECT_EQ(state["step"].get<int64_t>(), std::stoll(stopped[1])) << run.output;
  fs::remove_all(root);
}

TEST(Distributed, TwoRankCheckpointResumesAtOneProcess) {
  const fs::path root = test::temp_dir("ddp-resume");
  const std::vector<std::string> six = {"train.steps=6", kNoNoise};
  auto whole = test::run_lab("--quiet " + run_args(root, "whole", test::plus(six, {"train.accum_steps=2"})));
  ASSERT_EQ(whole.code, 0) << whole.output;
  auto first = launch_two("--quiet --stop-after 3 " +
                          run_args(root, "split", test::plus(six, {"train.accum_steps=1"})));
  ASSERT_EQ(first.code, 3) << first.output;
  auto rest =
      test::run_lab("--quiet --resume " + run_args(root, "split", test::plus(six, {"train.accum_steps=2"})));
  ASSERT_EQ(rest.code, 0) << rest.output;
  const double worst = curve_difference(run_dir(root, "split"), run_dir(root, "whole"));
  std::cout << "[ resume ] 2 ranks to step 3, then 1 process: largest relative difference " << worst << "\n";
  EXPECT_LE(worst, 1e-5);
  fs::remove_all(root);
}
