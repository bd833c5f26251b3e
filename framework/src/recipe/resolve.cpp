// Recipe -> Config: schema checks, defaults, plugin resolution and shape checks.
#include "recipe/config.hpp"
#include "recipe/memory_estimate.hpp"
#include "recipe/schema.hpp"
#include "recipe/where_set.hpp"
#include "registry/registry.hpp"
#include "util/edit_distance.hpp"

#include <lab/error.hpp>
#include <lab/sparse.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>

namespace lab {

namespace fs = std::filesystem;

namespace {

// Bounds past which a value is a typo, not an experiment: each would otherwise run out of memory,
// threads or time before reporting anything.
constexpr int64_t kMaxLayers = 4096;
constexpr int64_t kMaxSeqLen = int64_t{1} << 20;
constexpr int64_t kMaxAccumSteps = int64_t{1} << 20;
constexpr int64_t kMaxThreads = 1024;
constexpr size_t kMaxNameLength = 200;  // folder names; most file systems allow 255 bytes

struct Spec {
  Value def;
  std::string doc;
};

class Resolver {
 public:
  Resolver(const Recipe& recipe, PluginRegistry& registry) : recipe_(recipe), registry_(registry) {}

  Config run(const std::vector<std::string>& cli_plugin_paths) {
    for (const auto& k : core_keys()) specs_[k.name] = Spec{k.default_value, k.doc};
    load_plugins(cli_plugin_paths);
    check_entries();
    if (problems_.empty()) build();
    if (!problems_.empty()) {
      std::string text;
      for (size_t n = 0; n < problems_.size(); ++n) text += (n ? "\n" : "") + problems_[n];
      throw InputError(text);
    }
    return config_;
  }

 private:
  void problem(const std::string& key, const std::string& message) {
    std::string line = recipe_.where(key).str() + ": " + key + ": " + message;
    if (std::find(problems_.begin(), problems_.end(), line) == problems_.end()) problems_.push_back(line);
  }

  // The value of a core key: the recipe's when set and well typed, else the default.
  const Value& value(const std::string& key) {
    auto spec = specs_.find(key);
    const Entry* entry = recipe_.find(key);
    if (entry && entry->value.fits(spec->second.def.type)) return entry->value;
    return spec->second.def;
  }
  int64_t int_of(const std::string& key) { return value(key).i; }
  double float_of(const std::string& key) { return value(key).as_float(); }
  std::string string_of(const std::string& key) { return value(key).s; }

  void load_plugins(const std::vector<std::string>& cli_plugin_paths) {
    std::vector<std::string> recipe_paths;
    fs::path recipe_dir = recipe_.file().parent_path();
    if (const Entry* paths = recipe_.find("plugin_paths")) {
      for (const auto& item : paths->value.list) {
        if (item.type != ValueType::String) {
          problem("plugin_paths", "expected an array of strings");
          continue;
        }
        fs::path p(item.s);
        recipe_paths.push_back((p.is_absolute() ? p : recipe_dir / p).string());
      }
    }
    config_.plugin_paths = recipe_paths;
    registry_.load_directories(plugin_search_path(cli_plugin_paths, recipe_paths));

    for (const auto& section : slot_sections()) {
      std::string key = std::string(section.section) + ".plugin";
      const Entry* entry = recipe_.find(key);
      std::string name = section.default_plugin;
      if (entry) {
        if (entry->value.type != ValueType::String) continue;  // reported as a type error later
        name = entry->value.s;
      }
      SlotChoice& choice = slot(section.section);
      choice.section = section.section;
      choice.plugin = name;
      if (name == "none" && section.slot == Slot::Sparse) continue;
      try {
        choice.descriptor = &registry_.require(section.slot, name);
      } catch (const InputError& err) {
        problem(key, err.what());
        continue;
      }
      for (const auto& k : choice.descriptor->keys) {
        std::string full = std::string(section.section) + "." + k.name;
        if (specs_.count(full)) continue;  // core keys win (e.g. data.val_fraction)
        specs_[full] = Spec{k.default_value, k.doc};
      }
    }
  }

  SlotChoice& slot(const std::string& section) {
    if (section == "attention") return config_.attention;
    if (section == "kernel") return config_.kernel;
    if (section == "rope") return config_.rope;
    if (section == "router") return config_.router;
    if (section == "sparse") return config_.sparse;
    return config_.dataset;
  }

