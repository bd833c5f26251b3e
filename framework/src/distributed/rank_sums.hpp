// Makes a data-parallel run the one lab::sum_over_ranks (lab/ranks.hpp) sums over, while in scope.
#pragma once

#include "distributed/data_parallel.hpp"

namespace lab {

class RankSumScope {
 public:
  explicit RankSumScope(DataParallel* parallel);  // nullptr: one process, sums do nothing
  ~RankSumScope();
  RankSumScope(const RankSumScope&) = delete;
  RankSumScope& operator=(const RankSumScope&) = delete;

 private:
  DataParallel* previous_;
};

}  // namespace lab
