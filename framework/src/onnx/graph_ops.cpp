// The graph helpers of lab/onnx_graph.hpp: small compositions of opset-17 operators.
#include <lab/onnx_graph.hpp>
#include <lab/rope.hpp>

#include <torch/torch.h>

#include <cstdint>
#include <limits>

namespace lab::onnx_ops {

namespace {

using A = OnnxAttribute;

std::string shared_ints(OnnxGraph& g, const std::vector<int64_t>& values) {
  std::string key = "ints";
  for (int64_t v : values) key += "," + std::to_string(v);
  return g.shared(key, [&] { return ints(g, values); });
}

}  // namespace

std::string ints(OnnxGraph& g, const std::vector<int64_t>& values) {
  return g.constant(torch::tensor(values, torch::kInt64), "ints");
}

std::string scalar(OnnxGraph& g, double value) {
  return g.constant(torch::scalar_tensor(value, torch::kFloat32), "scalar");
}

std::string linear(OnnxGraph& g, const std::string& x, const torch::Tensor& weight,
                   const torch::Tensor& bias) {
  // The weight is stored transposed, [in, out], so the product is one MatMul.
  auto y = g.op("MatMul", {x, g.constant(weight.detach().t(), "weight")});
  if (bias.defined()) y = g.op("Add", {y, g.constant(bias.detach(), "bias")});
  return y;
}

std::string linear(OnnxGraph& g, const std::string& x, const torch::nn::Linear& layer) {
  return linear(g, x, layer->weight, layer->bias);
}

std::string rms_norm(OnnxGraph& g, const std::string& x, const torch::Tensor& weight, double eps) {
  auto mean_square = g.op("ReduceMean", {g.op("Mul", {x, x})}, {A::of("axes", std::vector<int64_t>{-1})});
  auto inverse = g.op("Reciprocal", {g.op("Sqrt", {g.op("Add", {mean_square, scalar(g, eps)})})});
  return g.op("Mul", {g.op("Mul", {x, inverse}), g.constant(weight.detach(), "norm_weight")});
}

std::string split_heads(OnnxGraph& g, const std::string& x, int64_t heads, int64_t dim) {
  auto shaped = g.op("Reshape", {x, shared_ints(g, {0, 0, heads, dim})});
  return g.op("Transpose", {shaped}, {A::of("perm", std::vector<int64_t>{0, 2, 1, 3})});
}

std::string merge_heads(OnnxGraph& g, const std::string& x, int64_t width) {
  auto t = g.op("Transpose", {x}, {A::of("perm", std::vector<int64_t>{0, 2, 1, 3})});
  return g.op("Reshape", {t, shared_ints(g, {0, 0, width})});
}

std::string narrow(OnnxGraph& g, const std::string& x, int64_t axis, int64_t start, int64_t length) {
  return g.op("Slice",
              {x, shared_ints(g, {start}), shared_ints(g, {start + length}), shared_ints(g, {axis})});
}

std::string concat(OnnxGraph& g, const std::vector<std::string>& xs, int64_t axis) {
  return g.op("Concat", xs, {A::of("axis", axis)});
}

std::string dim(OnnxGraph& g, const std::string& x, int64_t axis) {
  auto shape = g.op("Shape", {x});
  return g.op("Gather", {shape, shared_ints(g, {axis})}, {A::of("axis", 0)});
}

std::string rows_for(OnnxGraph& g, const std::string& table, const std::string& like, int64_t axis) {
  return g.op("Slice", {table, shared_ints(g, {0}), dim(g, like, axis), shared_ints(g, {0})});
}

std::string causal_allowed(OnnxGraph& g, const std::string& x, int64_t axis) {
  return g.shared("causal_allowed", [&] {
    auto length = g.op("Squeeze", {dim(g, x, axis), shared_ints(g, {0})});
    auto zero = g.constant(torch::scalar_tensor(0, torch::kInt64), "zero");
    auto one = g.constant(torch::scalar_tensor(1, torch::kInt64), "one");
    auto positions = g.op("Range", {zero, length, one});
    auto keys = g.op("Unsqueeze", {positions, shared_ints(g, {0})});     // [1, T]
    auto queries = g.op("Unsqueeze", {positions, shared_ints(g, {1})});  // [T, 1]
    return g.op("LessOrEqual", {keys, queries});
  });
}

std::string attention(OnnxGraph& g, const std::string& q, const std::string& k, const std::string& v,
                      double scale, const std::string& allowed) {
  auto kt = g.op("Transpose", {k}, {A::of("perm", std::vector<int64_t>{0, 1, 3, 2})});
  auto scores = g.op("Mul", {g.op("MatMul", {q, kt}), scalar(g, scale)});
  if (!allowed.empty()) {
    auto minus_inf =
        g.shared("minus_inf", [&] { return scalar(g, -std::numeric_limits<double>::infinity()); });
    scores = g.op("Where", {allowed, scores, minus_inf});
  }
  return g.op("MatMul", {g.op("Softmax", {scores}, {A::of("axis", -1)}), v});
}

std::string dense_attention(OnnxGraph& g, const std::string& q, const std::string& k, const std::string& v,
                            double scale, bool causal) {
  return attention(g, q, k, v, scale, causal ? causal_allowed(g, q, 2) : std::string());
}

std::pair<std::string, std::string> position_tables(OnnxGraph& g, const Rope& rope, const std::string& like,
                                                    int64_t axis) {
  const int64_t length = g.max_seq_len();
  const std::string key = "rope" + std::to_string(reinterpret_cast<uintptr_t>(&rope));
  // Named tensors, not a structured binding: the lambdas below capture them, which C++17 allows only
  // for variables (clang rejects capturing a binding).
  torch::Tensor cos, sin;
  std::tie(cos, sin) = rope.tables(length, torch::kCPU);
  // A stored table serves every shorter sequence only if shorter sequences get its first rows.
  for (int64_t shorter : {int64_t{2}, length / 2, length - 1}) {
    if (shorter < 2 || shorter >= length) continue;
    auto [cos_short, sin_short] = rope.tables(shorter, torch::kCPU);
    if (!torch::equal(cos.narrow(0, 0, shorter), cos_short) ||
        !torch::equal(sin.narrow(0, 0, shorter), sin_short))
      throw OnnxUnsupported("its position tables change with the sequence length (a sequence of " +
                            std::to_string(shorter) + " positions is rotated differently from the first " +
                            std::to_string(shorter) + " of " + std::to_string(length) + ")");
  }
  auto cos_rows =
      g.shared(key + ".cos", [&] { return rows_for(g, g.constant(cos, "rope_cos"), like, axis); });
  auto sin_rows =
      g.shared(key + ".sin", [&] { return rows_for(g, g.constant(sin, "rope_sin"), like, axis); });
  return {cos_rows, sin_rows};
}

std::string rotate(OnnxGraph& g, const std::string& x, const std::string& cos, const std::string& sin,
                   bool interleaved) {
  const int64_t end = std::numeric_limits<int64_t>::max();
  std::string first, second;
  if (interleaved) {
    first = g.op("Slice",
                 {x, shared_ints(g, {0}), shared_ints(g, {end}), shared_ints(g, {-1}), shared_ints(g, {2})});
    second = g.op("Slice",
                  {x, shared_ints(g, {1}), shared_ints(g, {end}), shared_ints(g, {-1}), shared_ints(g, {2})});
  } else {
    auto halves = g.node("Split", {x}, 2, {A::of("axis", -1)});
    first = halves[0], second = halves[1];
  }
  auto out_first = g.op("Sub", {g.op("Mul", {first, cos}), g.op("Mul", {second, sin})});
  auto out_second = g.op("Add", {g.op("Mul", {second, cos}), g.op("Mul", {first, sin})});
  if (!interleaved) return concat(g, {out_first, out_second}, -1);
  // Pairs back side by side: [..., D/2, 2] reshaped to x's own shape.
  auto pairs = concat(g,
                      {g.op("Unsqueeze", {out_first, shared_ints(g, {-1})}),
                       g.op("Unsqueeze", {out_second, shared_ints(g, {-1})})},
                      -1);
  return g.op("Reshape", {pairs, g.op("Shape", {x})});
}

}  // namespace lab::onnx_ops
