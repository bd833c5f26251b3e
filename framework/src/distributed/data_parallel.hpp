// What a training run needs from the other ranks: agreement at setup, rank 0's weights, averaged
// gradients and figures, summed router loads and evaluation shards, and the time all that took.
#pragma once

#include "distributed/communicator.hpp"
#include "distributed/gradient_buckets.hpp"
#include "model/model.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

namespace lab {

class DataParallel {
 public:
  DataParallel(const World& world, const torch::Device& device, std::chrono::milliseconds timeout,
               int64_t bucket_bytes);

  const World& world() const { return comm_.world(); }
  int rank() const { return comm_.world().rank; }
  int size() const { return comm_.world().size; }
  bool is_root() const { return comm_.world().is_root(); }
  const std::string& backend() const { return comm_.backend(); }

  // Runs `work` on this rank, then waits for every rank's. When any rank's work threw, every rank
  // throws: a failing rank its own error, the others one that names the failing ranks.
  void together(const std::function<void()>& work);
  // Rank 0's `value`, on every rank.
  int64_t from_root(int64_t value);
  // Every parameter and buffer becomes rank 0's.
  void broadcast_model(LanguageModel& model);

  // Around the step's last backward pass: see GradientBuckets.
  void watch_gradients(const std::vector<torch::Tensor>& parameters) { buckets_.watch(parameters); }
  void average_gradients() { comm_seconds_ += buckets_.finish(); }
  // `tensor` summed over the ranks in place (any dtype: it travels as fp64), timed as step time.
  void sum_in_place(torch::Tensor& tensor);
  // Sums `values` over the ranks, in place (one collective, fp64); `step` counts its time as the
  // training step's communication.
  void sum(std::vector<double>& values, bool step = true);

  // Seconds spent waiting for communication during training steps since the last call.
  double take_comm_seconds();

 private:
  Communicator comm_;
  GradientBuckets buckets_;
  double comm_seconds_ = 0;
};

}  // namespace lab
