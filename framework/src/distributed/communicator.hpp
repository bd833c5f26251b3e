// The process group of a data-parallel run on LibTorch's c10d: Gloo on CPU, NCCL on CUDA when the
// LibTorch build has it. The only file that calls c10d, so version differences stay in one place.
#pragma once

#include "distributed/world.hpp"

#include <torch/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace lab {

// A collective failed because a rank died, hung past the timeout or lost its connection.
struct PeerLost : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Communicator {
 public:
  // Joins the group: rank 0 serves the rendezvous store at MASTER_ADDR:MASTER_PORT, the others
  // connect; every collective (and the rendezvous itself) fails after `timeout`.
  Communicator(const World& world, const torch::Device& device, std::chrono::milliseconds timeout);
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  const World& world() const { return world_; }
  const std::string& backend() const { return backend_; }

  // A collective in flight; wait() returns once its tensors hold the result.
  class Pending {
   public:
    struct Work;
    explicit Pending(std::shared_ptr<Work> work, Communicator* owner)
        : work_(std::move(work)), owner_(owner) {}
    void wait();

   private:
    std::shared_ptr<Work> work_;
    Communicator* owner_;
  };

  // Sums `tensor` (fp32 or fp64, contiguous) over every rank, in place.
  Pending start_sum(torch::Tensor tensor);
  void sum(torch::Tensor tensor) { start_sum(std::move(tensor)).wait(); }
  // Every rank's `tensor` becomes rank 0's.
  void broadcast_from_root(torch::Tensor tensor);

  // Throws PeerLost naming the ranks that no longer answer, after a collective failed with `what`.
  [[noreturn]] void report_lost_peers(const std::string& what);

 private:
  struct Group;
  World world_;
  torch::Device device_;
  std::string backend_;
  std::unique_ptr<Group> group_;
};

}  // namespace lab
