#include "recipe/schema.hpp"

namespace lab {

namespace {
KeySpec key(const char* name, Value def, const char* doc) { return KeySpec{name, std::move(def), doc}; }
Value list() { return Value::of(std::vector<Value>{}); }
}  // namespace

const std::vector<SlotSection>& slot_sections() {
  static const std::vector<SlotSection> sections = {
      {"attention", Slot::Attention, "mha"}, {"kernel", Slot::Kernel, "sdpa"},
      {"rope", Slot::Rope, "rope"},          {"router", Slot::Router, "topk"},
      {"sparse", Slot::Sparse, "none"},      {"data", Slot::Dataset, "brown"},
  };
  return sections;
}

const std::vector<KeySpec>& core_keys() {
  static const std::vector<KeySpec> keys = {
      key("plugin_paths", list(), "extra folders searched for plugin libraries (relative to the recipe)"),
      key("seeds", list(), "seeds a sweep repeats each variant with; empty: train.seed alone"),
      key("experiment.name", Value::of("default"),
          "runs go to <run.dir>/<experiment.name>/<variant>/seed-<n>"),
      key("experiment.variant", Value::of("baseline"), "name of this configuration within the experiment"),
      key("experiment.description", Value::of(""), "free text, copied to summary.json"),
      key("model.d_model", Value::of(int64_t{256}), "hidden size"),
      key("model.n_layers", Value::of(int64_t{4}), "number of transformer blocks"),
      key("model.n_heads", Value::of(int64_t{8}), "attention heads"),
      key("model.seq_len", Value::of(int64_t{256}), "training sequence length in tokens"),
      key("model.dropout", Value::of(0.0), "dropout after attention and MoE, and on embeddings"),
      key("model.attention_dropout", Value::of(0.0), "dropout on attention probabilities (kernel slot)"),
      key("model.init_std", Value::of(0.02), "standard deviation of weight initialisation"),
      key("moe.experts", Value::of(int64_t{8}), "routed experts per MoE layer"),
      key("moe.top_k", Value::of(int64_t{2}), "experts each token is sent to"),
      key("moe.d_ff", Value::of(int64_t{0}), "hidden size of each SwiGLU expert; 0: 4 x d_model"),
      key("moe.shared_experts", Value::of(int64_t{0}), "shared experts every token passes through (0: none)"),
      key("moe.capacity_factor", Value::of(0.0),
          "expert capacity as a multiple of the balanced load N*K/E; extra tokens are dropped (0: no limit)"),
      key("attention.plugin", Value::of("mha"), "attention plugin (q, k, v projections)"),
      key("kernel.plugin", Value::of("sdpa"), "attention kernel plugin"),
      key("rope.plugin", Value::of("rope"), "rotary position embedding plugin"),
      key("router.plugin", Value::of("topk"), "MoE router plugin"),
      key("sparse.plugin", Value::of("none"), "sparse attention selector plugin, or none"),
      key("data.plugin", Value::of("brown"), "dataset plugin"),
      key("data.val_fraction", Value::of(0.1), "share of documents held out for validation"),
      key("data.split_seed", Value::of(int64_t{1234}),
          "seed of the document split (kept fixed across run seeds)"),
      key("data.max_documents", Value::of(int64_t{0}), "use only this many documents (0: all)"),
      key("tokenizer.vocab_size", Value::of(int64_t{8192}), "SentencePiece BPE vocabulary size"),
      key("tokenizer.cache_dir", Value::of(""),
          "where trained tokenizers are cached; empty: $XDG_CACHE_HOME/lab"),
      key("train.steps", Value::of(int64_t{1000}),
          "optimizer steps (ignored when [[train.stages]] are given)"),
      key("train.batch_size", Value::of(int64_t{16}), "sequences per micro-batch"),
      key("train.accum_steps", Value::of(int64_t{1}), "micro-batches accumulated per optimizer step"),
      key("train.optimizer", Value::of("adamw"), "adamw or muon"),
      key("train.lr", Value::of(1e-3), "peak learning rate (AdamW; Muon's non-matrix parameters)"),
      key("train.min_lr_ratio", Value::of(0.1), "cosine schedule floor, as a fraction of the peak"),
      key("train.warmup_steps", Value::of(int64_t{100}), "linear warm-up steps"),
      key("train.weight_decay", Value::of(0.1),
          "decoupled weight decay of matrices (AdamW; under Muon also its matrices, lr·wd per step)"),
      key("train.beta1", Value::of(0.9), "AdamW beta1"),
      key("train.beta2", Value::of(0.95), "AdamW beta2"),
      key("train.grad_clip", Value::of(1.0), "global gradient-norm clip; 0 disables"),
      key("train.muon_lr", Value::of(0.01), "Muon learning rate for matrix parameters"),
      key("train.muon_momentum", Value::of(0.95), "Muon momentum"),
      key("train.seed", Value::of(int64_t{42}), "seed of initialisation, data order and dropout"),
      key("train.device", Value::of("auto"), "auto, cpu or cuda (auto: cuda when available)"),
      key("train.threads", Value::of(int64_t{0}), "CPU threads; 0: all cores"),
      key("train.log_every", Value::of(int64_t{10}), "steps between progress lines"),
      key("train.checkpoint_every", Value::of(int64_t{0}),
          "steps between checkpoints; 0: at each evaluation"),
      key("distributed.timeout_s", Value::of(300.0),
          "data-parallel runs: a rank waiting this long for the others stops with an error naming them"),
      key("distributed.bucket_mb", Value::of(25.0),
          "data-parallel runs: MiB of fp32 gradient per all-reduce (buckets start during backward)"),
      key("eval.every", Value::of(int64_t{100}), "steps between evaluations (and one at the end)"),
      key("eval.max_batches", Value::of(int64_t{0}), "validation batches per evaluation; 0: all"),
      key("eval.batch_size", Value::of(int64_t{0}), "validation batch size; 0: train.batch_size"),
      key("audit.causality", Value::of(true),
          "probe the model for positions that see later tokens before training (seconds); summary.json "
          "records the verdict"),
      key("run.dir", Value::of("runs"), "root of run directories (relative to the working directory)"),
  };
  return keys;
}

const std::vector<KeySpec>& stage_keys() {
  static const std::vector<KeySpec> keys = {
      key("name", Value::of(""), "label in logs; default stage-<n>"),
      key("steps", Value::of(int64_t{0}), "optimizer steps in this stage (required)"),
      key("lr", Value::of(0.0), "peak learning rate of this stage; 0: train.lr"),
      key("warmup_steps", Value::of(int64_t{-1}), "warm-up steps of this stage; -1: train.warmup_steps"),
      key("groups", Value::of(std::vector<Value>{Value::of("all")}), "parameter groups that train"),
      key("mode", Value::of(""), "passed to plugins when the stage starts (e.g. the sparse slot)"),
  };
  return keys;
}

const std::vector<std::string>& parameter_groups() {
  static const std::vector<std::string> groups = {"all",    "embedding", "attention", "sparse",
                                                  "router", "experts",   "norms"};
  return groups;
}

}  // namespace lab
