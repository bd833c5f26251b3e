// The flash2 kernel (FlashAttention-2): gradient checks in double on odd shapes, parity of output and
// gradients with the math reference in fp32, masked rows, dropout, recipe validation, model use.
#include "model/model.hpp"
#include "test_support.hpp"

#include <lab/error.hpp>
#include <lab/reference_attention.hpp>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <tuple>

using namespace lab;

namespace {

KernelPtr flash2(int64_t block_q, int64_t block_k, const std::string& backward = "auto",
                 const std::string& isa = "auto") {
  const auto& p = test::registry().require(Slot::Kernel, "flash2");
  return p.make_kernel(default_options(p, {{"block_q", Value::of(block_q)},
                                           {"block_k", Value::of(block_k)},
                                           {"backward", Value::of(backward)},
                                           {"cpu_isa", Value::of(isa)}}));
}

KernelArgs args_for(int64_t dqk, bool causal) {
  KernelArgs a;
  a.scale = 1.0 / std::sqrt(static_cast<double>(dqk));
  a.causal = causal;
  return a;
}

double max_abs(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

struct Shape {
  int64_t b, h, t, s, dqk, dv;
};

std::string describe(const Shape& x, bool causal) {
  return "B=" + std::to_string(x.b) + " H=" + std::to_string(x.h) + " T=" + std::to_string(x.t) +
         " S=" + std::to_string(x.s) + " Dqk=" + std::to_string(x.dqk) + " Dv=" + std::to_string(x.dv) +
         (causal ? " causal" : " full");
}

}  // namespace

TEST(Flash2, GradientsMatchFiniteDifferencesInDoubleOnOddShapes) {
  // Odd lengths against blocks of 4 and 8 exercise tails, diagonal tiles and skipped tiles.
  const std::vector<Shape> shapes = {
      {1, 2, 1, 1, 3, 2}, {1, 2, 7, 7, 5, 3}, {2, 1, 9, 13, 4, 6}, {1, 1, 17, 17, 3, 2}};
  for (const std::string backward : {"per_head", "split"}) {
    auto kernel = flash2(4, 8, backward);
    for (const auto& x : shapes) {
      for (bool causal : {true, false}) {
        torch::manual_seed(3);
        const auto args = args_for(x.dqk, causal);
        const double err = test::max_gradient_error(
            [&](const std::vector<torch::Tensor>& in) { return kernel->attend(in[0], in[1], in[2], args); },
            {torch::randn({x.b, x.h, x.t, x.dqk}), torch::randn({x.b, x.h, x.s, x.dqk}),
             torch::randn({x.b, x.h, x.s, x.dv})});
        EXPECT_LT(err, 1e-6) << describe(x, causal) << " backward=" << backward;
      }
    }
  }
}

TEST(Flash2, MatchesMathForwardAndGradientsInFp32) {
  // Includes T, S not multiples of the block, S > T (key cache), T=1, and MLA's 192/128 head dims.
  const std::vector<Shape> shapes = {{2, 3, 65, 65, 32, 32},
                                     {1, 2, 63, 257, 48, 48},
                                     {1, 2, 1, 64, 64, 32},
                                     {1, 2, 33, 33, 192, 128},
                                     {2, 2, 257, 257, 16, 24}};
  // Both CPU instruction-set builds: "auto" runs AVX2 where the processor has it.
  for (const auto& [bq, bk, backward, isa] :
       std::vector<std::tuple<int64_t, int64_t, std::string, std::string>>{
           {16, 32, "split", "baseline"},
           {64, 64, "per_head", "auto"},
           {32, 16, "auto", "auto"},
           {64, 32, "per_head", "baseline"}}) {
    auto kernel = flash2(bq, bk, backward, isa);
    for (const auto& x : shapes) {
      for (bool causal : {true, false}) {
        torch::manual_seed(4);
        auto q = torch::randn({x.b, x.h, x.t, x.dqk}, torch::requires_grad());
        auto k = torch::randn({x.b, x.h, x.s, x.dqk}, torch::requires_grad());
        auto v = torch::randn({x.b, x.h, x.s, x.dv}, torch::requires_grad());
        const auto args = args_for(x.dqk, causal);
        auto probe = torch::randn({x.b, x.h, x.t, x.dv});
        auto out = kernel->attend(q, k, v, args);
        auto ref = reference_attention(q, k, v, args);
        const auto g = torch::autograd::grad({(out * probe).sum()}, {q, k, v});
        const auto r = torch::autograd::grad({(ref * probe).sum()}, {q, k, v});
        const std::string where =
            describe(x, causal) + " blocks " + std::to_string(bq) + "x" + std::to_string(bk);
        ASSERT_EQ(out.sizes(), ref.sizes()) << where;
        EXPECT_LT(max_abs(out, ref), 2e-5) << where;
        for (int n = 0; n < 3; ++n) {
          const double tol = 5e-5 * std::max(1.0, r[n].abs().max().item<double>());
          EXPECT_LT(max_abs(g[n], r[n]), tol) << where << " gradient "
                                              << "qkv"[n];
        }
      }
    }
  }
}

TEST(Flash2, NonContiguousInputsAndLowPrecisionOnCpu) {
  auto kernel = flash2(16, 16);
  torch::manual_seed(5);
  // [B, T, H, D] transposed to [B, H, T, D], as attention plugins produce it.
  auto q = torch::randn({2, 21, 3, 8}).transpose(1, 2), k = torch::randn({2, 21, 3, 8}).transpose(1, 2),
       v = torch::randn({2, 21, 3, 8}).transpose(1, 2);
  const auto args = args_for(8, true);
  auto ref = reference_attention(q, k, v, args);
  EXPECT_LT(max_abs(kernel->attend(q, k, v, args), ref), 2e-5);
  auto low = kernel->attend(q.to(torch::kBFloat16), k.to(torch::kBFloat16), v.to(torch::kBFloat16), args);
  EXPECT_EQ(low.scalar_type(), torch::kBFloat16);
  EXPECT_LT(max_abs(low.to(torch::kFloat), ref), 0.1);
}

TEST(Flash2, RowsWithoutVisibleKeysGiveZeroOutputAndFiniteGradients) {
  // Causal with T > S: the first T - S queries see no key (bottom-right alignment).
  auto kernel = flash2(4, 4);
  torch::manual_seed(6);
  auto q = torch::randn({1, 2, 10, 8}, torch::requires_grad());
  auto k = torch::randn({1, 2, 6, 8}, torch::requires_grad());
  auto v = torch::randn({1, 2, 6, 8}, torch::requires_grad());
  auto out = kernel->attend(q, k, v, args_for(8, true));
  EXPECT_EQ(out.narrow(2, 0, 4).abs().max().item<double>(), 0.0);
  auto ref = reference_attention(q.narrow(2, 4, 6), k, v, args_for(8, true));
  EXPECT_LT(max_abs(out.narrow(2, 4, 6), ref), 2e-5);
  out.pow(2).sum().backward();
  for (const auto& t : {q, k, v}) EXPECT_TRUE(torch::isfinite(t.grad()).all().item<bool>());
  EXPECT_EQ(q.grad().narrow(2, 0, 4).abs().max().item<double>(), 0.0);
}

TEST(Flash2, DropoutKeepsTheMeanIsRepeatableAndHasExactGradients) {
  auto kernel = flash2(16, 16);
  KernelArgs args = args_for(4, false);
  args.dropout = 0.25;
  args.training = true;
  // Zero queries give uniform probabilities; with V = 1 each output is the kept fraction / (1 - p).
  auto q = torch::zeros({2, 4, 128, 4}), k = torch::randn({2, 4, 128, 4}), v = torch::ones({2, 4, 128, 1});
  torch::manual_seed(7);
  auto a = kernel->attend(q, k, v, args);
  EXPECT_NEAR(a.mean().item<double>(), 1.0, 0.01);
  EXPECT_GT(a.std().item<double>(), 0.01);  // rows really differ
  torch::manual_seed(7);
  EXPECT_EQ(max_abs(kernel->attend(q, k, v, args), a), 0.0);
  args.training = false;
  EXPECT_LT(max_abs(kernel->attend(q, k, v, args), torch::ones_like(a)), 1e-6);  // no dropout in eval

  args.training = true;
  const double err = test::max_gradient_error(
      [&](const std::vector<torch::Tensor>& in) {
        torch::manual_seed(8);  // the same mask on every evaluation
        return kernel->attend(in[0], in[1], in[2], args);
      },
      {torch::randn({1, 2, 9, 4}), torch::randn({1, 2, 11, 4}), torch::randn({1, 2, 11, 3})});
  EXPECT_LT(err, 1e-6);
}

TEST(Flash2, RejectsMismatchedShapesAndBadRecipeKeys) {
  auto kernel = flash2(16, 16);
  EXPECT_THROW(kernel->attend(torch::randn({1, 2, 4, 8}), torch::randn({1, 2, 4, 6}),
                              torch::randn({1, 2, 4, 8}), args_for(8, true)),
               InputError);
  try {
    test::make_config({"kernel.plugin=flash2", "kernel.block_q=0", "kernel.backward=\"sideways\""});
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("block_q"), std::string::npos) << message;
    EXPECT_NE(message.find("backward"), std::string::npos) << message;
  }
}

