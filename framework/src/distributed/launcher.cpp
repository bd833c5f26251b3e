#include "distributed/launcher.hpp"

#include <lab/error.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <optional>
#include <thread>

extern char** environ;

namespace lab {

namespace {

std::atomic<int> g_forward_signal{0};
void remember_signal(int sig) { g_forward_signal = sig; }

// The environment of one rank: this process's, with torchrun's variables set for it.
std::vector<std::string> rank_environment(const LaunchPlan& plan, int local_rank) {
  const std::vector<std::pair<std::string, std::string>> vars = {
      {"RANK", std::to_string(plan.node_rank * plan.nproc + local_rank)},
      {"WORLD_SIZE", std::to_string(plan.nnodes * plan.nproc)},
      {"LOCAL_RANK", std::to_string(local_rank)},
      {"LOCAL_WORLD_SIZE", std::to_string(plan.nproc)},
      {"GROUP_RANK", std::to_string(plan.node_rank)},
      {"MASTER_ADDR", plan.master_addr},
      {"MASTER_PORT", std::to_string(plan.master_port)},
  };
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const auto& [var, value] : vars) replaced = replaced || var == name;
    if (!replaced) env.push_back(entry);
  }
  for (const auto& [var, value] : vars) env.push_back(var + "=" + value);
  return env;
}

std::vector<char*> pointers(std::vector<std::string>& words) {
  std::vector<char*> out;
  for (auto& w : words) out.push_back(w.data());
  out.push_back(nullptr);
  return out;
}

// Local rank r's share of the CPUs this process may use, when there are enough to share.
bool rank_cpus(const LaunchPlan& plan, int local_rank, cpu_set_t& out) {
  cpu_set_t mine;
  if (!plan.pin_cpus || sched_getaffinity(0, sizeof mine, &mine) != 0) return false;
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &mine)) cpus.push_back(c);
  const int n = static_cast<int>(cpus.size());
  if (n < plan.nproc) return false;
  CPU_ZERO(&out);
  for (int i = local_rank * n / plan.nproc; i < (local_rank + 1) * n / plan.nproc; ++i)
    CPU_SET(cpus[i], &out);
  return true;
}

pid_t start_rank(const LaunchPlan& plan, int local_rank) {
  std::vector<std::string> argv_words{plan.program.string()};
  argv_words.insert(argv_words.end(), plan.args.begin(), plan.args.end());
  std::vector<std::string> env_words = rank_environment(plan, local_rank);
  auto argv = pointers(argv_words);
  auto envp = pointers(env_words);
  cpu_set_t cpus;
  const bool pin = rank_cpus(plan, local_rank, cpus);
  // Everything the child needs is prepared above: between fork and exec it only makes system calls.
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("lab launch: fork failed: ") + std::strerror(errno));
  if (pid == 0) {
    if (pin) sched_setaffinity(0, sizeof cpus, &cpus);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  return pid;
}

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    return "was killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  return "exited with code " + std::to_string(WEXITSTATUS(status));
}

}  // namespace

int free_local_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("lab launch: cannot open a socket to find a free port");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    throw std::runtime_error("lab launch: cannot find a free port on 127.0.0.1");
  }
  const int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

int launch_ranks(const LaunchPlan& plan) {
  auto old_int = std::signal(SIGINT, remember_signal);
  auto old_term = std::signal(SIGTERM, remember_signal);
  std::vector<pid_t> pids;
  std::vector<bool> running;
  for (int r = 0; r < plan.nproc; ++r) {
    pids.push_back(start_rank(plan, r));
    running.push_back(true);
    std::fprintf(stderr, "lab launch: rank %d pid %d\n", plan.node_rank * plan.nproc + r, pids.back());
  }
  std::fflush(stderr);
  int exit_code = 0, left = plan.nproc;
  using Clock = std::chrono::steady_clock;
  std::optional<Clock::time_point> failed_at;
  bool terminated = false;
  while (left > 0) {
    if (const int sig = g_forward_signal.exchange(0); sig != 0)
      for (int r = 0; r < plan.nproc; ++r)
        if (running[r]) kill(pids[r], sig);
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      for (int r = 0; r < plan.nproc; ++r) {
        if (pids[r] != pid || !running[r]) continue;
        running[r] = false;
        --left;
        const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        // 3: stopped with a checkpoint (an interrupt or --stop-after), as every rank does together.
        if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
          if (exit_code == 0) exit_code = 3;
          continue;
        }
        if (!ok && (exit_code == 0 || exit_code == 3)) {
          exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
          failed_at = Clock::now();
        }
        if (!ok)
          std::fprintf(stderr, "lab launch: rank %d (pid %d) %s\n", plan.node_rank * plan.nproc + r, pid,
                       describe_exit(status).c_str());
      }
      continue;
    }
    // The others normally notice a lost rank themselves and stop; ones that do not are ended.
    if (failed_at && left > 0) {
      const double waited = std::chrono::duration<double>(Clock::now() - *failed_at).count();
      if (waited > plan.grace_seconds + 10.0 || (!terminated && waited > plan.grace_seconds)) {
        const int sig = terminated ? SIGKILL : SIGTERM;
        terminated = true;
        for (int r = 0; r < plan.nproc; ++r)
          if (running[r]) kill(pids[r], sig);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::signal(SIGINT, old_int);
  std::signal(SIGTERM, old_term);
  return exit_code;
}

}  // namespace lab
