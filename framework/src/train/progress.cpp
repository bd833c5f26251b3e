#include "train/progress.hpp"

#include "util/system.hpp"

#include <cstdio>

namespace lab {

std::string format_duration(double seconds) {
  if (seconds < 0) seconds = 0;
  auto s = static_cast<int64_t>(seconds + 0.5);
  char text[32];
  if (s >= 3600)
    std::snprintf(text, sizeof text, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60));
  else if (s >= 60)
    std::snprintf(text, sizeof text, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  else
    std::snprintf(text, sizeof text, "%llds", static_cast<long long>(s));
  return text;
}

Progress::Progress(bool quiet, int64_t total_steps)
    : quiet_(quiet), terminal_(stdout_is_terminal()), total_(total_steps) {}

void Progress::step(int64_t step, const std::string& stage, double loss, double lr, double tokens_per_s,
                    double seconds_per_step, int64_t log_every) {
  if (quiet_) return;
  const bool last = step == total_;
  if (!terminal_ && step % log_every != 0 && !last) return;
  char text[256];
  std::snprintf(text, sizeof text, "step %lld/%lld | %s | loss %.4f | lr %.2e | %.0f tok/s | ETA %s",
                static_cast<long long>(step), static_cast<long long>(total_), stage.c_str(), loss, lr,
                tokens_per_s, format_duration(seconds_per_step * static_cast<double>(total_ - step)).c_str());
  if (terminal_) {
    std::printf("\r\033[K%s", text);
    dirty_ = true;
  } else {
    std::printf("%s\n", text);
  }
  std::fflush(stdout);
}

void Progress::line(const std::string& text) {
  if (quiet_) return;
  if (dirty_) std::printf("\r\033[K");
  dirty_ = false;
  std::printf("%s\n", text.c_str());
  std::fflush(stdout);
}

}  // namespace lab
