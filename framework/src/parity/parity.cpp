#include "parity/parity.hpp"

#include "util/safetensors.hpp"

#include <lab/error.hpp>
#include <lab/reference_attention.hpp>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

namespace lab {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Runs the kernel slot for the output and the explicit softmax for the probabilities it is checked on.
class ParityContext : public AttendContext {
 public:
  ParityContext(const Rope& rope, const Kernel& kernel, bool causal)
      : rope_(rope), kernel_(kernel), causal_(causal) {}

  torch::Tensor attend(const torch::Tensor&, const torch::Tensor& q, const torch::Tensor& k,
                       const torch::Tensor& v, double scale) override {
    KernelArgs args;
    args.scale = scale * rope_.softmax_scale_factor();
    args.causal = causal_;
    used_scale = args.scale;
    auto logits = torch::matmul(q.to(torch::kFloat32), k.to(torch::kFloat32).transpose(-2, -1)) * args.scale;
    if (causal_)
      logits = logits.masked_fill(causal_mask(q.size(-2), k.size(-2), q.device()),
                                  -std::numeric_limits<float>::infinity());
    probs = torch::softmax(logits, -1);
    return kernel_.attend(q, k, v, args);
  }
  const Rope& rope() const override { return rope_; }
  ForwardState& state() override { return state_; }

  torch::Tensor probs;
  double used_scale = 0;

