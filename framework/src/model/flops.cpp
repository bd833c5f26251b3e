#include "model/flops.hpp"

namespace lab {

namespace {
bool is_routed_expert(const std::string& name) {
  for (const char* stack : {".moe.w_gate", ".moe.w_up", ".moe.w_down"}) {
    const std::string suffix(stack);
    if (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      return true;
  }
  return false;
}
}  // namespace

FlopsPerToken model_flops_per_token(torch::nn::Module& model, const ModelDims& dims) {
  FlopsPerToken f;
  const double active_share =
      dims.n_experts > 0 ? static_cast<double>(dims.top_k) / static_cast<double>(dims.n_experts) : 1.0;
  for (const auto& p : model.named_parameters()) {
    if (p.value().dim() < 2) continue;  // norms and biases: no matrix product
    const double n = static_cast<double>(p.value().numel());
    f.matmul_params += is_routed_expert(p.key()) ? n * active_share : n;
  }
  const double attention = 4.0 * static_cast<double>(dims.n_layers * dims.seq_len * dims.d_model);
  f.forward = 2.0 * f.matmul_params + attention;
  f.training = 3.0 * f.forward;
  return f;
}

}  // namespace lab
