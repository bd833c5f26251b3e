// Collects what a causality probe measured: the largest change seen where a causal model allows none,
// each against a tolerance scaled to the tensor it was measured on.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

namespace lab {

// Changes up to this share of the reference tensor's largest magnitude are rounding (the same
// arithmetic on regrouped rows); a leak moves outputs by a visible fraction of their size.
constexpr double kRelativeTolerance = 1e-4;

struct Measurement {
  std::string what;   // "logits", "block 0 attention", "gradient of the inputs at j and later", ...
  std::string where;  // "row 1, j = 7, training mode, init 2"
  double change = 0;
  double tolerance = 0;
  bool must_be_zero = false;  // `change` is the size of something that must vanish, not a difference
  bool failed() const { return change > tolerance; }
};

class ChangeLog {
 public:
  // Largest |after - before|, against kRelativeTolerance of max|scale| (the reference itself when
  // `scale` is undefined).
  void compare(const std::string& what, const std::string& where, const torch::Tensor& before,
               const torch::Tensor& after, const torch::Tensor& scale = {});
  // A tensor that must be zero (gradients reaching positions at or after j), against `scale`.
  void expect_zero(const std::string& what, const std::string& where, const torch::Tensor& value,
                   const torch::Tensor& scale);
  // A change reported but not judged (whole-batch losses, coupling between batch rows); kept only when
  // it is above rounding.
  void note(const std::string& what, const std::string& where, const torch::Tensor& before,
            const torch::Tensor& after);
  void count_probe() { ++probes_; }

  bool passed() const;
  const Measurement& worst() const { return worst_; }  // the judged measurement closest to failing
  std::vector<Measurement> failures() const;           // the largest failing change of each `what`
  const std::vector<Measurement>& notes() const { return notes_; }
  int64_t probes() const { return probes_; }

 private:
  void judge(Measurement m);

  Measurement worst_;
  double worst_ratio_ = -1;
  std::vector<Measurement> failures_, notes_;
  int64_t probes_ = 0;
};

// The largest |value| over `tensors` (undefined ones skipped), as a scalar tensor.
torch::Tensor largest_magnitude(const std::vector<torch::Tensor>& tensors);

// Tensors [B, T, ...]: row `row`, positions before `j`.
torch::Tensor before_position(const torch::Tensor& x, int64_t row, int64_t j);
// Row `row`, positions j and later.
torch::Tensor from_position(const torch::Tensor& x, int64_t row, int64_t j);
// Every row but `row` (an empty tensor for one row).
torch::Tensor other_rows(const torch::Tensor& x, int64_t row);

}  // namespace lab
