#include "run/export.hpp"

#include "run/files.hpp"
#include "util/safetensors.hpp"

#include <lab/error.hpp>

namespace lab {

namespace fs = std::filesystem;

namespace {

nlohmann::json to_json(const Value& v) {
  switch (v.type) {
    case ValueType::Bool:
      return v.b;
    case ValueType::Int:
      return v.i;
    case ValueType::Float:
      return v.f;
    case ValueType::String:
      return v.s;
    case ValueType::List: {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& item : v.list) list.push_back(to_json(item));
      return list;
    }
  }
  return nullptr;
}

std::map<std::string, torch::Tensor> named_tensors(LanguageModel& model) {
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& p : model->named_parameters()) tensors[p.key()] = p.value().detach();
  for (const auto& b : model->named_buffers()) tensors[b.key()] = b.value().detach();
  return tensors;
}

}  // namespace

nlohmann::json export_config(const LoadedRun& run) {
  const Config& c = run.config;
  const ModelDims& d = c.dims;
  nlohmann::json plugins = nlohmann::json::object();
  for (const SlotChoice* s : {&c.attention, &c.kernel, &c.rope, &c.router, &c.sparse}) {
    nlohmann::json options = nlohmann::json::object();
    if (s->descriptor)
      for (const auto& k : s->descriptor->keys) {
        auto it = c.resolved.find(s->section + "." + k.name);
        if (it != c.resolved.end()) options[k.name] = to_json(it->second.value);
      }
    plugins[s->section] = {{"plugin", s->plugin}, {"options", options}};
  }
  nlohmann::json recipe = nlohmann::json::object();
  for (const auto& [key, entry] : c.resolved) recipe[key] = to_json(entry.value);
  return {{"format", "lab"},
          {"architecture",
           "decoder-only MoE transformer: embedding, blocks (RMSNorm, attention, RMSNorm, MoE), "
           "RMSNorm, head tied to the embedding"},
          {"experiment", c.experiment},
          {"variant", c.variant},
          {"seed", c.train.seed},
          {"d_model", d.d_model},
          {"n_layers", d.n_layers},
          {"n_heads", d.n_heads},
          {"seq_len", d.seq_len},
          {"vocab_size", d.vocab_size},
          {"n_experts", d.n_experts},
          {"top_k", d.top_k},
          {"d_ff", d.d_ff},
          {"dtype", "float32"},
          {"tokenizer", "tokenizer.model"},
          {"plugins", plugins},
          {"recipe", recipe}};
}

void export_safetensors(const LoadedRun& run, const fs::path& out_dir) {
  fs::create_directories(out_dir);
  LanguageModel model = run.model;
  write_safetensors(
      out_dir / "model.safetensors", named_tensors(model),
      {{"format", "pt"}, {"experiment", run.config.experiment}, {"variant", run.config.variant}});
  write_file_atomic(out_dir / "config.json", export_config(run).dump(2) + "\n");
  if (fs::exists(run.dir / "tokenizer.model"))
    fs::copy_file(run.dir / "tokenizer.model", out_dir / "tokenizer.model",
                  fs::copy_options::overwrite_existing);
}

void load_safetensors_weights(LanguageModel& model, const fs::path& file) {
  SafeTensors saved = read_safetensors(file);
  torch::NoGradGuard no_grad;
  auto targets = named_tensors(model);
  for (auto& [name, target] : targets) {
    auto it = saved.tensors.find(name);
    if (it == saved.tensors.end()) throw InputError(file.string() + ": no tensor '" + name + "'");
    if (it->second.sizes() != target.sizes())
      throw InputError(file.string() + ": tensor '" + name + "' has the wrong shape");
    target.copy_(it->second);
  }
  for (const auto& [name, tensor] : saved.tensors)
    if (!targets.count(name)) throw InputError(file.string() + ": unexpected tensor '" + name + "'");
}

}  // namespace lab
