#include "distributed/data_parallel.hpp"

#include <lab/error.hpp>

#include <torch/torch.h>

#include <exception>

namespace lab {

namespace {
double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
}  // namespace

DataParallel::DataParallel(const World& world, const torch::Device& device, std::chrono::milliseconds timeout,
                           int64_t bucket_bytes)
    : comm_(world, device, timeout), buckets_(comm_, bucket_bytes) {}

void DataParallel::together(const std::function<void()>& work) {
  std::exception_ptr failure;
  try {
    work();
  } catch (...) {
    failure = std::current_exception();
  }
  auto failed = torch::zeros({size()}, torch::kFloat64);
  if (failure) failed[rank()] = 1.0;
  comm_.sum(failed);
  if (failure) std::rethrow_exception(failure);
  std::string names;
  const double* flags = failed.data_ptr<double>();
  for (int r = 0; r < size(); ++r)
    if (flags[r] > 0) names += (names.empty() ? "" : ", ") + std::to_string(r);
  if (!names.empty())
    throw InputError("rank " + std::to_string(rank()) + ": stopping because rank " + names +
                     " could not start (see its message)");
}

int64_t DataParallel::from_root(int64_t value) {
  auto t = torch::full({1}, is_root() ? static_cast<double>(value) : 0.0, torch::kFloat64);
  comm_.sum(t);
  return static_cast<int64_t>(t.item<double>());
}

void DataParallel::broadcast_model(LanguageModel& model) {
  torch::NoGradGuard no_grad;
  auto share = [&](torch::Tensor& t) {
    // Gloo has no bf16: such tensors travel as fp32.
    if (t.scalar_type() == torch::kFloat32 || t.scalar_type() == torch::kFloat64) {
      comm_.broadcast_from_root(t);
      return;
    }
    auto wide = t.to(torch::kFloat64);
    comm_.broadcast_from_root(wide);
    t.copy_(wide);
  };
  for (auto& p : model->parameters()) share(p);
  for (auto& b : model->buffers()) share(b);
}

void DataParallel::sum_in_place(torch::Tensor& tensor) {
  const auto start = std::chrono::steady_clock::now();
  torch::NoGradGuard no_grad;
  auto wide = tensor.to(torch::kFloat64).contiguous();
  comm_.sum(wide);
  tensor.copy_(wide);
  comm_seconds_ += seconds_since(start);
}

void DataParallel::sum(std::vector<double>& values, bool step) {
  const auto start = std::chrono::steady_clock::now();
  auto t = torch::tensor(values, torch::kFloat64);
  comm_.sum(t);
  const double* summed = t.data_ptr<double>();
  for (size_t n = 0; n < values.size(); ++n) values[n] = summed[n];
  if (step) comm_seconds_ += seconds_since(start);
}

double DataParallel::take_comm_seconds() {
  const double s = comm_seconds_;
  comm_seconds_ = 0;
  return s;
}

}  // namespace lab
