// sum_over_ranks for plugins: the data-parallel run in progress (if any) lends its process group.
#include "distributed/rank_sums.hpp"

#include <lab/ranks.hpp>

#include <torch/torch.h>

namespace lab {

namespace {
DataParallel* g_active = nullptr;
}  // namespace

RankSumScope::RankSumScope(DataParallel* parallel) : previous_(g_active) { g_active = parallel; }
RankSumScope::~RankSumScope() { g_active = previous_; }

void sum_over_ranks(torch::Tensor& tensor) {
  if (g_active == nullptr) return;
  g_active->sum_in_place(tensor);
}

}  // namespace lab
