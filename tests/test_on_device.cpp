// The same checks on every device LibTorch offers here: the custom kernels (flash2, the DSA sparse
// kernel) against the math reference in output and gradients, the fused element-wise ops against their
// composite forms, and a short training run whose loss falls and resumes exactly. On a machine without a
// GPU the CUDA instances skip with a message (ctest counts them as skipped, not passed); the CPU
// instances keep the checks themselves tested everywhere.
#include "model/fused_ops.hpp"
#include "run/files.hpp"
#include "test_support.hpp"
#include "tiny_run.hpp"
#include "train/trainer.hpp"

#include <lab/error.hpp>
#include <lab/plugin.hpp>
#include <lab/reference_attention.hpp>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

using namespace lab;
namespace fs = std::filesystem;

namespace {

double max_abs(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat) - b.to(torch::kFloat)).abs().max().item<double>();
}

struct AttentionShape {
  int64_t b, h, t, s, dqk, dv;
};

// Odd lengths leave partial tiles; Dqk != Dv is MLA's layout (192 / 128 at DeepSeek's size).
const std::vector<AttentionShape> kShapes = {
    {2, 3, 65, 65, 64, 64}, {1, 2, 63, 63, 192, 128}, {1, 2, 1, 7, 32, 32}, {2, 1, 130, 130, 48, 80}};

// Output and the gradients of q, k, v under a random probe, all as fp32.
template <class Attend>
std::vector<torch::Tensor> output_and_gradients(Attend attend, const std::vector<torch::Tensor>& qkv,
                                                const torch::Tensor& probe, torch::ScalarType dtype) {
  std::vector<torch::Tensor> in;
  for (const auto& x : qkv) in.push_back(x.to(dtype).detach().requires_grad_(true));
  auto out = attend(in[0], in[1], in[2]);
  auto g = torch::autograd::grad({(out.to(torch::kFloat) * probe).sum()}, in);
  return {out.to(torch::kFloat), g[0].to(torch::kFloat), g[1].to(torch::kFloat), g[2].to(torch::kFloat)};
}

// q [B, H, T, Dqk], k [B, H, S, Dqk], v [B, H, S, Dv] drawn from the current seed.
std::vector<torch::Tensor> random_qkv(const AttentionShape& x, const torch::TensorOptions& options) {
  return {torch::randn({x.b, x.h, x.t, x.dqk}, options), torch::randn({x.b, x.h, x.s, x.dqk}, options),
          torch::randn({x.b, x.h, x.s, x.dv}, options)};
}

class OnDevice : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "cuda" && !torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  }
  torch::Device device() const { return GetParam() == "cuda" ? torch::kCUDA : torch::kCPU; }
  torch::TensorOptions options() const { return torch::TensorOptions().device(device()); }
};

}  // namespace

TEST_P(OnDevice, Flash2MatchesMathInFp32AndWithinTwiceNaiveErrorInBf16) {
  const auto& plugin = test::registry().require(Slot::Kernel, "flash2");
  auto flash2 = plugin.make_kernel(default_options(plugin, {}));
  for (const auto& x : kShapes) {
    for (bool causal : {true, false}) {
      torch::manual_seed(x.t + x.dqk);
      const auto qkv = random_qkv(x, options());
      auto probe = torch::randn({x.b, x.h, x.t, x.dv}, options());
      KernelArgs args;
      args.scale = 1.0 / std::sqrt(static_cast<double>(x.dqk));
      args.causal = causal;
      auto math = [&](const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
        return reference_attention(q, k, v, args);
      };
      auto fast = [&](const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
        return flash2->attend(q, k, v, args);
      };
      const auto ref = output_and_gradients(math, qkv, probe, torch::kFloat);
      const std::string where = "T=" + std::to_string(x.t) + " Dqk=" + std::to_string(x.dqk) +
                                " Dv=" + std::to_string(x.dv) + (causal ? " causal" : "");
      if (device().is_cpu()) {
        const auto mine = output_and_gradients(fast, qkv, probe, torch::kFloat);
        for (int n = 0; n < 4; ++n)
          EXPECT_LT(max_abs(mine[n], ref[n]), 2e-4) << where << " tensor "
                                                    << "oqkv"[n];
      } else {
        // The CUDA kernel takes 16-bit inputs only, and says so.
        EXPECT_THROW(fast(qkv[0], qkv[1], qkv[2]), InputError) << where;
      }
      const auto naive = output_and_gradients(math, qkv, probe, torch::kBFloat16);
      const auto mine = output_and_gradients(fast, qkv, probe, torch::kBFloat16);
      for (int n = 0; n < 4; ++n)
        EXPECT_LE(max_abs(mine[n], ref[n]), 2 * max_abs(naive[n], ref[n]) + 1e-3) << where << " bf16 tensor "
                                                                                  << "oqkv"[n];
    }
  }
}

