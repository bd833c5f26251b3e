#include "distributed/gradient_buckets.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <optional>

namespace lab {

// Gradients of `members` back to back, then one flag per member: 1 where this rank has the gradient.
struct GradientBuckets::Bucket {
  std::vector<size_t> members;
  int64_t elements = 0;
  torch::Tensor flat;
  size_t waiting = 0;  // members whose gradient has not arrived yet
  std::optional<Communicator::Pending> work;
};

GradientBuckets::GradientBuckets(Communicator& comm, int64_t bucket_bytes)
    : comm_(comm), bucket_elements_(std::max<int64_t>(bucket_bytes / 4, 1)) {}

GradientBuckets::~GradientBuckets() { release_hooks(); }

void GradientBuckets::watch(const std::vector<torch::Tensor>& parameters) {
  // Hooks stay from step to step (LibTorch keeps a slot for every hook ever added to a tensor), and
  // are replaced only when the parameters that train change (a new stage).
  if (!same_parameters(parameters)) {
    release_hooks();
    params_ = parameters;
    for (size_t n = 0; n < params_.size(); ++n)
      hook_ids_.push_back(params_[n].register_hook([this, n](const torch::Tensor& grad) {
        if (armed_) fill(n, grad);
      }));
  }
  armed_ = true;
  buckets_.clear();
  bucket_of_.assign(params_.size(), 0);
  offset_of_.assign(params_.size(), 0);
  filled_.assign(params_.size(), false);
  // Backward produces the last layers' gradients first: buckets are cut from the end of the list.
  for (size_t n = params_.size(); n-- > 0;) {
    const int64_t size = params_[n].numel();
    if (buckets_.empty() ||
        (buckets_.back()->elements > 0 && buckets_.back()->elements + size > bucket_elements_))
      buckets_.push_back(std::make_unique<Bucket>());
    Bucket& bucket = *buckets_.back();
    bucket_of_[n] = buckets_.size() - 1;
    offset_of_[n] = bucket.elements;
    bucket.elements += size;
    bucket.members.push_back(n);
  }
  for (auto& bucket : buckets_) {
    const int64_t size = bucket->elements + static_cast<int64_t>(bucket->members.size());
    bucket->flat = torch::zeros({size}, torch::dtype(torch::kFloat32).device(params_.front().device()));
    bucket->waiting = bucket->members.size();
  }
}

void GradientBuckets::release_hooks() {
  for (size_t n = 0; n < hook_ids_.size(); ++n) params_[n].remove_hook(hook_ids_[n]);
  hook_ids_.clear();
  params_.clear();
}

bool GradientBuckets::same_parameters(const std::vector<torch::Tensor>& parameters) const {
  if (parameters.size() != params_.size() || hook_ids_.size() != params_.size()) return false;
  for (size_t n = 0; n < params_.size(); ++n)
    if (!parameters[n].is_same(params_[n])) return false;
  return true;
}

// The gradient autograd hands the hook is this pass's part; the parameter's .grad still holds the
// earlier micro-batches' sum, which the bucket adds so it carries the step's whole gradient.
void GradientBuckets::fill(size_t param, const torch::Tensor& grad) {
  Bucket& bucket = *buckets_[bucket_of_[param]];
  if (bucket.work) return;  // cannot happen for a leaf (autograd sums its inputs first); kept safe
  torch::NoGradGuard no_grad;
  const torch::Tensor& held = params_[param].grad();
  auto slice = bucket.flat.narrow(0, offset_of_[param], params_[param].numel());
  if (filled_[param])
    slice.add_(grad.reshape({-1}));
  else if (held.defined())
    slice.copy_(held.reshape({-1}) + grad.reshape({-1}));
  else
    slice.copy_(grad.reshape({-1}));
  if (filled_[param]) return;
  filled_[param] = true;
  const auto position = static_cast<int64_t>(std::find(bucket.members.begin(), bucket.members.end(), param) -
                                             bucket.members.begin());
  bucket.flat.narrow(0, bucket.elements + position, 1).fill_(1.0f);
  if (--bucket.waiting == 0) start(bucket);
}

void GradientBuckets::start(Bucket& bucket) { bucket.work.emplace(comm_.start_sum(bucket.flat)); }

double GradientBuckets::finish() {
  armed_ = false;
  torch::NoGradGuard no_grad;
  // Gradients the last pass did not produce (reached by earlier micro-batches only, or not at all).
  for (size_t n = 0; n < params_.size(); ++n) {
    if (filled_[n]) continue;
    Bucket& bucket = *buckets_[bucket_of_[n]];
    const torch::Tensor& held = params_[n].grad();
    if (held.defined()) {
      bucket.flat.narrow(0, offset_of_[n], params_[n].numel()).copy_(held.reshape({-1}));
      const auto position = static_cast<int64_t>(std::find(bucket.members.begin(), bucket.members.end(), n) -
                                                 bucket.members.begin());
      bucket.flat.narrow(0, bucket.elements + position, 1).fill_(1.0f);
    }
    filled_[n] = true;
    if (--bucket.waiting == 0) start(bucket);
  }
  const auto wait_start = std::chrono::steady_clock::now();
  for (auto& bucket : buckets_) bucket->work->wait();
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - wait_start).count();
  const double ranks = comm_.world().size;
  for (auto& bucket : buckets_) {
    const auto flag_tensor =
        bucket->flat.narrow(0, bucket->elements, static_cast<int64_t>(bucket->members.size())).cpu();
    const float* flags = flag_tensor.data_ptr<float>();
    for (size_t m = 0; m < bucket->members.size(); ++m) {
      if (flags[m] == 0) continue;  // no rank has this gradient
      const size_t n = bucket->members[m];
      torch::Tensor& param = params_[n];
      auto mean = bucket->flat.narrow(0, offset_of_[n], param.numel()).view(param.sizes()) / ranks;
      if (param.grad().defined())
        param.mutable_grad().copy_(mean);
      else
        param.mutable_grad() = mean.to(param.scalar_type());
    }
  }
  buckets_.clear();
  return waited;
}

}  // namespace lab
