#include "sweep/eta.hpp"

#include "train/progress.hpp"

namespace lab {

void SweepEta::finish_run() {
  spent_ += std::chrono::duration<double>(Clock::now() - run_start_).count();
  ++done_;
  if (left_ > 0) --left_;
}

std::string SweepEta::describe() const {
  const std::string count = std::to_string(done_) + " of " + std::to_string(done_ + left_) + " trained";
  if (done_ == 0) return count + " | ETA after the first run";
  const double eta = spent_ / static_cast<double>(done_) * static_cast<double>(left_);
  return count + ", " + format_duration(spent_) + " elapsed | ETA " + format_duration(eta);
}

}  // namespace lab
