// Gradient averaging over the ranks: gradients packed into flat fp32 buckets, one all-reduce per
// bucket. During the step's last backward pass each bucket starts as soon as autograd has produced
// all of its gradients, so communication overlaps the rest of the backward pass.
#pragma once

#include "distributed/communicator.hpp"

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace lab {

class GradientBuckets {
 public:
  // `bucket_bytes` of fp32 gradient per all-reduce (the last bucket may be smaller).
  GradientBuckets(Communicator& comm, int64_t bucket_bytes);
  ~GradientBuckets();

  // Call before the step's last backward pass with the parameters that train this step (the same
  // list on every rank): buckets fill and start from autograd hooks as gradients arrive.
  void watch(const std::vector<torch::Tensor>& parameters);
  // After that backward pass: starts the buckets not yet started, waits for all, and leaves every
  // parameter's gradient as the mean over the ranks. A gradient that is undefined on every rank (a
  // parameter the step did not reach) stays undefined; one undefined on some ranks counts as zero
  // there. Returns the seconds spent waiting for communication.
  double finish();

 private:
  struct Bucket;
  void fill(size_t param, const torch::Tensor& grad);
  void start(Bucket& bucket);
  void release_hooks();
  bool same_parameters(const std::vector<torch::Tensor>& parameters) const;

  Communicator& comm_;
  int64_t bucket_elements_;
  std::vector<torch::Tensor> params_;
  std::vector<unsigned> hook_ids_;
  bool armed_ = false;  // between watch() and finish(): hooks fill the buckets
  std::vector<std::unique_ptr<Bucket>> buckets_;
  std::vector<size_t> bucket_of_;   // per parameter
  std::vector<int64_t> offset_of_;  // per parameter, within its bucket
  std::vector<bool> filled_;        // per parameter: its gradient is in the bucket
};

}  // namespace lab