TEST_P(OnDevice, DsaSparseKernelMatchesMaskedMathInOutputAndGradients) {
  const auto& plugin = test::registry().require(Slot::Sparse, "dsa");
  for (int64_t top_k : {5, 16}) {
    ModelDims dims;
    dims.d_model = 16;
    auto dsa = plugin.make_sparse(default_options(plugin, {{"top_k", Value::of(top_k)}}), dims);
    const auto& rope = test::registry().require(Slot::Rope, "rope");
    dsa->use_rope(rope.make_rope(default_options(rope, {}), RopeDims{dsa->rope_dim(), 256}));
    dsa->to(device());
    auto math = test::registry().require(Slot::Kernel, "math").make_kernel(Options());
    for (const auto& x : kShapes) {
      if (x.t != x.s) continue;
      torch::manual_seed(top_k * 100 + x.t);
      auto hidden = torch::randn({x.b, x.t, 16}, options());
      const auto qkv = random_qkv(x, options());
      auto probe = torch::randn({x.b, x.h, x.t, x.dv}, options());
      KernelArgs args;
      args.scale = 1.0 / std::sqrt(static_cast<double>(x.dqk));
      torch::Tensor selected;
      {
        torch::NoGradGuard no_grad;
        selected = dsa->inspect(hidden, qkv[0], qkv[1], args).at("selected");
      }
      // Dense attention restricted to the selected keys: the -1 padding collects in column 0.
      auto allowed = torch::zeros({x.b, x.t, x.t + 1}, options().dtype(torch::kBool));
      allowed.scatter_(2, selected.clamp_min(-1) + 1, true);
      allowed = allowed.narrow(2, 1, x.t).unsqueeze(1);
      auto masked = [&](const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
        auto scores = torch::matmul(q, k.transpose(-2, -1)) * args.scale;
        return torch::matmul(torch::softmax(scores.masked_fill(allowed.logical_not(), -INFINITY), -1), v);
      };
      auto sparse = [&](const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
        ForwardState state;
        return dsa->attend(hidden, q, k, v, args, *math, state);
      };
      const auto ref = output_and_gradients(masked, qkv, probe, torch::kFloat);
      const auto mine = output_and_gradients(sparse, qkv, probe, torch::kFloat);
      const std::string where = "T=" + std::to_string(x.t) + " k=" + std::to_string(top_k) +
                                " Dqk=" + std::to_string(x.dqk) + " Dv=" + std::to_string(x.dv);
      for (int n = 0; n < 4; ++n)
        EXPECT_LT(max_abs(mine[n], ref[n]), 1e-4) << where << " tensor "
                                                  << "oqkv"[n];
      // bf16 inputs: the kernel computes in fp32, so only the inputs' rounding separates it from fp32.
      const auto low = output_and_gradients(sparse, qkv, probe, torch::kBFloat16);
      const auto naive = output_and_gradients(masked, qkv, probe, torch::kBFloat16);
      for (int n = 0; n < 4; ++n)
        EXPECT_LE(max_abs(low[n], ref[n]), 2 * max_abs(naive[n], ref[n]) + 1e-3) << where << " bf16 " << n;
    }
  }
}

