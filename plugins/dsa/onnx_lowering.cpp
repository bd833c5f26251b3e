#include "onnx_lowering.hpp"

#include "indexer.hpp"

#include <cmath>
#include <limits>

namespace dsa {

namespace {

using A = lab::OnnxAttribute;
namespace ops = lab::onnx_ops;

std::string perm(lab::OnnxGraph& g, const std::string& x, std::vector<int64_t> order) {
  return g.op("Transpose", {x}, {A::of("perm", std::move(order))});
}

// The leading `rope_dim` dims of x rotated half-split by cos, sin; the rest unchanged.
std::string rotate_leading(lab::OnnxGraph& g, const std::string& x, int64_t rope_dim, int64_t dim,
                           const std::string& cos, const std::string& sin) {
  auto rotated = ops::rotate(g, ops::narrow(g, x, -1, 0, rope_dim), cos, sin, /*interleaved=*/false);
  if (rope_dim == dim) return rotated;
  return ops::concat(g, {rotated, ops::narrow(g, x, -1, rope_dim, dim - rope_dim)}, -1);
}

}  // namespace

std::string IndexerImpl::export_onnx(lab::OnnxGraph& g, const std::string& x) {
  torch::NoGradGuard no_grad;
  auto q = g.op("Reshape", {ops::linear(g, x, wq_), ops::ints(g, {0, 0, heads_, dim_})});  // [B, T, HI, dI]
  auto k = g.op("LayerNormalization",
                {ops::linear(g, x, wk_), g.constant(k_norm_->weight, "k_norm_weight"),
                 g.constant(k_norm_->bias, "k_norm_bias")},
                {A::of("axis", -1), A::of("epsilon", k_norm_->options.eps())});  // [B, T, dI]
  if (rope_dim_ > 0) {
    TORCH_CHECK(rope_, "dsa: the indexer has no RoPE; the model hands it the RoPE slot's (use_rope)");
    auto [cos, sin] = ops::position_tables(g, *rope_, x, 1);  // [T, r/2]
    q = rotate_leading(g, q, rope_dim_, dim_, g.op("Unsqueeze", {cos, ops::ints(g, {1})}),
                       g.op("Unsqueeze", {sin, ops::ints(g, {1})}));
    k = rotate_leading(g, k, rope_dim_, dim_, cos, sin);
  }
  auto w = g.op("Mul", {ops::linear(g, x, weights_), ops::scalar(g, 1.0 / std::sqrt(double(heads_ * dim_)))});
  // Σ_j w_j·ReLU(q_j·k_s): [B, HI, T, dI] x [B, 1, dI, S] -> [B, HI, T, S], summed over heads.
  auto products = g.op(
      "MatMul", {perm(g, q, {0, 2, 1, 3}), g.op("Unsqueeze", {perm(g, k, {0, 2, 1}), ops::ints(g, {1})})});
  auto weights = g.op("Unsqueeze", {perm(g, w, {0, 2, 1}), ops::ints(g, {3})});
  auto scores = g.op("ReduceSum", {g.op("Mul", {weights, g.op("Relu", {products})}), ops::ints(g, {1})},
                     {A::of("keepdims", 0)});
  auto minus_inf = ops::scalar(g, -std::numeric_limits<double>::infinity());
  return g.op("Where", {ops::causal_allowed(g, x, 1), scores, minus_inf});
}

std::string selected_attention_onnx(lab::OnnxGraph& g, const std::string& scores, const std::string& q,
                                    const std::string& k, const std::string& v, double scale, int64_t top_k) {
  auto width = g.op("Min", {ops::ints(g, {top_k}), ops::dim(g, scores, 2)});
  auto picked = g.node("TopK", {scores, width}, 2, {A::of("axis", -1)})[1];  // [B, T, min(top_k, S)]
  // Ones scattered over zeros at the picked keys; picks past the causal horizon (a query with fewer
  // keys than top_k) are dropped by the causal mask.
  auto zeros = g.op("Expand", {ops::scalar(g, 0.0), g.op("Shape", {scores})});
  auto ones = g.op("Expand", {ops::scalar(g, 1.0), g.op("Shape", {picked})});
  auto chosen = g.op("Cast", {g.op("ScatterElements", {zeros, picked, ones}, {A::of("axis", -1)})},
                     {A::of("to", int64_t{9})});  // BOOL
  auto allowed = g.op("And", {chosen, ops::causal_allowed(g, scores, 1)});
  return ops::attention(g, q, k, v, scale, g.op("Unsqueeze", {allowed, ops::ints(g, {1})}));
}

}  // namespace dsa