  std::vector<std::string> known_keys() const {
    std::vector<std::string> keys;
    for (const auto& [k, spec] : specs_) keys.push_back(k);
    for (const auto& k : stage_keys()) keys.push_back("train.stages.0." + k.name);
    return keys;
  }

  void check_type(const std::string& key, const Value& got, const Value& def) {
    if (got.fits(def.type)) {
      if (def.type != ValueType::List) return;
      if (def.list.empty()) return;
      for (const auto& item : got.list)
        if (!item.fits(def.list.front().type)) {
          problem(key, std::string("expected an array of ") + to_string(def.list.front().type) + "s, found " +
                           to_string(item.type) + " " + item.repr());
          return;
        }
      return;
    }
    problem(key, std::string("expected ") + to_string(def.type) + ", found " + to_string(got.type) + " " +
                     got.repr());
  }

  void check_entries() {
    std::vector<std::string> known = known_keys();
    // With sparse.plugin = "none" (a sweep's dense variant, or --set), the section's other keys
    // belong to a plugin that is not there: they are ignored, and the warning names them.
    const bool sparse_off = config_.sparse.plugin == "none";
    std::vector<std::string> ignored;
    for (const auto& [key, entry] : recipe_.entries()) {
      if (sparse_off && key.rfind("sparse.", 0) == 0 && key != "sparse.plugin") {
        ignored.push_back(key + " (" + entry.where.str() + ")");
        continue;
      }
      if (key.rfind("sweep.", 0) == 0) {
        if (entry.value.type != ValueType::List) problem(key, "sweep values must be an array");
        continue;
      }
      if (key.rfind("train.stages.", 0) == 0) {
        check_stage_key(key, entry);
        continue;
      }
      auto spec = specs_.find(key);
      if (spec == specs_.end()) {
        std::string hint = did_you_mean(key, known);
        problem(key, "unknown key" + (hint.empty() ? std::string() : "; did you mean '" + hint + "'?"));
        continue;
      }
      check_type(key, entry.value, spec->second.def);
    }
    if (!ignored.empty()) {
      std::string list;
      for (const auto& item : ignored) list += (list.empty() ? "" : ", ") + item;
      std::cerr << "lab: warning: sparse.plugin is \"none\", so these keys are ignored: " << list << "\n";
    }
    // Lists declare no element type in the schema; seeds must be integers.
    if (const Entry* e = recipe_.find("seeds"))
      check_type("seeds", e->value, Value::of(std::vector<Value>{Value::of(int64_t{0})}));
  }

