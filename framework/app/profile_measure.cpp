#include "profile_measure.hpp"

#include "profile_memory.hpp"

#include <lab/error.hpp>

#include <torch/torch.h>
#ifdef LAB_TORCH_CUDA
#include <torch/cuda.h>
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

namespace lab::app {

namespace {

void synchronize(const torch::Device& device) {
#ifdef LAB_TORCH_CUDA
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
#else
  (void)device;
#endif
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

template <typename F>
double time_ms(const torch::Device& device, F&& f) {
  synchronize(device);
  const auto start = std::chrono::steady_clock::now();
  f();
  synchronize(device);
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

constexpr double kMiB = 1024.0 * 1024.0;

}  // namespace

double forward_flops(const ProfileShape& s) {
  const double t = static_cast<double>(s.seq_len);
  double pairs = s.causal ? t * (t + 1) / 2 : t * t;
  if (s.top_k > 0 && s.top_k < s.seq_len) {
    const double k = static_cast<double>(s.top_k);
    // Causal: query i sees min(i + 1, k) keys, i.e. k(k+1)/2 over the first k queries and k after.
    pairs = s.causal ? k * (k + 1) / 2 + (t - k) * k : t * k;
  }
  return 2.0 * s.batch * s.heads * pairs * static_cast<double>(s.head_dim + s.v_head_dim);
}

ProfileCase::ProfileCase(std::string name, const Kernel& kernel, const ProfileShape& s, ExtraLoss extra)
    : kernel_(kernel), shape_(s), extra_(std::move(extra)) {
  row_.kernel = std::move(name);
  row_.seq_len = s.seq_len;
  row_.top_k = s.top_k;
  args_.scale = 1.0 / std::sqrt(static_cast<double>(s.head_dim));
  args_.causal = s.causal;
  args_.training = true;
  try {
    MemoryMeter meter(s.device);
    const auto options = torch::TensorOptions().device(s.device).dtype(s.dtype);
    torch::manual_seed(0);
    q_ = torch::randn({s.batch, s.heads, s.seq_len, s.head_dim}, options).requires_grad_(true);
    k_ = torch::randn({s.batch, s.heads, s.seq_len, s.head_dim}, options).requires_grad_(true);
    v_ = torch::randn({s.batch, s.heads, s.seq_len, s.v_head_dim}, options).requires_grad_(true);
    probe_ = torch::randn({s.batch, s.heads, s.seq_len, s.v_head_dim}, options);
    attend(false);  // warm-up: first-touch allocations, lazy initialisation
    backward(attend(true));

    synchronize(s.device);
    meter.reset_peak();
    const int64_t base = meter.live_bytes();
    {
      auto out = attend(true);
      synchronize(s.device);
      // What autograd holds for the backward, beyond the inputs (the output itself included).
      row_.held_mib = static_cast<double>(meter.live_bytes() - base) / kMiB;
      backward(out);
      synchronize(s.device);
    }
    row_.peak_mib = static_cast<double>(meter.peak_bytes() - base) / kMiB;
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    std::string message = e.what();
    row_.error = message.substr(0, message.find('\n'));
  }
}

torch::Tensor ProfileCase::attend(bool grad) const {
  torch::AutoGradMode mode(grad);
  return kernel_.attend(q_, k_, v_, args_);
}

// Backward into q, k, v (and whatever the extra losses train, e.g. a sparse plugin's indexer).
void ProfileCase::backward(const torch::Tensor& out) {
  auto loss = (out * probe_).sum();
  if (extra_) loss = loss + extra_();
  loss.backward();
  for (auto* t : {&q_, &k_, &v_}) t->mutable_grad() = torch::Tensor();
}

void ProfileCase::time_once() {
  if (!row_.error.empty()) return;
  try {
    forward_ms_.push_back(time_ms(shape_.device, [&] { attend(false); }));
    train_ms_.push_back(time_ms(shape_.device, [&] { backward(attend(true)); }));
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    std::string message = e.what();
    row_.error = message.substr(0, message.find('\n'));
  }
}

ProfileRow ProfileCase::row() const {
  ProfileRow row = row_;
  if (!row.error.empty() || forward_ms_.empty()) return row;
  auto spread = [](const std::vector<double>& v, double mid) {
    return (*std::max_element(v.begin(), v.end()) - *std::min_element(v.begin(), v.end())) / mid;
  };
  row.forward_ms = median(forward_ms_);
  row.train_ms = median(train_ms_);
  row.forward_spread = spread(forward_ms_, row.forward_ms);
  row.train_spread = spread(train_ms_, row.train_ms);
  const double flops = forward_flops(shape_);
  row.forward_gflops = flops / (row.forward_ms * 1e6);
  row.train_gflops = 3.0 * flops / (row.train_ms * 1e6);
  return row;
}

}  // namespace lab::app
