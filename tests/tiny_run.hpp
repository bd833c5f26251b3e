// A tiny end-to-end run for tests: a generated corpus with learnable structure and a small model.
#pragma once

#include "model/model.hpp"
#include "test_support.hpp"
#include "train/checkpoint.hpp"
#include "train/trainer.hpp"

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace lab::test {

// A small procedurally generated corpus with learnable structure (documents of template sentences).
inline std::filesystem::path synthetic_corpus() {
  static std::filesystem::path dir = [] {
    std::filesystem::path d = temp_dir("corpus");
    const std::vector<std::string> det = {"the", "a", "every", "one"};
    const std::vector<std::string> adj = {"small", "green", "quiet", "heavy", "bright", "old"};
    const std::vector<std::string> noun = {"river",  "engine",  "garden", "letter",
                                           "window", "teacher", "market"};
    const std::vector<std::string> verb = {"follows", "carries", "watches", "opens", "finds", "builds"};
    std::mt19937 rng(7);
    auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
    for (int doc = 0; doc < 40; ++doc) {
      std::ofstream out(d / ("doc" + std::to_string(100 + doc) + ".txt"));
      for (int s = 0; s < 40; ++s)
        out << pick(det) << " " << pick(adj) << " " << pick(noun) << " " << pick(verb) << " " << pick(det)
            << " " << pick(noun) << ".\n";
    }
    return d;
  }();
  return dir;
}

inline std::vector<std::string> tiny_run(const std::filesystem::path& root, const std::string& variant) {
  return {"data.plugin=text",
          "data.path=\"" + synthetic_corpus().string() + "\"",
          "tokenizer.vocab_size=320",
          "tokenizer.cache_dir=\"" + (root / "cache").string() + "\"",
          "run.dir=\"" + (root / "runs").string() + "\"",
          "experiment.name=tiny",
          "experiment.variant=" + variant,
          "model.d_model=32",
          "model.n_heads=4",
          "model.n_layers=2",
          "model.seq_len=32",
          "moe.experts=4",
          "moe.top_k=2",
          "moe.d_ff=64",
          "kernel.plugin=math",
          "train.batch_size=8",
          "train.lr=0.003",
          "train.warmup_steps=5",
          "train.threads=2",
          "eval.max_batches=4"};
}

// For a run stopped with a checkpoint: whether each parameter differs from its initial value, the
// model rebuilt from the run's seed (the tokenizer gave it `vocab_size`).
inline std::map<std::string, bool> parameters_moved(const Config& c, int64_t vocab_size) {
  Config sized = c;
  sized.dims.vocab_size = vocab_size;
  torch::manual_seed(static_cast<uint64_t>(c.train.seed));
  LanguageModel initial(sized);
  initial->initialize(c.init_std);
  LanguageModel trained(sized);
  load_model(run_directory(c) / "checkpoint" / "model.pt", trained);
  auto init_params = initial->named_parameters();
  std::map<std::string, bool> moved;
  for (const auto& p : trained->named_parameters())
    moved[p.key()] = !torch::equal(p.value(), init_params[p.key()]);
  return moved;
}

inline std::vector<std::string> plus(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace lab::test
