#include "util/system.hpp"

#include <lab_build_config.hpp>

#include <sys/resource.h>
#include <torch/version.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <thread>

namespace lab {

double peak_host_memory_mb() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

namespace {
std::string run(const std::string& command) {
  std::string out;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    std::array<char, 256> buffer{};
    while (fgets(buffer.data(), buffer.size(), pipe)) out += buffer.data();
    pclose(pipe);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}
}  // namespace

std::string git_revision() {
  static const std::string revision = [] {
    std::string dir = LAB_SOURCE_DIR;
    std::string rev = run("git -C '" + dir + "' rev-parse --short=12 HEAD 2>/dev/null");
    if (rev.empty()) return std::string(LAB_BUILD_GIT_REVISION);
    if (!run("git -C '" + dir + "' status --porcelain --untracked-files=no 2>/dev/null").empty())
      rev += "+dirty";
    return rev;
  }();
  return revision;
}

std::string libtorch_version() { return TORCH_VERSION; }

int default_thread_count() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

bool stdout_is_terminal() { return isatty(fileno(stdout)) != 0; }

}  // namespace lab
