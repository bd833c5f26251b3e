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
  const double pairs = s.causal ? t * (t + 1) / 2 : t * t;
  return 2.0 * s.batch * s.heads * pairs * static_cast<double>(s.head_dim + s.v_head_dim);
}

ProfileRow measure(const std::string& name, const Kernel& kernel, const ProfileShape& s) {
  ProfileRow row;
  row.kernel = name;
  row.seq_len = s.seq_len;
  try {
    MemoryMeter meter(s.device);
    const auto options = torch::TensorOptions().device(s.device).dtype(s.dtype);
    torch::manual_seed(0);
    auto q = torch::randn({s.batch, s.heads, s.seq_len, s.head_dim}, options).requires_grad_(true);
    auto k = torch::randn({s.batch, s.heads, s.seq_len, s.head_dim}, options).requires_grad_(true);
    auto v = torch::randn({s.batch, s.heads, s.seq_len, s.v_head_dim}, options).requires_grad_(true);
    auto probe = torch::randn({s.batch, s.heads, s.seq_len, s.v_head_dim}, options);
    KernelArgs args;
    args.scale = 1.0 / std::sqrt(static_cast<double>(s.head_dim));
    args.causal = s.causal;
    args.training = true;

    auto forward = [&] {
      torch::NoGradGuard no_grad;
      return kernel.attend(q, k, v, args);
    };
    auto train = [&] {
      auto out = kernel.attend(q, k, v, args);
      return torch::autograd::grad({out}, {q, k, v}, {probe});
    };
    forward();  // warm-up: first-touch allocations, lazy initialisation
    train();

    std::vector<double> fwd, trn;
    for (int r = 0; r < s.repeats; ++r) {
      fwd.push_back(time_ms(s.device, forward));
      trn.push_back(time_ms(s.device, train));
    }
    row.forward_ms = median(fwd);
    row.train_ms = median(trn);
    const double flops = forward_flops(s);
    row.forward_gflops = flops / (row.forward_ms * 1e6);
    row.train_gflops = 3.0 * flops / (row.train_ms * 1e6);

    synchronize(s.device);
    meter.reset_peak();
    const int64_t base = meter.live_bytes();
    {
      auto out = kernel.attend(q, k, v, args);
      synchronize(s.device);
      // What autograd holds for the backward, beyond the inputs (the output itself included).
      row.held_mib = static_cast<double>(meter.live_bytes() - base) / kMiB;
      auto grads = torch::autograd::grad({out}, {q, k, v}, {probe});
      synchronize(s.device);
    }
    row.peak_mib = static_cast<double>(meter.peak_bytes() - base) / kMiB;
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    std::string message = e.what();
    row.error = message.substr(0, message.find('\n'));
  }
  return row;
}

}  // namespace lab::app
