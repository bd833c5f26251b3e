// Lowering to ONNX without ONNX headers: plugins describe their forward pass as nodes over named values
// through OnnxGraph, and the framework writes the protobuf. Every value is a string naming a tensor.
#pragma once

#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace lab {

class Rope;

// Thrown by an export hook for a setting the export cannot express; the exporter names the plugin.
class OnnxUnsupported : public std::runtime_error {
 public:
  explicit OnnxUnsupported(const std::string& reason) : std::runtime_error(reason) {}
};

// One node attribute: an int, a float or a list of ints.
struct OnnxAttribute {
  enum class Kind { Int, Float, Ints };
  std::string name;
  Kind kind = Kind::Int;
  int64_t i = 0;
  double f = 0;
  std::vector<int64_t> ints;

  static OnnxAttribute of(std::string name, int64_t value) {
    return {std::move(name), Kind::Int, value, 0, {}};
  }
  static OnnxAttribute of(std::string name, int value) { return of(std::move(name), int64_t{value}); }
  static OnnxAttribute of(std::string name, double value) {
    return {std::move(name), Kind::Float, 0, value, {}};
  }
  static OnnxAttribute of(std::string name, std::vector<int64_t> values) {
    return {std::move(name), Kind::Ints, 0, 0, std::move(values)};
  }
};

class OnnxGraph {
 public:
  virtual ~OnnxGraph() = default;
  // A constant (an initializer): float tensors are stored as float32, integer ones as int64.
  virtual std::string constant(const torch::Tensor& value, const std::string& hint) = 0;
  // One node of the default (ai.onnx) domain; returns the names of its `outputs` outputs. An empty
  // input name leaves an optional input out.
  virtual std::vector<std::string> node(const std::string& op, const std::vector<std::string>& inputs,
                                        int outputs, const std::vector<OnnxAttribute>& attributes = {}) = 0;
  // The longest sequence the export serves: position tables are stored for this many positions.
  virtual int64_t max_seq_len() const = 0;
  // The value `make` builds, built once per `key` (masks and tables shared by every layer).
  virtual std::string shared(const std::string& key, const std::function<std::string()>& make) = 0;

  // A node with one output.
  std::string op(const std::string& op, const std::vector<std::string>& inputs,
                 const std::vector<OnnxAttribute>& attributes = {}) {
    return node(op, inputs, 1, attributes).front();
  }
};

// What the attention slot's export hook receives: the same services as AttendContext, as graph nodes.
class OnnxAttend {
 public:
  virtual ~OnnxAttend() = default;
  // q [B, H, T, Dqk], k [B, H, T, Dqk], v [B, H, T, Dv] -> [B, H, T, Dv]; as AttendContext::attend.
  virtual std::string attend(const std::string& x, const std::string& q, const std::string& k,
                             const std::string& v, double scale) = 0;
  // Rotates x [B, H, T, D] (H may be 1; D the attention's rope_dim) with the RoPE slot.
  virtual std::string rotate(const std::string& x) = 0;
};

// Graph helpers every plugin may use (lab_core implements them).
namespace onnx_ops {

std::string ints(OnnxGraph& g, const std::vector<int64_t>& values);  // an int64 [n] constant
std::string scalar(OnnxGraph& g, double value);                      // a float32 [] constant
// x [..., in] -> [..., out] with weight [out, in] and an optional bias [out].
std::string linear(OnnxGraph& g, const std::string& x, const torch::Tensor& weight,
                   const torch::Tensor& bias = {});
std::string linear(OnnxGraph& g, const std::string& x, const torch::nn::Linear& layer);
// x · (mean(x², -1) + eps)^(-1/2) · weight, RMSNorm built from primitives (opset 17 has none).
std::string rms_norm(OnnxGraph& g, const std::string& x, const torch::Tensor& weight, double eps);
// x [B, T, H·D] -> [B, H, T, D], and back.
std::string split_heads(OnnxGraph& g, const std::string& x, int64_t heads, int64_t dim);
std::string merge_heads(OnnxGraph& g, const std::string& x, int64_t width);
// x[..., start : start + length] along `axis`.
std::string narrow(OnnxGraph& g, const std::string& x, int64_t axis, int64_t start, int64_t length);
std::string concat(OnnxGraph& g, const std::vector<std::string>& xs, int64_t axis);
// Dim `axis` of x as an int64 [1] tensor.
std::string dim(OnnxGraph& g, const std::string& x, int64_t axis);
// The first T rows of a constant table [max_seq_len, ...], T being dim `axis` of `like`.
std::string rows_for(OnnxGraph& g, const std::string& table, const std::string& like, int64_t axis);
// [T, T] bool, true where key s may be seen by query t (s <= t); T is dim `axis` of x.
std::string causal_allowed(OnnxGraph& g, const std::string& x, int64_t axis);
// softmax(q kᵀ · scale, masked to `allowed`) v for q [B, H, T, Dqk], k [B, H, S, Dqk], v [B, H, S, Dv];
// `allowed` is bool and broadcasts to [B, H, T, S] ("": every key).
std::string attention(OnnxGraph& g, const std::string& q, const std::string& k, const std::string& v,
                      double scale, const std::string& allowed);
// The kernel slot's contract at inference (T == S): causal (or unmasked) softmax attention.
std::string dense_attention(OnnxGraph& g, const std::string& q, const std::string& k, const std::string& v,
                            double scale, bool causal);
// The RoPE slot's cos and sin [T, D/2] for positions 0 .. T-1, T being dim `axis` of `like`: rows of
// tables stored for graph.max_seq_len() positions. Throws OnnxUnsupported when the tables change with
// the sequence length (one stored table could not serve every length).
std::pair<std::string, std::string> position_tables(OnnxGraph& g, const Rope& rope, const std::string& like,
                                                    int64_t axis);
// Rotates x [..., D] by cos and sin, which broadcast against x[..., :D/2]: pairs (2i, 2i+1) when
// interleaved, (i, i + D/2) otherwise.
std::string rotate(OnnxGraph& g, const std::string& x, const std::string& cos, const std::string& sin,
                   bool interleaved);

}  // namespace onnx_ops

}  // namespace lab
