// The flash2 kernel plugin: FlashAttention-2 (tiled online softmax, LSE-based recomputing backward).
#include "flash2_function.hpp"

#include <lab/plugin.hpp>

#include <string>

namespace {

constexpr int64_t kMaxBlock = 1024;

lab::flash2::Params::Backward backward_mode(const std::string& name) {
  if (name == "per_head") return lab::flash2::Params::Backward::PerHead;
  if (name == "split") return lab::flash2::Params::Backward::Split;
  return lab::flash2::Params::Backward::Auto;
}

class Flash2Kernel : public lab::Kernel {
 public:
  explicit Flash2Kernel(const lab::Options& o) {
    base_.block_q = o.get_int("block_q");
    base_.block_k = o.get_int("block_k");
    base_.backward = backward_mode(o.get_string("backward"));
    base_.baseline_isa = o.get_string("cpu_isa") == "baseline";
  }
  torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                       const lab::KernelArgs& args) const override {
    lab::flash2::Params p = base_;
    p.scale = args.scale;
    p.causal = args.causal;
    p.dropout = args.training ? args.dropout : 0.0;
    return lab::flash2::attention(q, k, v, p);
  }

  // The softmax attention it computes blockwise, as ONNX nodes.
  std::string export_onnx(lab::OnnxGraph& graph, const std::string& q, const std::string& k,
                          const std::string& v, const lab::KernelArgs& args) const override {
    return lab::onnx_ops::dense_attention(graph, q, k, v, args.scale, args.causal);
  }

 private:
  lab::flash2::Params base_;
};

void validate(const lab::Options& o, const lab::ModelDims&, lab::Problems& problems) {
  for (const char* key : {"block_q", "block_k"}) {
    const int64_t b = o.get_int(key);
    if (b < 1 || b > kMaxBlock)
      problems.push_back(
          {key, "must be in [1, " + std::to_string(kMaxBlock) + "], got " + std::to_string(b)});
  }
  const std::string& mode = o.get_string("backward");
  if (mode != "auto" && mode != "per_head" && mode != "split")
    problems.push_back({"backward", "must be one of auto, per_head, split; got '" + mode + "'"});
  const std::string& isa = o.get_string("cpu_isa");
  if (isa != "auto" && isa != "baseline")
    problems.push_back({"cpu_isa", "must be auto or baseline; got '" + isa + "'"});
}

lab::KernelPtr make(const lab::Options& o) { return std::make_shared<Flash2Kernel>(o); }

const lab::PluginDescriptor* descriptor() {
  static const lab::PluginDescriptor d = [] {
    lab::PluginDescriptor p;
    p.name = "flash2";
    p.slot = lab::Slot::Kernel;
    p.description =
        lab::flash2::has_cuda_kernel()
            ? "FlashAttention-2: tiled online softmax, recomputing backward (CPU fp32/fp64, CUDA bf16/fp16)"
            : "FlashAttention-2: tiled online softmax, recomputing backward (CPU fp32/fp64)";
    p.keys = {
        {"block_q", lab::Value::of(64), "query rows per tile (CPU forward task; CUDA uses its own 64)"},
        {"block_k", lab::Value::of(64), "key columns per tile (CPU; CUDA uses its own 64)"},
        {"backward", lab::Value::of("auto"),
         "CPU backward schedule: per_head (one task per batch*head, dQ in place), split (tasks per key "
         "block, then per query block for dQ), auto (per_head when batch*heads >= 2*threads)"},
        {"cpu_isa", lab::Value::of("auto"),
         "CPU path: auto (BLAS tile products, AVX2+FMA softmax where the processor has it) or baseline "
         "(portable loops only, a reference for checks)"},
    };
    p.validate = validate;
    p.make_kernel = make;
    return p;
  }();
  return &d;
}

}  // namespace

LAB_PLUGIN(descriptor)
