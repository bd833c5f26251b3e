#include "audit/probe_config.hpp"

#include "registry/registry.hpp"

namespace lab {

namespace {

// What resolve_config's shape checks ask of the plugins: none of their validators objects.
bool plugins_accept(const Config& c) {
  for (const SlotChoice* s : {&c.attention, &c.kernel, &c.rope, &c.router, &c.sparse, &c.dataset}) {
    if (!s->descriptor || !s->descriptor->validate) continue;
    Problems problems;
    s->descriptor->validate(s->options, c.dims, problems);
    if (!problems.empty()) return false;
  }
  return true;
}

struct Dimension {
  const char* key;
  int64_t ModelDims::*field;
};

std::vector<int64_t> candidates(const Dimension& d, int64_t value) {
  if (d.field == &ModelDims::n_layers) return value > 2 ? std::vector<int64_t>{2} : std::vector<int64_t>{};
  std::vector<int64_t> out;
  for (int64_t v = 64; v < value; v *= 2) out.push_back(v);
  return out;
}

}  // namespace

ProbeShape shrink_for_probe(Config& config) {
  ProbeShape shape;
  for (const Dimension d :
       {Dimension{"model.n_layers", &ModelDims::n_layers}, Dimension{"model.d_model", &ModelDims::d_model},
        Dimension{"model.seq_len", &ModelDims::seq_len}}) {
    const int64_t original = config.dims.*d.field;
    const auto tries = candidates(d, original);
    bool done = tries.empty();
    for (int64_t v : tries) {
      config.dims.*d.field = v;
      if ((done = plugins_accept(config))) {
        shape.changes.push_back(std::string(d.key) + " " + std::to_string(original) + " -> " +
                                std::to_string(v));
        break;
      }
    }
    if (!done) {
      config.dims.*d.field = original;
      shape.kept.push_back(std::string(d.key) + " " + std::to_string(original));
    }
  }
  // An expert width the recipe left to its default follows d_model, as resolving the shape would.
  const auto d_ff = config.resolved.find("moe.d_ff");
  if (d_ff != config.resolved.end() && d_ff->second.where.file.empty())
    config.dims.d_ff = 4 * config.dims.d_model;
  config.dims.vocab_size = kProbeVocab;
  return shape;
}

ProbeSetup probe_setup(const Recipe& recipe, const std::vector<std::string>& plugin_paths,
                       PluginRegistry& registry) {
  ProbeSetup setup{resolve_config(recipe, plugin_paths, registry), {}};
  setup.shape = shrink_for_probe(setup.config);
  return setup;
}

}  // namespace lab