TEST_P(OnDevice, FusedOpsMatchTheirCompositeFormsInOutputAndGradients) {
  for (auto dtype : {torch::kFloat, torch::kBFloat16}) {
    const double tol = dtype == torch::kFloat ? 1e-5 : 5e-2;
    for (const auto& shape : {std::vector<int64_t>{3, 13}, {2, 33, 64}}) {
      torch::manual_seed(shape.back());
      auto make = [&](std::vector<int64_t> s) {
        return (torch::randn(s, options()) * 2).to(dtype).requires_grad_(true);
      };
      auto x = make(shape), w = make({shape.back()}), gate = make(shape), up = make(shape);
      auto check = [&](const torch::Tensor& fused, const torch::Tensor& composite,
                       const std::vector<torch::Tensor>& inputs, const char* what) {
        EXPECT_LT(max_abs(fused, composite), tol * std::max(1.0, composite.abs().max().item<double>()))
            << what;
        auto probe = torch::randn_like(composite);
        auto g1 = torch::autograd::grad({(fused * probe).sum()}, inputs);
        auto g2 = torch::autograd::grad({(composite * probe).sum()}, inputs);
        for (size_t n = 0; n < inputs.size(); ++n)
          EXPECT_LT(max_abs(g1[n], g2[n]), tol * std::max(1.0, g2[n].abs().max().item<double>()))
              << what << " gradient " << n;
      };
      auto xf = x.to(torch::kFloat);
      auto rms = (xf * torch::rsqrt(xf.pow(2).mean(-1, true) + 1e-6)).to(dtype) * w;
      check(fused_rms_norm(x, w, 1e-6), rms, {x, w}, "rms_norm");
      check(fused_swiglu(torch::cat({gate, up}, -1)), torch::silu(gate) * up, {gate, up}, "swiglu");
      if (shape.back() % 2 == 0) {
        const int64_t t = shape[shape.size() - 2], half = shape.back() / 2;
        auto angle = torch::rand({t, half}, options()) * 6;
        auto cos = angle.cos().to(dtype), sin = angle.sin().to(dtype);
        auto a = x.narrow(-1, 0, half), b = x.narrow(-1, half, half);
        auto rotated = torch::cat({a * cos - b * sin, a * sin + b * cos}, -1);
        check(fused_rotary(x, cos, sin, false), rotated, {x}, "rotary");
      }
    }
  }
}

TEST_P(OnDevice, FiftyTrainingStepsLowerTheLossAndResumeExactly) {
  fs::path root = test::temp_dir("on_device_" + GetParam());
  auto common = test::plus(test::tiny_run(root, "x"),
                           {"train.steps=50", "eval.every=25", "train.device=" + GetParam()});
  TrainOptions quiet;
  quiet.quiet = true;
  Config full = test::make_config(test::plus(common, {"experiment.variant=full"}));
  RunResult whole = train(full, quiet);
  ASSERT_TRUE(whole.finished);
  auto summary = read_json(whole.run_dir / "summary.json");
  EXPECT_EQ(summary["device"].get<std::string>().rfind(GetParam(), 0), 0u) << summary["device"];
  auto a = read_json_lines(whole.run_dir / "metrics.jsonl");
  ASSERT_EQ(a.size(), 2u);
  // The untrained model scores about log(vocab); 50 steps on the templated corpus go well below it.
  EXPECT_LT(a.back()["val_loss"].get<double>(), std::log(summary["data"]["vocab_size"].get<double>()) - 1.0);

  Config split = test::make_config(test::plus(common, {"experiment.variant=split"}));
  TrainOptions stop = quiet;
  stop.stop_after = 25;
  ASSERT_FALSE(train(split, stop).finished);
  TrainOptions resume = quiet;
  resume.resume = true;
  ASSERT_TRUE(train(split, resume).finished);
  auto b = read_json_lines(run_directory(split) / "metrics.jsonl");
  ASSERT_EQ(b.size(), a.size());
  // CUDA's atomic adds (MoE scatter, index_add) may reassociate sums between runs.
  const double tol = GetParam() == "cuda" ? 1e-5 : 1e-6;
  for (size_t n = 0; n < a.size(); ++n) {
    EXPECT_NEAR(a[n]["train_loss"].get<double>(), b[n]["train_loss"].get<double>(), tol) << "eval " << n;
    EXPECT_NEAR(a[n]["val_loss"].get<double>(), b[n]["val_loss"].get<double>(), tol) << "eval " << n;
  }
}

INSTANTIATE_TEST_SUITE_P(Devices, OnDevice, ::testing::Values("cpu", "cuda"),
                         [](const auto& info) { return info.param; });