 private:
  const Rope& rope_;
  const Kernel& kernel_;
  bool causal_;
  ForwardState state_;
};

// A value of the case's JSON as a Value of the type the plugin declared for `key`.
Value to_value(const json& j, const Value& declared, const std::string& key, const fs::path& file) {
  auto bad = [&] {
    return InputError(file.string() + ": case key '" + key + "' = " + j.dump() +
                      " does not fit the plugin's " + to_string(declared.type) + " key");
  };
  switch (declared.type) {
    case ValueType::Bool:
      if (!j.is_boolean()) throw bad();
      return Value::of(j.get<bool>());
    case ValueType::Int:
      if (j.is_null()) return Value::of(int64_t{0});  // DeepSeek's "none" ranks (q_lora_rank) mean 0
      if (!j.is_number_integer()) throw bad();
      return Value::of(j.get<int64_t>());
    case ValueType::Float:
      if (!j.is_number()) throw bad();
      return Value::of(j.get<double>());
    case ValueType::String:
      if (!j.is_string()) throw bad();
      return Value::of(j.get<std::string>());
    default:
      throw bad();
  }
}

// Plugin options from the case: every declared key the case names, the rest at their defaults.
Options options_from(const PluginDescriptor& plugin, const json& values, const ModelDims& dims,
                     const fs::path& file, const std::string& section) {
  std::map<std::string, Value> overrides;
  for (const auto& spec : plugin.keys)
    if (values.contains(spec.name))
      overrides[spec.name] = to_value(values[spec.name], spec.default_value, spec.name, file);
  Options options = default_options(plugin, overrides);
  Problems problems;
  if (plugin.validate) plugin.validate(options, dims, problems);
  if (!problems.empty()) {
    std::string text =
        file.string() + ": the case's configuration does not fit plugin '" + plugin.name + "':";
    for (const auto& p : problems) text += "\n  " + section + "." + p.key + ": " + p.message;
    throw InputError(text);
  }
  return options;
}

// DeepSeek's rope_scaling block -> (our RoPE plugin, its keys).
std::pair<std::string, json> rope_choice(const json& c, const fs::path& file) {
  json keys = {{"theta", c.value("rope_theta", 10000.0)}, {"layout", "interleaved"}};
  const json scaling = c.contains("rope_scaling") ? c["rope_scaling"] : json();
  if (scaling.is_null()) return {"rope", keys};
  const std::string type = scaling.value("type", scaling.value("rope_type", std::string()));
  for (const auto& [k, v] : scaling.items())
    if (k != "type" && k != "rope_type") keys[k] = v;
  if (type == "linear") return {"rope_linear", keys};
  if (type == "dynamic") {
    keys["max_position_embeddings"] = c.value("max_position_embeddings", int64_t{0});
    return {"rope_ntk", keys};
  }
  if (type == "yarn") return {"yarn", keys};
  throw InputError(file.string() + ": unknown rope_scaling type '" + type +
                   "' (known: linear, dynamic, yarn)");
}

double max_abs_error(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

}  // namespace

bool ParityReport::passed() const {
  for (const auto& e : errors)
    if (!(e.max_abs_error <= tolerance)) return false;
  return !errors.empty();
}

std::string ParityReport::describe() const {
  std::ostringstream out;
  out << case_name << ": attention " << attention << ", rope " << rope << ", kernel " << kernel << "\n";
  for (const auto& e : errors) {
    std::string shape = "[";
    for (size_t i = 0; i < e.shape.size(); ++i) shape += (i ? ", " : "") + std::to_string(e.shape[i]);
    shape += "]";
    char line[160];
    std::snprintf(line, sizeof line, "  %-16s %-16s max abs error %.3e %s\n", e.name.c_str(), shape.c_str(),
                  e.max_abs_error, e.max_abs_error <= tolerance ? "" : " ABOVE TOLERANCE");
    out << line;
  }
  char verdict[96];
  std::snprintf(verdict, sizeof verdict, "  %s (tolerance %.0e)\n", passed() ? "PASS" : "FAIL", tolerance);
  out << verdict;
  return out.str();
}

ParityReport check_parity(const fs::path& file, const PluginRegistry& registry,
                          const ParityOptions& options) {
  SafeTensors golden = read_safetensors(file);
  auto need = [&](const std::string& name) -> const torch::Tensor& {
    auto it = golden.tensors.find(name);
    if (it == golden.tensors.end()) throw InputError(file.string() + ": no tensor '" + name + "'");
    return it->second;
  };
  if (!golden.metadata.count("case")) throw InputError(file.string() + ": no 'case' entry in the metadata");
  json c;
  try {
    c = json::parse(golden.metadata.at("case"));
  } catch (const json::exception& err) {
    throw InputError(file.string() + ": the 'case' metadata is not valid JSON (" + err.what() + ")");
  }
  for (const char* key : {"hidden_size", "num_heads", "seq_len"})
    if (!c.contains(key) || !c[key].is_number_integer())
      throw InputError(file.string() + ": case needs an integer '" + key + "'");

  ParityReport report;
  report.case_name = c.value("name", file.stem().string());
  report.tolerance = options.tolerance;
  report.attention = options.attention;
  if (report.attention.empty()) {
    const std::string kind = c.value("kind", std::string());
    if (kind != "mla_attention")
      throw InputError(file.string() + ": case kind '" + kind +
                       "' names no attention plugin; pass --attention NAME");
    report.attention = "mla";
  }
  report.kernel = options.kernel;

  ModelDims dims;
  dims.d_model = c["hidden_size"].get<int64_t>();
  dims.n_heads = c["num_heads"].get<int64_t>();
  dims.seq_len = c["seq_len"].get<int64_t>();
  const PluginDescriptor& attention_plugin = registry.require(Slot::Attention, report.attention);
  const Options attention_options = options_from(attention_plugin, c, dims, file, "attention");
  auto [rope_name, rope_keys] = rope_choice(c, file);
  report.rope = rope_name;
  const PluginDescriptor& rope_plugin = registry.require(Slot::Rope, rope_name);
  const Options rope_options = options_from(rope_plugin, rope_keys, dims, file, "rope");
  const PluginDescriptor& kernel_plugin = registry.require(Slot::Kernel, report.kernel);
  const Options kernel_options = options_from(kernel_plugin, json::object(), dims, file, "kernel");

  AttentionPtr attention = attention_plugin.make_attention(attention_options, dims);
  RopePtr rope = rope_plugin.make_rope(rope_options, RopeDims{attention->rope_dim(), dims.seq_len});
  KernelPtr kernel = kernel_plugin.make_kernel(kernel_options);

  // Every parameter comes from the file, by name; a missing or extra one is an error.
  {
    torch::NoGradGuard no_grad;
    auto params = attention->named_parameters();
    size_t loaded = 0;
    for (const auto& [name, tensor] : golden.tensors) {
      if (name.rfind("param.", 0) != 0) continue;
      const std::string key = name.substr(6);
      auto* p = params.find(key);
      if (!p)
        throw InputError(file.string() + ": plugin '" + report.attention + "' has no parameter '" + key +
                         "'");
      if (p->sizes() != tensor.sizes())
        throw InputError(file.string() + ": parameter '" + key + "' has shape " + c10::str(tensor.sizes()) +
                         " in the file but " + c10::str(p->sizes()) + " in plugin '" + report.attention +
                         "'");
      p->copy_(tensor);
      ++loaded;
    }
    if (loaded != params.size()) {
      std::string missing;
      for (const auto& p : params)
        if (!golden.tensors.count("param." + p.key())) missing += (missing.empty() ? "" : ", ") + p.key();
      throw InputError(file.string() + ": the file has no values for parameters " + missing);
    }
  }

  attention->eval();
  const torch::Tensor& input = need("input");
  ParityContext ctx(*rope, *kernel, c.value("causal", true));
  torch::Tensor output;
  {
    torch::NoGradGuard no_grad;
    output = attention->forward(input.to(torch::kFloat32), ctx);
  }
  auto [cos, sin] = rope->tables(input.size(1), torch::kCPU);
  auto add = [&](const std::string& name, const torch::Tensor& ours, const torch::Tensor& theirs) {
    if (ours.sizes() != theirs.sizes())
      throw InputError(file.string() + ": '" + name + "' has shape " + c10::str(theirs.sizes()) +
                       " but the plugin gives " + c10::str(ours.sizes()));
    report.errors.push_back({name, theirs.sizes().vec(), max_abs_error(ours, theirs)});
  };
  add("output", output, need("output"));
  add("attention_probs", ctx.probs, need("attention_probs"));
  // The reference tables repeat the D/2 frequencies twice (rotate_half layout): [T, D].
  add("rope_cos", torch::cat({cos, cos}, -1), need("rope_cos"));
  add("rope_sin", torch::cat({sin, sin}, -1), need("rope_sin"));
  if (c.contains("softmax_scale") && c["softmax_scale"].is_number())
    report.errors.push_back(
        {"softmax_scale", {}, std::abs(ctx.used_scale - c["softmax_scale"].get<double>())});
  return report;
}

}  // namespace lab