  void check_stage_key(const std::string& key, const Entry& entry) {
    // train.stages.<n>.<key>
    std::string rest = key.substr(std::string("train.stages.").size());
    auto dot = rest.find('.');
    std::string index = rest.substr(0, dot);
    if (dot == std::string::npos || index.empty() || !std::all_of(index.begin(), index.end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c));
        })) {
      problem(key, "expected [[train.stages]] tables");
      return;
    }
    std::string name = rest.substr(dot + 1);
    std::vector<std::string> names;
    for (const auto& k : stage_keys()) {
      names.push_back(k.name);
      if (k.name == name) return check_type(key, entry.value, k.default_value);
    }
    std::string hint = did_you_mean(name, names);
    problem(key, "unknown stage key" + (hint.empty() ? std::string() : "; did you mean '" + hint + "'?"));
  }

  // The entry's location when the recipe sets the key, else "default".
  Location source_of(const std::string& key) const {
    const Entry* entry = recipe_.find(key);
    return entry ? entry->where : Location{};
  }

  void set_resolved(const std::string& key, const Value& v, Location where) {
    config_.resolved[key] = Entry{v, std::move(where)};
  }

  void build() {
    // Every key with its effective value.
    for (const auto& [key, spec] : specs_) {
      const Entry* entry = recipe_.find(key);
      set_resolved(key, entry ? entry->value : spec.def, entry ? entry->where : Location{});
    }
    for (const auto& [key, entry] : recipe_.entries())
      if (key.rfind("sweep.", 0) == 0) set_resolved(key, entry.value, entry.where);

    Config& c = config_;
    c.recipe_file = recipe_.file();
    c.experiment = string_of("experiment.name");
    c.variant = string_of("experiment.variant");
    ModelDims& d = c.dims;
    d.d_model = int_of("model.d_model");
    d.n_layers = int_of("model.n_layers");
    d.n_heads = int_of("model.n_heads");
    d.seq_len = int_of("model.seq_len");
    d.dropout = float_of("model.dropout");
    d.n_experts = int_of("moe.experts");
    d.top_k = int_of("moe.top_k");
    d.d_ff = int_of("moe.d_ff") == 0 ? 4 * d.d_model : int_of("moe.d_ff");
    d.vocab_size = int_of("tokenizer.vocab_size");
    c.init_std = float_of("model.init_std");
    c.attention_dropout = float_of("model.attention_dropout");
    set_resolved("moe.d_ff", Value::of(d.d_ff), source_of("moe.d_ff"));

    c.data.val_fraction = float_of("data.val_fraction");
    c.data.split_seed = int_of("data.split_seed");
    c.data.max_documents = int_of("data.max_documents");
    c.data.vocab_size = d.vocab_size;
    c.data.tokenizer_cache = string_of("tokenizer.cache_dir");

    TrainConfig& t = c.train;
    t.optimizer.name = string_of("train.optimizer");
    t.optimizer.lr = float_of("train.lr");
    t.optimizer.weight_decay = float_of("train.weight_decay");
    t.optimizer.beta1 = float_of("train.beta1");
    t.optimizer.beta2 = float_of("train.beta2");
    t.optimizer.muon_lr = float_of("train.muon_lr");
    t.optimizer.muon_momentum = float_of("train.muon_momentum");
    t.batch_size = int_of("train.batch_size");
    t.accum_steps = int_of("train.accum_steps");
    t.min_lr_ratio = float_of("train.min_lr_ratio");
    t.grad_clip = float_of("train.grad_clip");
    t.seed = int_of("train.seed");
    t.device = string_of("train.device");
    t.threads = int_of("train.threads");
    t.log_every = int_of("train.log_every");
    t.checkpoint_every = int_of("train.checkpoint_every");
    c.eval.every = int_of("eval.every");
    c.eval.max_batches = int_of("eval.max_batches");
    c.eval.batch_size = int_of("eval.batch_size") == 0 ? t.batch_size : int_of("eval.batch_size");
    set_resolved("eval.batch_size", Value::of(c.eval.batch_size), source_of("eval.batch_size"));
    c.runs_dir = string_of("run.dir");
    c.audit_causality = value("audit.causality").b;
    for (const auto& s : value("seeds").list) c.seeds.push_back(s.i);

    build_stages();
    for (const auto& section : slot_sections()) build_options(slot(section.section));
    check_core();
    // Plugins judge their keys against the core shape: with a shape value out of range they would
    // report it a second time. Other problems are reported together with theirs.
    if (d.d_model >= 1 && d.n_heads >= 1 && d.n_layers >= 1 && d.seq_len >= 2 && d.n_experts >= 1 &&
        d.top_k >= 1 && d.d_ff >= 1)
      check_plugins();
    // Last: a shape that is wrong anyway needs no memory estimate beside its error.
    if (problems_.empty()) check_memory();
  }

  void build_stages() {
    TrainConfig& t = config_.train;
    int64_t count = 0;
    while (recipe_.find("train.stages." + std::to_string(count) + ".steps") ||
           std::any_of(recipe_.entries().begin(), recipe_.entries().end(), [&](const auto& kv) {
             return kv.first.rfind("train.stages." + std::to_string(count) + ".", 0) == 0;
           }))
      ++count;
    int64_t stages_total = 0;
    for (int64_t n = 0; n < count; ++n) {
      std::string prefix = "train.stages." + std::to_string(n) + ".";
      auto get = [&](const std::string& name) -> Value {
        if (const Entry* e = recipe_.find(prefix + name)) return e->value;
        for (const auto& k : stage_keys())
          if (k.name == name) return k.default_value;
        return Value{};
      };
      StageConfig stage;
      stage.name = get("name").s.empty() ? "stage-" + std::to_string(n) : get("name").s;
      stage.steps = get("steps").i;
      stage.lr = get("lr").as_float() > 0 ? get("lr").as_float() : t.optimizer.lr;
      stage.warmup_steps = get("warmup_steps").i < 0 ? int_of("train.warmup_steps") : get("warmup_steps").i;
      for (const auto& g : get("groups").list) stage.groups.push_back(g.s);
      stage.mode = get("mode").s;
      if (!recipe_.find(prefix + "steps"))
        problem(prefix + "steps", "every stage needs steps");
      else if (stage.steps < 1)
        problem(prefix + "steps", "must be at least 1");
      else if (stage.steps > std::numeric_limits<int64_t>::max() - stages_total)
        problem(prefix + "steps", "brings the stages' total past the largest step count");
      else
        stages_total += stage.steps;
      const double stage_lr = get("lr").as_float();
      if (!std::isfinite(stage_lr) || stage_lr < 0)
        problem(prefix + "lr", "must be finite and not negative (0: train.lr)");
      for (const auto& g : stage.groups)
        if (std::find(parameter_groups().begin(), parameter_groups().end(), g) == parameter_groups().end()) {
          std::string hint = did_you_mean(g, parameter_groups());
          std::string names;
          for (const auto& known : parameter_groups()) names += (names.empty() ? "" : ", ") + known;
          problem(prefix + "groups", "unknown parameter group '" + g + "'" +
                                         (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                                         " (groups: " + names + ")");
        }
      if (stage.groups.empty()) problem(prefix + "groups", "a stage must train at least one group");
      set_resolved(prefix + "name", Value::of(stage.name), source_of(prefix + "name"));
      set_resolved(prefix + "steps", Value::of(stage.steps), source_of(prefix + "steps"));
      set_resolved(prefix + "lr", Value::of(stage.lr), source_of(prefix + "lr"));
      set_resolved(prefix + "warmup_steps", Value::of(stage.warmup_steps),
                   source_of(prefix + "warmup_steps"));
      set_resolved(prefix + "groups", get("groups"), source_of(prefix + "groups"));
      set_resolved(prefix + "mode", Value::of(stage.mode), source_of(prefix + "mode"));
      t.stages.push_back(stage);
    }
    stages_given_ = !t.stages.empty();
    if (t.stages.empty()) {
      StageConfig stage;
      stage.name = "train";
      stage.steps = int_of("train.steps");
      stage.lr = t.optimizer.lr;
      stage.warmup_steps = int_of("train.warmup_steps");
      stage.groups = {"all"};
      t.stages.push_back(stage);
    }
    // Saturating: stages whose steps are out of range are already problems, and must not overflow here.
    t.steps = 0;
    constexpr int64_t kMaxSteps = std::numeric_limits<int64_t>::max();
    for (const auto& s : t.stages) t.steps += std::min(std::max<int64_t>(s.steps, 0), kMaxSteps - t.steps);
    // A train.steps beside [[train.stages]] (often a --set meant to shorten a run) changes nothing. Not
    // warned: one inherited from a base the stages replace, and the stages' total that a
    // recipe.resolved.toml carries.
    const Entry* steps = recipe_.find("train.steps");
    std::error_code ignored;
    const bool own = steps && (steps->where.file == "--set" ||
                               std::filesystem::equivalent(steps->where.file, recipe_.file(), ignored));
    if (stages_given_ && own && steps->value.type == ValueType::Int && steps->value.i != t.steps)
      std::cerr << "lab: warning: train.steps = " << steps->value.i << " (" << steps->where.str()
                << ") is ignored: [[train.stages]] give the steps (" << t.steps
                << " in all); set train.stages.N.steps instead\n";
    set_resolved("train.steps", Value::of(t.steps), source_of("train.steps"));
  }

  void build_options(SlotChoice& choice) {
    if (!choice.descriptor) return;
    std::map<std::string, Value> values;
    for (const auto& k : choice.descriptor->keys) values[k.name] = value(choice.section + "." + k.name);
    choice.options = Options(std::move(values));
  }

  void require(bool ok, const std::string& key, const std::string& message) {
    if (!ok) problem(key, message);
  }

  void check_core() {
    const Config& c = config_;
    const ModelDims& d = c.dims;
    require(d.d_model >= 1, "model.d_model", "must be positive");
    require(d.n_layers >= 1, "model.n_layers", "must be at least 1");
    require(d.n_layers <= kMaxLayers, "model.n_layers", "must be at most " + std::to_string(kMaxLayers));
    require(d.n_heads >= 1, "model.n_heads", "must be at least 1");
    require(d.seq_len >= 2, "model.seq_len", "must be at least 2");
    require(d.seq_len <= kMaxSeqLen, "model.seq_len", "must be at most " + std::to_string(kMaxSeqLen));
    require(d.dropout >= 0 && d.dropout < 1, "model.dropout", "must be in [0, 1)");
    double attn_dropout = float_of("model.attention_dropout");
    require(attn_dropout >= 0 && attn_dropout < 1, "model.attention_dropout", "must be in [0, 1)");
    require(c.init_std > 0 && std::isfinite(c.init_std), "model.init_std", "must be positive and finite");
    require(d.n_experts >= 1, "moe.experts", "must be at least 1");
    require(d.top_k >= 1, "moe.top_k", "must be at least 1");
    require(d.n_experts < 1 || d.top_k <= d.n_experts, "moe.top_k",
            "top_k = " + std::to_string(d.top_k) + " exceeds moe.experts = " + std::to_string(d.n_experts));
    require(d.d_ff >= 1, "moe.d_ff", "must be positive (0 means 4 x d_model)");
    require(int_of("moe.shared_experts") >= 0, "moe.shared_experts", "must not be negative");
    require(float_of("moe.capacity_factor") >= 0, "moe.capacity_factor", "must be 0 (no limit) or positive");
    require(d.vocab_size >= 64 && d.vocab_size <= 1000000, "tokenizer.vocab_size",
            "must be between 64 and 1000000");
    require(c.data.val_fraction > 0 && c.data.val_fraction < 1, "data.val_fraction", "must be in (0, 1)");
    require(c.data.max_documents >= 0, "data.max_documents", "must be 0 (all) or positive");
    const TrainConfig& t = c.train;
    require(t.optimizer.name == "adamw" || t.optimizer.name == "muon", "train.optimizer",
            "unknown optimizer '" + t.optimizer.name + "' (choices: adamw, muon)");
    require(t.optimizer.lr > 0 && std::isfinite(t.optimizer.lr), "train.lr", "must be positive and finite");
    require(t.optimizer.muon_lr > 0 && std::isfinite(t.optimizer.muon_lr), "train.muon_lr",
            "must be positive and finite");
    require(t.optimizer.beta1 >= 0 && t.optimizer.beta1 < 1, "train.beta1", "must be in [0, 1)");
    require(t.optimizer.beta2 >= 0 && t.optimizer.beta2 < 1, "train.beta2", "must be in [0, 1)");
    require(t.optimizer.weight_decay >= 0 && std::isfinite(t.optimizer.weight_decay), "train.weight_decay",
            "must be finite and not negative");
    // With [[train.stages]] the total is theirs, and each stage's steps were checked on their own.
    if (!stages_given_) require(t.steps >= 1, "train.steps", "must be at least 1");
    require(t.batch_size >= 1, "train.batch_size", "must be at least 1");
    require(t.accum_steps >= 1, "train.accum_steps", "must be at least 1");
    require(t.accum_steps <= kMaxAccumSteps, "train.accum_steps",
            "must be at most " + std::to_string(kMaxAccumSteps));
    require(t.min_lr_ratio >= 0 && t.min_lr_ratio <= 1, "train.min_lr_ratio", "must be in [0, 1]");
    require(int_of("train.warmup_steps") >= 0, "train.warmup_steps", "must not be negative");
    require(t.grad_clip >= 0 && std::isfinite(t.grad_clip), "train.grad_clip",
            "must be finite and not negative (0 disables clipping)");
    require(t.device == "auto" || t.device == "cpu" || t.device.rfind("cuda", 0) == 0, "train.device",
            "unknown device '" + t.device + "' (choices: auto, cpu, cuda, cuda:N)");
    require(t.threads >= 0, "train.threads", "must not be negative (0: all cores)");
    require(t.threads <= kMaxThreads, "train.threads", "must be at most " + std::to_string(kMaxThreads));
    require(t.log_every >= 1, "train.log_every", "must be at least 1");
    require(t.checkpoint_every >= 0, "train.checkpoint_every", "must not be negative");
    require(float_of("distributed.timeout_s") > 0, "distributed.timeout_s", "must be positive");
    require(float_of("distributed.bucket_mb") > 0, "distributed.bucket_mb", "must be positive");
    require(c.eval.every >= 1, "eval.every", "must be at least 1");
    require(c.eval.max_batches >= 0, "eval.max_batches", "must not be negative");
    // 0 means train.batch_size, already reported when that is wrong.
    require(c.eval.batch_size >= 1 || t.batch_size < 1, "eval.batch_size", "must be at least 1");
    require(!c.experiment.empty(), "experiment.name", "must not be empty");
    require(!c.variant.empty(), "experiment.variant", "must not be empty");
    for (const auto& name : {c.experiment, c.variant})
      if (name.find('/') != std::string::npos || name == "." || name == ".." ||
          std::any_of(name.begin(), name.end(), [](unsigned char ch) { return ch < 0x20 || ch == 0x7f; }))
        problem(name == c.experiment ? "experiment.name" : "experiment.variant",
                "must be a plain folder name (no /, no control characters, not . or ..)");
      else if (name.size() > kMaxNameLength)
        problem(name == c.experiment ? "experiment.name" : "experiment.variant",
                "must be at most " + std::to_string(kMaxNameLength) + " characters (it names a folder)");
  }

  // Shapes that cannot fit in this machine's memory, named by the key furthest above its default.
  void check_memory() {
    const Config& c = config_;
    TrainingShape shape{c.dims, int_of("moe.shared_experts"),
                        std::max(c.train.batch_size, c.eval.batch_size)};
    const double need = training_memory_bytes(shape), have = physical_memory_bytes();
    if (have <= 0 || need <= have) return;
    const std::pair<const char*, double> ratios[] = {
        {"model.d_model", c.dims.d_model / 256.0},
        {"model.n_layers", c.dims.n_layers / 4.0},
        {"model.seq_len", c.dims.seq_len / 256.0},
        {"moe.experts", c.dims.n_experts / 8.0},
        {"moe.d_ff", c.dims.d_ff / 1024.0},
        {"tokenizer.vocab_size", c.dims.vocab_size / 8192.0},
        {"train.batch_size", c.train.batch_size / 16.0},
        {"eval.batch_size", c.eval.batch_size / 16.0},
        {"moe.shared_experts", static_cast<double>(shape.shared_experts)}};
    const char* key = ratios[0].first;
    double worst = 0;
    for (const auto& [name, ratio] : ratios)
      if (ratio > worst) {
        worst = ratio;
        key = name;
      }
    char text[200];
    std::snprintf(text, sizeof text,
                  "training this model needs about %.0f GB, more than this machine's %.0f GB", need / 1e9,
                  have / 1e9);
    problem(key, std::string(text) + " (" + value(key).repr() + " is far above the default)");
  }

  void check_plugins() {
    for (const auto& section : slot_sections()) {
      SlotChoice& choice = slot(section.section);
      if (!choice.descriptor || !choice.descriptor->validate) continue;
      Problems found;
      ModelDims dims = config_.dims;
      choice.descriptor->validate(choice.options, dims, found);
      for (const auto& p : found) {
        // Plugins name their own keys, or a core key written "section.key".
        bool qualified = specs_.count(p.key) != 0 && p.key.find('.') != std::string::npos;
        problem(qualified ? p.key : choice.section + "." + p.key, p.message);
      }
    }
    check_stage_modes();
  }

  // A stage's mode is handed to the sparse plugin when the stage starts; ask a throwaway instance
  // now, so a misspelt mode is a recipe error before any run folder exists, not a failure after the
  // stages before it have trained. Without a sparse plugin modes have nothing to reach.
  void check_stage_modes() {
    const SlotChoice& sparse = config_.sparse;
    if (!sparse.descriptor || !sparse.descriptor->make_sparse || !problems_.empty()) return;
    SparsePtr probe;
    for (size_t n = 0; n < config_.train.stages.size(); ++n) {
      const std::string& mode = config_.train.stages[n].mode;
      if (mode.empty()) continue;
      try {
        if (!probe) probe = sparse.descriptor->make_sparse(sparse.options, config_.dims);
        probe->set_mode(mode);
      } catch (const std::exception& e) {
        std::string message = e.what();
        const std::string prefix = "train.stages.mode: ";  // the plugin's own key name, replaced by ours
        if (message.rfind(prefix, 0) == 0) message = message.substr(prefix.size());
        problem("train.stages." + std::to_string(n) + ".mode", message);
      }
    }
  }

  const Recipe& recipe_;
  PluginRegistry& registry_;
  std::map<std::string, Spec> specs_;
  std::vector<std::string> problems_;
  Config config_;
  bool stages_given_ = false;
};

}  // namespace

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, word.size() / 4) + 1;
  for (const auto& c : candidates) {
    size_t d = edit_distance(word, c);
    // A key whose last part matches exactly (d_model vs model.d_model) is a good guess too.
    auto last = c.rfind('.');
    if (last != std::string::npos && c.substr(last + 1) == word) d = 1;
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

std::string where_set(const Config& config, const std::string& key) {
  auto it = config.resolved.find(key);
  return (it == config.resolved.end() ? std::string("default") : it->second.where.str()) + ": " + key;
}

Config resolve_config(const Recipe& recipe, const std::vector<std::string>& cli_plugin_paths,
                      PluginRegistry& registry) {
  return Resolver(recipe, registry).run(cli_plugin_paths);
}

}  // namespace lab
