#include "distributed/communicator.hpp"

#include <lab/error.hpp>

#include <torch/torch.h>
#include <torch/version.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if defined(USE_C10D_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <cstdlib>
#include <thread>

namespace lab {

namespace {

// LibTorch 2 made the backends (Gloo, NCCL) c10d::Backend; 1.x had them derive from ProcessGroup.
#if TORCH_VERSION_MAJOR >= 2
using BackendBase = c10d::Backend;
#else
using BackendBase = c10d::ProcessGroup;
#endif

bool is_loopback(const std::string& addr) {
  return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1";
}

// The network device Gloo binds to: loopback for a one-machine run, GLOO_SOCKET_IFNAME when set (as
// with torchrun), else the address this machine's hostname resolves to.
std::shared_ptr<::gloo::transport::Device> gloo_device(const World& world) {
  if (is_loopback(world.master_addr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  if (const char* name = std::getenv("GLOO_SOCKET_IFNAME"); name != nullptr && *name != '\0')
    return c10d::ProcessGroupGloo::createDeviceForInterface(name);
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

}  // namespace

struct Communicator::Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<BackendBase> backend;
  std::chrono::milliseconds timeout;
};

// NCCL reduces CUDA tensors only: a CPU tensor travels through a staged copy on the device.
struct Communicator::Pending::Work {
  c10::intrusive_ptr<c10d::Work> work;
  torch::Tensor staged, target;
};

Communicator::Communicator(const World& world, const torch::Device& device, std::chrono::milliseconds timeout)
    : world_(world), device_(device), group_(std::make_unique<Group>()) {
  group_->timeout = timeout;
  c10d::TCPStoreOptions store_options;
  store_options.port = static_cast<std::uint16_t>(world.master_port);
  store_options.isServer = world.is_root();
  store_options.numWorkers = static_cast<std::size_t>(world.size);
  store_options.waitWorkers = true;
  store_options.timeout = timeout;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  // LibTorch 2.4 made the libuv store the default; Debian's LibTorch is built without libuv.
  store_options.useLibUV = false;
#endif
  try {
    group_->store = c10::make_intrusive<c10d::TCPStore>(world.master_addr, store_options);
  } catch (const std::exception& err) {
    throw PeerLost("rank " + std::to_string(world.rank) + ": rendezvous at " + world.master_addr + ":" +
                   std::to_string(world.master_port) + " failed: " + err.what());
  }
#if defined(USE_C10D_NCCL)
  if (device.is_cuda()) {
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = timeout;
    group_->backend =
        c10::make_intrusive<c10d::ProcessGroupNCCL>(group_->store, world.rank, world.size, options);
    backend_ = "nccl";
    return;
  }
#endif
  if (!device.is_cpu())
    throw InputError(
        "data-parallel training on " + device.str() +
        " needs a LibTorch built with NCCL; this one has Gloo only (use train.device = \"cpu\")");
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  options->devices.push_back(gloo_device(world));
  options->threads = 2;
  group_->backend =
      c10::make_intrusive<c10d::ProcessGroupGloo>(group_->store, world.rank, world.size, options);
  backend_ = "gloo";
}

Communicator::~Communicator() = default;

void Communicator::Pending::wait() {
  try {
    work_->work->wait();
  } catch (const std::exception& err) {
    owner_->report_lost_peers(err.what());
  }
  if (work_->staged.defined()) work_->target.copy_(work_->staged);
}

Communicator::Pending Communicator::start_sum(torch::Tensor tensor) {
  auto work = std::make_shared<Pending::Work>();
  if (backend_ == "nccl" && !tensor.is_cuda()) {
    work->target = tensor;
    work->staged = tensor.to(device_);
  }
  std::vector<torch::Tensor> tensors{work->staged.defined() ? work->staged : tensor};
  c10d::AllreduceOptions options;
  options.reduceOp = c10d::ReduceOp::SUM;
  try {
    work->work = group_->backend->allreduce(tensors, options);
  } catch (const std::exception& err) {
    report_lost_peers(err.what());
  }
  return Pending(work, this);
}

void Communicator::broadcast_from_root(torch::Tensor tensor) {
  const bool staged = backend_ == "nccl" && !tensor.is_cuda();
  std::vector<torch::Tensor> tensors{staged ? tensor.to(device_) : tensor};
  c10d::BroadcastOptions options;
  options.rootRank = 0;
  try {
    group_->backend->broadcast(tensors, options)->wait();
  } catch (const std::exception& err) {
    report_lost_peers(err.what());
  }
  if (staged) tensor.copy_(tensors.front());
}

// Every rank that notices the failure checks in at the store; the ranks that do not within a few
// seconds are the lost ones. When the store itself is gone, rank 0 (which serves it) is.
void Communicator::report_lost_peers(const std::string& what) {
  const std::string first_line = what.substr(0, what.find('\n'));
  std::vector<int> missing;
  try {
    group_->store->set("lost/" + std::to_string(world_.rank), std::vector<uint8_t>{1});
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    std::vector<bool> seen(static_cast<size_t>(world_.size), false);
    seen[static_cast<size_t>(world_.rank)] = true;
    while (true) {
      missing.clear();
      for (int r = 0; r < world_.size; ++r)
        if (!seen[static_cast<size_t>(r)]) {
          seen[static_cast<size_t>(r)] = group_->store->check({"lost/" + std::to_string(r)});
          if (!seen[static_cast<size_t>(r)]) missing.push_back(r);
        }
      if (missing.empty() || std::chrono::steady_clock::now() > deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  } catch (const std::exception&) {
    missing = {0};
  }
  std::string names;
  for (int r : missing) names += (names.empty() ? "" : ", ") + std::to_string(r);
  if (missing.empty())
    throw PeerLost("rank " + std::to_string(world_.rank) + ": a collective failed (" + first_line + ")");
  throw PeerLost(
      "rank " + std::to_string(world_.rank) + ": lost rank " + names +
      " (its process ended, hung past distributed.timeout_s or lost its connection): " + first_line);
}

}  // namespace lab
