// DeepSeek Sparse Attention (DeepSeek-V3.2-Exp): a lightning indexer picks top-k causal keys per query,
// shared by all heads, and attention runs over those keys only. Two training modes: "warmup" (dense
// attention, the indexer learns the head-summed attention distribution) and "sparse" (the default).
#include "indexer.hpp"
#include "low_precision.hpp"
#include "onnx_lowering.hpp"
#include "selected_scores.hpp"
#include "sparse_attention.hpp"
#include "statistics.hpp"

#include <lab/error.hpp>
#include <lab/plugin.hpp>

#include <torch/torch.h>

namespace {

struct Settings {
  int64_t top_k, heads, dim, rope_dim, block;
  double kl_weight;
  dsa::IndexPrecision precision;
};

class DeepSeekSparse : public lab::Sparse {
 public:
  DeepSeekSparse(const Settings& settings, int64_t d_model, int64_t layer)
      : settings_(settings), prefix_("dsa/layer" + std::to_string(layer) + "/") {
    indexer_ =
        register_module("indexer", dsa::Indexer(d_model, settings.heads, settings.dim, settings.rope_dim));
  }

  int64_t rope_dim() const override { return settings_.rope_dim; }
  void use_rope(lab::RopePtr rope) override { indexer_->set_rope(std::move(rope)); }

  torch::Tensor attend(const torch::Tensor& x, const torch::Tensor& q, const torch::Tensor& k,
                       const torch::Tensor& v, const lab::KernelArgs& args, const lab::Kernel& dense,
                       lab::ForwardState& state) override {
    const bool learn = state.training && torch::GradMode::is_enabled();
    // The indexer never moves the main model: its input is cut from the graph.
    const dsa::IndexerHeads heads = indexer_->project(x.detach());
    torch::Tensor idx, out, probs;
    dsa::PickedScores picked;
    {
      torch::NoGradGuard no_grad;
      // The selection computes the selected keys' scores anyway; the indexer loss reuses them, unless
      // they were computed at reduced precision.
      const bool reuse = learn && !warmup_ && settings_.precision == dsa::IndexPrecision::Fp32;
      idx = dsa::select_keys(dsa::at_precision(heads, settings_.precision), settings_.top_k, settings_.block,
                             reuse ? &picked : nullptr);
    }
    if (warmup_) {
      out = dense.attend(q, k, v, args);
      if (learn)
        state.add_loss(prefix_ + "indexer_kl", settings_.kl_weight * warmup_loss(heads, q, k, args.scale));
    } else {
      // Attention dropout needs the dropped probabilities in the backward: the gather form keeps them.
      if (args.training && args.dropout > 0)
        std::tie(out, probs) = dsa::sparse_attention_gather(q, k, v, idx, args.scale, args.dropout);
      else
        std::tie(out, probs) = dsa::sparse_attention(q, k, v, idx, args.scale);
      if (learn) {
        auto scores = dsa::selected_scores(heads.q, heads.k, heads.w, idx, picked);
        auto p = probs.mean(1);  // head-summed, L1-normalised on the selected set
        state.add_loss(prefix_ + "indexer_kl", settings_.kl_weight * dsa::indexer_kl(p, scores, idx.ge(0)));
      }
    }
    if (!state.training) add_stats(heads, q, k, idx, probs, args.scale, state);
    return out;
  }

  void set_mode(const std::string& mode) override {
    if (mode != "" && mode != "sparse" && mode != "warmup")
      throw lab::InputError("train.stages.mode: the dsa sparse plugin has no mode '" + mode +
                            "' (modes: warmup, sparse)");
    warmup_ = mode == "warmup";
  }

  std::map<std::string, torch::Tensor> inspect(const torch::Tensor& x, const torch::Tensor& q,
                                               const torch::Tensor& k, const lab::KernelArgs& args) override {
    torch::NoGradGuard no_grad;
    const dsa::IndexerHeads heads = indexer_->project(x);
    auto idx =
        dsa::select_keys(dsa::at_precision(heads, settings_.precision), settings_.top_k, settings_.block);
    auto probs = dsa::sparse_attention(q, k, torch::zeros_like(k.narrow(-1, 0, 1)), idx, args.scale).second;
    // Weighted sparse attention laid out as [B, T, S] for pictures.
    auto weights = torch::zeros({q.size(0), q.size(2), k.size(2)}, probs.options());
    weights.scatter_add_(2, idx.clamp_min(0), probs.mean(1).masked_fill(idx.lt(0), 0.0));
    std::map<std::string, torch::Tensor> inspected = {{"scores", dsa::index_scores(heads)},
                                                      {"head_scores", dsa::head_scores(heads)},
                                                      {"selected", idx},
                                                      {"weights", weights}};
    // What the selection would have been in fp32, for the reduced-precision selection's recall.
    if (settings_.precision != dsa::IndexPrecision::Fp32)
      inspected["selected_fp32"] = dsa::select_keys(heads, settings_.top_k, settings_.block);
    return inspected;
  }

  // Inference in sparse mode: the indexer's top-k keys per query, attention over those only.
  std::string export_onnx(lab::OnnxGraph& g, const std::string& x, const std::string& q, const std::string& k,
                          const std::string& v, const lab::KernelArgs& args) override {
    // ONNX up to opset 17 has no float8, and a bf16 emulation would not be what lab computes in fp32.
    if (settings_.precision != dsa::IndexPrecision::Fp32)
      throw lab::OnnxUnsupported("its selection runs at sparse.index_precision = '" + precision_name() +
                                 "'; only fp32 selections export (retrain or export with fp32 knowingly)");
    return dsa::selected_attention_onnx(g, indexer_->export_onnx(g, x), q, k, v, args.scale, settings_.top_k);
  }

