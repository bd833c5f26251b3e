// A sweep's overall time estimate: the runs still to train at the mean time of those trained so far.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace lab {

class SweepEta {
 public:
  explicit SweepEta(size_t runs_to_train) : left_(runs_to_train) {}
  void start_run() { run_start_ = Clock::now(); }
  void finish_run();  // the run started last has trained (or stopped)
  // "0 of 4 trained | ETA after the first run" or "1 of 4 trained, 12s elapsed | ETA 36s".
  std::string describe() const;

 private:
  using Clock = std::chrono::steady_clock;
  size_t done_ = 0, left_ = 0;
  double spent_ = 0;  // seconds of the runs trained
  Clock::time_point run_start_ = Clock::now();
};

}  // namespace lab
