// lab export --format onnx: a tiny trained run of every plugin family, exported through the real program,
// accepted by ONNX's checker with full shape inference (python3-onnx) and run by onnxruntime-node, whose
// logits on held-out windows must equal lab's own; and the refusals, through the real program too.
#include "run/load_run.hpp"
#include "test_support.hpp"
#include "tiny_run.hpp"
#include "train/trainer.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

using namespace lab;
namespace fs = std::filesystem;

namespace {

const std::string kPython = "/usr/bin/python3";  // Debian's, where python3-onnx installs
const fs::path kTools = fs::path(LAB_TEST_DATA_DIR) / ".." / "tools";
const fs::path kNodeModules = fs::path(LAB_TEST_DATA_DIR) / ".." / ".." / "third_party" / "node_modules";

bool readers_installed() {
  return test::run_command(kPython + " -c 'import onnx' 2>/dev/null").code == 0 &&
         test::run_command("command -v node >/dev/null").code == 0 &&
         fs::exists(kNodeModules / "onnxruntime-node" / "package.json");
}

std::string quoted_sets(const std::vector<std::string>& assignments) {
  std::string out;
  for (const auto& a : assignments) out += " --set '" + a + "'";
  return out;
}

fs::path train_tiny(const fs::path& root, const std::string& variant, const std::vector<std::string>& sets) {
  Config c = test::make_config(
      test::plus(test::plus(test::tiny_run(root, variant), {"train.steps=6", "eval.every=6"}), sets));
  TrainOptions quiet;
  quiet.quiet = true;
  RunResult result = train(c, quiet);
  EXPECT_TRUE(result.finished);
  return result.run_dir;
}

// tests/tools/onnx_logits.js on `tokens` [B, T]: the logits land in work/logits.bin.
test::Outcome run_onnxruntime(const fs::path& model, const torch::Tensor& tokens, const fs::path& work) {
  auto flat = tokens.contiguous().view({-1});
  nlohmann::json input = {
      {"shape", {tokens.size(0), tokens.size(1)}},
      {"tokens", std::vector<int64_t>(flat.data_ptr<int64_t>(), flat.data_ptr<int64_t>() + flat.numel())}};
  std::ofstream(work / "tokens.json") << input.dump();
  return test::run_command("NODE_PATH='" + kNodeModules.string() + "' node '" +
                           (kTools / "onnx_logits.js").string() + "' '" + model.string() + "' '" +
                           (work / "tokens.json").string() + "' '" + (work / "logits.bin").string() +
                           "' 2>&1");
}

// Logits [B, T, V] of `tokens` [B, T] from onnxruntime-node.
torch::Tensor onnxruntime_logits(const fs::path& model, const torch::Tensor& tokens, int64_t vocab,
                                 const fs::path& work) {
  auto run = run_onnxruntime(model, tokens, work);
  EXPECT_EQ(run.code, 0) << run.output;
  EXPECT_EQ(run.output, std::to_string(tokens.size(0)) + " " + std::to_string(tokens.size(1)) + " " +
                            std::to_string(vocab) + "\n");
  std::ifstream in(work / "logits.bin", std::ios::binary);
  std::vector<float> values(static_cast<size_t>(tokens.numel() * vocab));
  in.read(reinterpret_cast<char*>(values.data()),
          static_cast<std::streamsize>(values.size() * sizeof(float)));
  EXPECT_TRUE(in.good()) << "short logits file";
  return torch::from_blob(values.data(), {tokens.size(0), tokens.size(1), vocab}, torch::kFloat32).clone();
}

struct Family {
  std::string name;
  std::vector<std::string> sets;
};

// Every attention plugin (MLA with and without the q bottleneck), RoPE plugin (both layouts), router
// (with group-limited routing and shared experts) and kernel, and DSA's selection.
const std::vector<Family>& families() {
  static const std::vector<Family> all = {
      {"mha_rope_topk_math", {}},
      {"mixed_heads_rope_linear_deepseek_flash2",
       {"attention.plugin=mixed_heads", "attention.qk_head_dim=12", "attention.v_head_dim=8",
        "attention.rope_head_dim=4", "rope.plugin=rope_linear", "rope.layout=\"half\"",
        "router.plugin=deepseek", "kernel.plugin=flash2"}},
      {"mla_rope_ntk_sdpa",
       {"attention.plugin=mla", "attention.kv_lora_rank=16", "attention.qk_nope_head_dim=8",
        "attention.qk_rope_head_dim=4", "attention.v_head_dim=8", "rope.plugin=rope_ntk",
        "kernel.plugin=sdpa"}},
      {"mla_q_lora_yarn_deepseek_groups",
       {"attention.plugin=mla", "attention.q_lora_rank=16", "attention.kv_lora_rank=16",
        "attention.qk_nope_head_dim=8", "attention.qk_rope_head_dim=4", "attention.v_head_dim=8",
        "rope.plugin=yarn", "router.plugin=deepseek", "router.groups=2", "router.topk_groups=1",
        "moe.shared_experts=1"}},
      {"dsa_mha_rope_topk",
       {"sparse.plugin=dsa", "sparse.top_k=6", "sparse.index_heads=2", "sparse.index_dim=8",
        "sparse.index_rope_dim=4"}},
  };
  return all;
}

class OnnxExport : public ::testing::TestWithParam<Family> {};

TEST_P(OnnxExport, CheckerAcceptsAndOnnxruntimeReproducesLogits) {
  if (!readers_installed())
    GTEST_SKIP() << "python3-onnx, node or third_party/node_modules/onnxruntime-node is missing "
                    "(scripts/setup.sh installs them)";
  const Family& family = GetParam();
  const fs::path root = test::temp_dir("onnx-" + family.name);
  const fs::path run_dir = train_tiny(root, family.name, family.sets);
  const fs::path out = root / "onnx";
  auto exported =
      test::run_lab("export '" + run_dir.string() + "' --format onnx --out '" + out.string() + "'");
  ASSERT_EQ(exported.code, 0) << exported.output;
  EXPECT_NE(exported.output.find("sequences up to 32 tokens"), std::string::npos) << exported.output;
  ASSERT_TRUE(fs::exists(out / "tokenizer.model"));

  LoadedRun run = load_run(run_dir, {{}, {test::plugin_dir()}});
  const int64_t vocab = run.config.dims.vocab_size, t = run.config.dims.seq_len;
  auto check = test::run_command(kPython + " '" + (kTools / "onnx_check.py").string() + "' '" +
                                 (out / "model.onnx").string() + "' 2>&1");
  ASSERT_EQ(check.code, 0) << check.output;
  EXPECT_EQ(check.output, "ir 8 opset 17 logits batch sequence " + std::to_string(vocab) + "\n");

  const std::vector<int32_t> held_out = load_run_corpus(run).val_tokens;
  ASSERT_GE(static_cast<int64_t>(held_out.size()), 2 * t);
  auto windows = torch::tensor(std::vector<int64_t>(held_out.begin(), held_out.begin() + 2 * t)).view({2, t});
  // The trained length, and a shorter one: the sequence length is dynamic.
  for (int64_t length : {t, int64_t{19}}) {
    auto tokens = windows.narrow(1, 0, length).contiguous();
    torch::Tensor expected;
    {
      torch::NoGradGuard no_grad;
      ForwardState state;
      expected = run.model->forward(tokens, state);
    }
    auto actual = onnxruntime_logits(out / "model.onnx", tokens, vocab, root);
    const double diff = (actual - expected).abs().max().item<double>();
    EXPECT_LE(diff, 1e-4) << family.name << " at length " << length;
    std::cout << "[ onnx     ] " << family.name << " T=" << length << " max |logit diff| " << diff << "\n";
  }
  // Past the training length the stored RoPE tables run out: the runtime refuses the input.
  auto longer =
      torch::tensor(std::vector<int64_t>(held_out.begin(), held_out.begin() + t + 1)).view({1, t + 1});
  auto refused = run_onnxruntime(out / "model.onnx", longer, root);
  EXPECT_NE(refused.code, 0) << refused.output;
}

INSTANTIATE_TEST_SUITE_P(Families, OnnxExport, ::testing::ValuesIn(families()),
                         [](const auto& info) { return info.param.name; });

// A trained run that the export must refuse, with the refusal's message: exit 2, no model.onnx.
void expect_refused(const std::string& variant, const std::vector<std::string>& sets,
                    const std::string& extra, const std::string& message) {
  const fs::path root = test::temp_dir("onnx-refused-" + variant);
  const std::string recipe = std::string(LAB_TEST_DATA_DIR) + "/recipes/base.toml";
  auto trained = test::run_lab(
      "--recipe " + recipe + extra + " --quiet" +
          quoted_sets(test::plus(
              test::plus(test::tiny_run(root, variant), {"train.steps=2", "eval.max_batches=1"}), sets)),
      false);
  ASSERT_EQ(trained.code, 0) << trained.output;
  const fs::path run_dir = root / "runs" / "tiny" / variant / "seed-42";
  auto o = test::run_lab("export '" + run_dir.string() + "' --format onnx --out '" +
                         (root / "onnx").string() + "'" + extra);
  EXPECT_EQ(o.code, 2) << o.output;
  EXPECT_NE(o.output.find("lab: error: " + message), std::string::npos) << o.output;
  EXPECT_FALSE(fs::exists(root / "onnx" / "model.onnx"));
}

TEST(OnnxExportErrors, KernelWithoutExportIsNamed) {
  expect_refused("leaky", {"kernel.plugin=leaky"},
                 " --plugin-path " + std::string(LAB_TEST_FIXTURE_DIR) + "/leaky",
                 "plugin 'leaky' cannot be exported to ONNX");
}

TEST(OnnxExportErrors, LengthDependentRopeIsNamed) {
  // Dynamic NTK past max_position_embeddings rescales every position with the length: no one table.
  expect_refused("ntk", {"rope.plugin=rope_ntk", "rope.max_position_embeddings=16"}, "",
                 "plugin 'rope_ntk' cannot be exported to ONNX: its position tables change with the "
                 "sequence length");
}

TEST(OnnxExportErrors, ExpertCapacityIsNamed) {
  expect_refused("capacity", {"moe.capacity_factor=1.0"}, "",
                 "moe.capacity_factor = 1 cannot be exported to ONNX");
}

TEST(OnnxExportErrors, ReducedPrecisionSelectionIsNamed) {
  expect_refused(
      "fp8", {"sparse.plugin=dsa", "sparse.top_k=8", "sparse.index_precision=fp8"}, "",
      "plugin 'dsa' cannot be exported to ONNX: its selection runs at sparse.index_precision = 'fp8'");
}

TEST(OnnxExportErrors, BadFormatAndMissingRun) {
  const fs::path root = test::temp_dir("onnx-cli");
  auto format = test::run_lab("export '" + root.string() + "' --format tflite");
  EXPECT_EQ(format.code, 2) << format.output;
  EXPECT_NE(format.output.find("lab: error: --format tflite: unknown format (choices: safetensors, onnx)"),
            std::string::npos)
      << format.output;
  auto missing = test::run_lab("export '" + (root / "nowhere").string() + "' --format onnx");
  EXPECT_EQ(missing.code, 2) << missing.output;
  EXPECT_NE(missing.output.find("no such run folder"), std::string::npos) << missing.output;
}

}  // namespace
