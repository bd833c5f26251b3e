// Progress output: one refreshing line on a terminal, plain log lines otherwise.
#pragma once

#include <cstdint>
#include <string>

namespace lab {

class Progress {
 public:
  Progress(bool quiet, int64_t total_steps);
  // Called every step; prints according to the output kind and log_every.
  void step(int64_t step, const std::string& stage, double loss, double lr, double tokens_per_s,
            double seconds_per_step, int64_t log_every);
  // A line that must stay on screen (evaluation results, notices).
  void line(const std::string& text);

 private:
  bool quiet_, terminal_;
  int64_t total_;
  bool dirty_ = false;  // a refreshing line is on screen
};

std::string format_duration(double seconds);

}  // namespace lab
