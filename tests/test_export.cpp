// lab export: safetensors named after the model's parameters, read back by our own loader.
#include "run/export.hpp"
#include "run/load_run.hpp"
#include "test_support.hpp"
#include "tiny_run.hpp"
#include "train/trainer.hpp"
#include "util/safetensors.hpp"

#include <lab/error.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

using namespace lab;
namespace fs = std::filesystem;

TEST(Export, SafetensorsRoundTripThroughOurLoader) {
  fs::path root = test::temp_dir("export");
  Config c = test::make_config(test::plus(test::tiny_run(root, "export"), {"train.steps=4", "eval.every=4"}));
  TrainOptions quiet;
  quiet.quiet = true;
  RunResult result = train(c, quiet);
  ASSERT_TRUE(result.finished);
  LoadedRun run = load_run(result.run_dir, {{}, {test::plugin_dir()}});
  export_safetensors(run, root / "out");

  SafeTensors saved = read_safetensors(root / "out" / "model.safetensors");
  for (const auto& p : run.model->named_parameters()) {
    ASSERT_TRUE(saved.tensors.count(p.key())) << p.key();
    EXPECT_TRUE(torch::equal(saved.tensors[p.key()], p.value().detach())) << p.key();
  }
  EXPECT_EQ(saved.metadata["variant"], "export");

  std::ifstream in(root / "out" / "config.json");
  auto config = nlohmann::json::parse(in);
  EXPECT_EQ(config["d_model"], 32);
  EXPECT_EQ(config["plugins"]["attention"]["plugin"], "mha");
  EXPECT_EQ(config["recipe"]["model.n_layers"], 2);

  // A fresh model with other weights becomes the trained one, and computes the same logits.
  torch::manual_seed(123);
  LanguageModel fresh(run.config);
  fresh->initialize(0.02);
  fresh->eval();
  load_safetensors_weights(fresh, root / "out" / "model.safetensors");
  auto tokens = torch::randint(0, run.config.dims.vocab_size, {2, 16}, torch::kInt64);
  ForwardState s1, s2;
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(fresh->forward(tokens, s1), run.model->forward(tokens, s2)));

  // A file from another shape is refused by name.
  Config other = test::make_config(test::plus(test::tiny_run(root, "other"), {"model.d_model=48"}));
  other.dims.vocab_size = run.config.dims.vocab_size;
  LanguageModel wrong(other);
  EXPECT_THROW(load_safetensors_weights(wrong, root / "out" / "model.safetensors"), InputError);
}