TEST(Flash2, ModelWithFlash2MatchesModelWithMath) {
  const std::vector<std::string> tiny = {"model.d_model=32", "model.n_heads=4",        "model.n_layers=2",
                                         "model.seq_len=24", "moe.experts=4",          "moe.top_k=2",
                                         "moe.d_ff=48",      "tokenizer.vocab_size=97"};
  std::vector<torch::Tensor> logits, grads;
  for (const std::string name : {"math", "flash2"}) {
    auto sets = tiny;
    sets.push_back("kernel.plugin=" + name);
    Config c = test::make_config(sets);
    torch::manual_seed(0);
    LanguageModel model(c);
    model->initialize(0.2);
    auto tokens = torch::randint(0, 97, {2, 24}, torch::kInt64);
    ForwardState state;
    auto out = model->forward(tokens, state);
    out.pow(2).mean().backward();
    logits.push_back(out.detach());
    grads.push_back(model->parameters().front().grad().clone());
  }
  EXPECT_LT(max_abs(logits[0], logits[1]), 1e-4);
  EXPECT_LT(max_abs(grads[0], grads[1]), 1e-4 * std::max(1.0, grads[0].abs().max().item<double>()));
}

TEST(Flash2, CudaLowPrecisionErrorIsAtMostTwiceNaiveLowPrecision) {
  // flash-attn's rule: against an fp32 reference, the kernel may err at most 2x as much as a naive
  // attention computed in the same low precision (plus a small absolute slack).
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  auto kernel = flash2(64, 64);
  for (auto dtype : {torch::kBFloat16, torch::kHalf}) {
    for (const Shape& x :
         std::vector<Shape>{{2, 3, 65, 65, 64, 64}, {1, 2, 63, 257, 192, 128}, {1, 2, 1, 7, 32, 32}}) {
      for (bool causal : {true, false}) {
        torch::manual_seed(9);
        const auto opts = torch::TensorOptions().device(torch::kCUDA);
        auto q = torch::randn({x.b, x.h, x.t, x.dqk}, opts), k = torch::randn({x.b, x.h, x.s, x.dqk}, opts),
             v = torch::randn({x.b, x.h, x.s, x.dv}, opts), probe = torch::randn({x.b, x.h, x.t, x.dv}, opts);
        const auto args = args_for(x.dqk, causal);
        auto grads_of = [&](auto attend, torch::ScalarType t) {
          auto qq = q.to(t).requires_grad_(true), kk = k.to(t).requires_grad_(true),
               vv = v.to(t).requires_grad_(true);
          auto out = attend(qq, kk, vv);
          auto g = torch::autograd::grad({(out.to(torch::kFloat) * probe).sum()}, {qq, kk, vv});
          return std::vector<torch::Tensor>{out.to(torch::kFloat), g[0].to(torch::kFloat),
                                            g[1].to(torch::kFloat), g[2].to(torch::kFloat)};
        };
        auto naive = [&](const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& c) {
          return reference_attention(a, b, c, args);
        };
        auto fast = [&](const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& c) {
          return kernel->attend(a, b, c, args);
        };
        const auto ref = grads_of(naive, torch::kFloat), low = grads_of(naive, dtype),
                   mine = grads_of(fast, dtype);
        for (int n = 0; n < 4; ++n)
          EXPECT_LE(max_abs(mine[n], ref[n]), 2 * max_abs(low[n], ref[n]) + 1e-3)
              << describe(x, causal) << " " << c10::toString(dtype) << " tensor "
              << "oqkv"[n];
      }
    }
  }
}