 private:
  // KL(p_t ‖ softmax(I_t)) over every causal key, p the dense head-mean attention.
  torch::Tensor warmup_loss(const dsa::IndexerHeads& heads, const torch::Tensor& q, const torch::Tensor& k,
                            double scale) {
    const int64_t t = q.size(2), s = k.size(2);
    auto p = dsa::dense_head_mean(q, k, scale, 0, t, s);
    auto scores = dsa::index_scores(heads);
    return dsa::indexer_kl(p, scores, scores.isneginf().logical_not());
  }

  void add_stats(const dsa::IndexerHeads& heads, const torch::Tensor& q, const torch::Tensor& k,
                 const torch::Tensor& idx, torch::Tensor probs, double scale, lab::ForwardState& state) {
    torch::NoGradGuard no_grad;
    if (!probs.defined())
      probs = dsa::sparse_attention(q, k, torch::zeros_like(k.narrow(-1, 0, 1)), idx, scale).second;
    const auto stats = dsa::selection_stats(q, k, idx, probs.mean(1), scale, settings_.block);
    state.add_stat(prefix_ + "sparsity", stats.sparsity);
    state.add_stat(prefix_ + "distance_mean", stats.distance_mean);
    state.add_stat(prefix_ + "distance_std", stats.distance_std);
    state.add_stat(prefix_ + "recall", stats.recall);
    // A reduced-precision selection: the share of the keys an fp32 selection picks that it kept too.
    if (settings_.precision != dsa::IndexPrecision::Fp32)
      state.add_stat(prefix_ + "index_recall",
                     dsa::selection_recall(idx, dsa::select_keys(heads, settings_.top_k, settings_.block)));
  }

  std::string precision_name() const {
    return settings_.precision == dsa::IndexPrecision::Bf16 ? "bf16" : "fp8";
  }

  Settings settings_;
  std::string prefix_;
  bool warmup_ = false;
  dsa::Indexer indexer_{nullptr};
};

Settings settings_of(const lab::Options& options) {
  return Settings{options.get_int("top_k"),
                  options.get_int("index_heads"),
                  options.get_int("index_dim"),
                  options.get_int("index_rope_dim"),
                  options.get_int("select_block"),
                  options.get_float("kl_weight"),
                  dsa::index_precision(options.get_string("index_precision"))};
}

lab::SparsePtr make(const lab::Options& options, const lab::ModelDims& dims) {
  return std::make_shared<DeepSeekSparse>(settings_of(options), dims.d_model, dims.layer);
}

void validate(const lab::Options& options, const lab::ModelDims& dims, lab::Problems& problems) {
  try {
    dsa::index_precision(options.get_string("index_precision"));
  } catch (const lab::InputError&) {
    problems.push_back({"index_precision",
                        "expected fp32, bf16 or fp8, got '" + options.get_string("index_precision") + "'"});
    return;
  }
  const Settings s = settings_of(options);
  auto at_least = [&](const char* key, int64_t value, int64_t low) {
    if (value < low)
      problems.push_back({key, "must be at least " + std::to_string(low) + ", got " + std::to_string(value)});
  };
  at_least("top_k", s.top_k, 1);
  at_least("index_heads", s.heads, 1);
  at_least("index_dim", s.dim, 1);
  at_least("index_rope_dim", s.rope_dim, 0);
  at_least("select_block", s.block, 1);
  if (s.rope_dim % 2 != 0)
    problems.push_back({"index_rope_dim", "must be even, got " + std::to_string(s.rope_dim)});
  else if (s.rope_dim > s.dim)
    problems.push_back({"index_rope_dim", "must not exceed index_dim = " + std::to_string(s.dim) + ", got " +
                                              std::to_string(s.rope_dim)});
  // With k >= T every query keeps all its causal keys: the run would be dense attention labelled DSA.
  if (s.top_k >= 1 && dims.seq_len > 0 && s.top_k >= dims.seq_len)
    problems.push_back(
        {"top_k", std::to_string(s.top_k) + " >= model.seq_len = " + std::to_string(dims.seq_len) +
                      " selects every key, so DSA would be dense attention; choose top_k below " +
                      std::to_string(dims.seq_len) + " (e.g. seq_len / 2), or drop [sparse]"});
  if (s.kl_weight < 0) problems.push_back({"kl_weight", "must not be negative"});
}

const lab::PluginDescriptor* descriptor() {
  static const lab::PluginDescriptor d = [] {
    lab::PluginDescriptor p;
    p.name = "dsa";
    p.slot = lab::Slot::Sparse;
    p.description = "DeepSeek Sparse Attention: lightning indexer, causal top-k keys shared by all heads";
    p.keys = {
        {"top_k", lab::Value::of(int64_t{128}), "keys each query attends to (k >= available keys: dense)"},
        {"index_heads", lab::Value::of(int64_t{4}), "indexer heads H_I"},
        {"index_dim", lab::Value::of(int64_t{64}), "indexer head dim d_I"},
        {"index_rope_dim", lab::Value::of(int64_t{32}),
         "leading indexer dims rotated (half-split) with the model's [rope] plugin and settings; 0: none"},
        {"kl_weight", lab::Value::of(1.0), "weight of the indexer's KL loss (it trains only the indexer)"},
        {"select_block", lab::Value::of(int64_t{256}), "queries scored at a time when selecting keys"},
        {"index_precision", lab::Value::of("fp32"),
         "precision of the indexer's q.k in the selection: fp32, bf16, or fp8 (e4m3, a scale per token)"},
    };
    p.validate = validate;
    p.make_sparse = make;
    return p;
  }();
  return &d;
}

}  // namespace

LAB_PLUGIN(descriptor)
