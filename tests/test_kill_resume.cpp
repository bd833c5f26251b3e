// kill -9 at any moment: the real lab program trains a tiny recipe that checkpoints every step and is
// killed with SIGKILL again and again (at random moments, and while a checkpoint is being written),
// resumed each time; its metrics must equal an uninterrupted run's exactly, step for step.
#include "run/files.hpp"
#include "tiny_run.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::vector<std::string> training_args(const fs::path& root, const fs::path& runs) {
  std::vector<std::string> args = {LAB_PROGRAM, "--quiet", "--recipe",
                                   std::string(LAB_TEST_DATA_DIR) + "/recipes/base.toml"};
  std::vector<std::string> sets = lab::test::tiny_run(root, "kill");
  sets.push_back("run.dir=\"" + runs.string() + "\"");
  for (const char* s : {"train.stages.0.steps=200", "train.threads=1", "train.checkpoint_every=1",
                        "eval.every=3", "eval.max_batches=2", "train.batch_size=4", "audit.causality=false"})
    sets.emplace_back(s);
  for (const auto& s : sets) {
    args.emplace_back("--set");
    args.push_back(s);
  }
  return args;
}

pid_t start(std::vector<std::string> args, bool resume, const fs::path& log) {
  if (resume) args.emplace_back("--resume");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&files, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &files, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  return rc == 0 ? pid : -1;
}

// The exit code, or 128 + the signal that ended it.
int wait_for(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A folder's identity: a checkpoint.tmp/ left by an earlier kill is told apart from a fresh one.
struct Identity {
  ino_t inode = 0;
  int64_t changed_ns = 0;
  bool operator==(const Identity& o) const { return inode == o.inode && changed_ns == o.changed_ns; }
};
Identity identity(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return {st.st_ino, static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec};
}

// Whether the process has ended (a zombie awaiting wait_for), read from /proc without reaping it.
bool has_exited(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(in, stat);
  const auto name_end = stat.rfind(')');
  return name_end == std::string::npos || (name_end + 2 < stat.size() && stat[name_end + 2] == 'Z');
}

// Each metrics line without its timings, which differ between any two runs.
std::vector<nlohmann::json> learning_figures(const fs::path& metrics) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(metrics);
  std::string text;
  while (std::getline(in, text)) {
    nlohmann::json line = nlohmann::json::parse(text);
    for (const char* timing : {"tokens_per_s", "wall_s", "time", "train_s", "peak_memory_mb"})
      line.erase(timing);
    lines.push_back(line);
  }
  return lines;
}

std::string file_text(const fs::path& file) {
  std::ifstream in(file);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

TEST(KillNine, ResumedAfterEveryKillTheRunEqualsAnUninterruptedOne) {
  const fs::path root = lab::test::temp_dir("kill-nine");
  const fs::path whole_runs = root / "whole", killed_runs = root / "killed";
  const fs::path run_suffix = fs::path("tiny") / "kill" / "seed-42";

  const auto whole_start = Clock::now();
  ASSERT_EQ(wait_for(start(training_args(root, whole_runs), false, root / "whole.log")), 0)
      << file_text(root / "whole.log");
  const double whole_seconds = std::chrono::duration<double>(Clock::now() - whole_start).count();

  // Printed so that a failure can be replayed with the same moments.
  const unsigned seed = std::random_device{}();
  std::printf("kill moments drawn from seed %u; an uninterrupted run takes %.1f s\n", seed, whole_seconds);
  std::mt19937 rng(seed);
  // Early enough that a resumed run rarely finishes before its kill: each attempt restarts lab and
  // resumes near the end, so later kills fall in start-up or the last steps (both moments to test).
  std::uniform_real_distribution<double> moment(0.05, 0.3);

  const fs::path run_dir = killed_runs / run_suffix;
  const int kills_wanted = 8;
  int kills = 0, kills_while_writing = 0, exit_code = -1;
  for (int attempt = 0; attempt < 40 && exit_code != 0; ++attempt) {
    const fs::path tmp = run_dir / "checkpoint.tmp";
    const Identity stale = identity(tmp);
    const pid_t pid = start(training_args(root, killed_runs), fs::exists(run_dir), root / "killed.log");
    ASSERT_GT(pid, 0);
    if (kills < kills_wanted) {
      // Every other kill waits for a checkpoint being written: checkpoint.tmp/ exists only then.
      const bool during_write = kills % 2 == 1;
      const auto deadline = Clock::now() + std::chrono::duration<double>(moment(rng) * whole_seconds);
      bool exited = false;
      while (Clock::now() < deadline && !(exited = has_exited(pid)))
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      // Bounded, so a missed write does not let the attempt run to its end unkilled.
      const auto give_up = Clock::now() + std::chrono::duration<double>(0.2 * whole_seconds);
      auto fresh_tmp = [&] { return fs::exists(tmp) && !(identity(tmp) == stale); };
      while (during_write && !exited && !fresh_tmp() && Clock::now() < give_up) exited = has_exited(pid);
      if (!exited) {
        kill(pid, SIGKILL);
        ++kills;
        if (during_write && fresh_tmp()) ++kills_while_writing;
      }
    }
    exit_code = wait_for(pid);
    ASSERT_TRUE(exit_code == 0 || exit_code == 128 + SIGKILL) << "exit " << exit_code << "\n"
                                                              << file_text(root / "killed.log");
  }
  std::printf("%d kills (%d while a checkpoint was being written), then the run finished\n", kills,
              kills_while_writing);
  ASSERT_EQ(exit_code, 0) << file_text(root / "killed.log");
  EXPECT_GE(kills, 3) << file_text(root / "killed.log");  // attempts that finish early are not killed
  EXPECT_GE(kills_while_writing, 1);

  const auto whole = learning_figures(whole_runs / run_suffix / "metrics.jsonl");
  const auto killed = learning_figures(run_dir / "metrics.jsonl");
  ASSERT_EQ(killed.size(), whole.size()) << file_text(run_dir / "metrics.jsonl");
  for (size_t n = 0; n < whole.size(); ++n) EXPECT_EQ(killed[n], whole[n]) << "metrics line " << n + 1;
  const auto final_of = [](const fs::path& dir) { return lab::read_json(dir / "summary.json")["final"]; };
  EXPECT_EQ(final_of(run_dir), final_of(whole_runs / run_suffix));
  EXPECT_FALSE(fs::exists(run_dir / "checkpoint.tmp"));
}
