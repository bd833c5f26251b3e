#include "audit/change_log.hpp"

#include <torch/torch.h>

#include <algorithm>

namespace lab {

namespace {

double max_abs(const torch::Tensor& x) {
  if (!x.defined() || x.numel() == 0) return 0.0;
  return x.detach().abs().max().to(torch::kFloat64).item<double>();
}

double tolerance_for(const torch::Tensor& scale) {
  // A floor keeps an all-zero reference from turning rounding into a failure.
  return kRelativeTolerance * std::max(max_abs(scale), 1e-6);
}

}  // namespace

void ChangeLog::compare(const std::string& what, const std::string& where, const torch::Tensor& before,
                        const torch::Tensor& after, const torch::Tensor& scale) {
  if (!before.defined() || before.numel() == 0) return;
  const double change = max_abs(after.detach().to(torch::kFloat64) - before.detach().to(torch::kFloat64));
  judge({what, where, change, tolerance_for(scale.defined() ? scale : before)});
}

void ChangeLog::expect_zero(const std::string& what, const std::string& where, const torch::Tensor& value,
                            const torch::Tensor& scale) {
  if (!value.defined() || value.numel() == 0) return;
  judge({what, where, max_abs(value), tolerance_for(scale), true});
}

void ChangeLog::note(const std::string& what, const std::string& where, const torch::Tensor& before,
                     const torch::Tensor& after) {
  if (!before.defined() || before.numel() == 0) return;
  const Measurement m{what, where,
                      max_abs(after.detach().to(torch::kFloat64) - before.detach().to(torch::kFloat64)),
                      tolerance_for(before)};
  if (!m.failed()) return;
  for (auto& n : notes_)
    if (n.what == what) {
      if (m.change > n.change) n = m;
      return;
    }
  notes_.push_back(m);
}

void ChangeLog::judge(Measurement m) {
  const double ratio = m.change / m.tolerance;
  if (ratio > worst_ratio_) {
    worst_ratio_ = ratio;
    worst_ = m;
  }
  if (!m.failed()) return;
  for (auto& f : failures_)
    if (f.what == m.what) {
      if (m.change > f.change) f = m;
      return;
    }
  failures_.push_back(std::move(m));
}

bool ChangeLog::passed() const { return failures_.empty(); }

std::vector<Measurement> ChangeLog::failures() const { return failures_; }

torch::Tensor largest_magnitude(const std::vector<torch::Tensor>& tensors) {
  double largest = 0;
  for (const auto& t : tensors) largest = std::max(largest, max_abs(t));
  return torch::tensor(largest, torch::kFloat64);
}

torch::Tensor before_position(const torch::Tensor& x, int64_t row, int64_t j) {
  return x.select(0, row).narrow(0, 0, j);
}

torch::Tensor from_position(const torch::Tensor& x, int64_t row, int64_t j) {
  return x.select(0, row).narrow(0, j, x.size(1) - j);
}

torch::Tensor other_rows(const torch::Tensor& x, int64_t row) {
  if (x.size(0) < 2) return torch::Tensor();
  std::vector<int64_t> keep;
  for (int64_t r = 0; r < x.size(0); ++r)
    if (r != row) keep.push_back(r);
  return x.index_select(0, torch::tensor(keep, torch::kLong).to(x.device()));
}

}  // namespace lab
