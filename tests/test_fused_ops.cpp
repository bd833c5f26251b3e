// The fused RMSNorm and SwiGLU product against their composite LibTorch forms and finite differences.
#include "model/fused_ops.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace {

torch::Tensor composite_rms_norm(const torch::Tensor& x, const torch::Tensor& w, double eps) {
  return x * torch::rsqrt(x.pow(2).mean(-1, true) + eps) * w;
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

}  // namespace

TEST(FusedOps, RmsNormGradientsMatchFiniteDifferencesInDouble) {
  torch::manual_seed(1);
  const double err = lab::test::max_gradient_error(
      [](const std::vector<torch::Tensor>& in) { return lab::fused_rms_norm(in[0], in[1], 1e-6); },
      {torch::randn({3, 2, 7}), torch::randn({7})});
  EXPECT_LT(err, 1e-7);
}

TEST(FusedOps, SwigluGradientsMatchFiniteDifferencesInDouble) {
  torch::manual_seed(2);
  const double err = lab::test::max_gradient_error(
      [](const std::vector<torch::Tensor>& in) {
        return lab::fused_swiglu(torch::cat({in[0], in[1]}, -1));
      },
      {torch::randn({5, 9}) * 3, torch::randn({5, 9})});
  EXPECT_LT(err, 1e-7);
}

// fp32 takes the vectorised paths: odd widths leave scalar tails, and the batch spans several tasks.
TEST(FusedOps, Fp32MatchesTheCompositeFormsInOutputAndGradients) {
  for (const auto& shape : {std::vector<int64_t>{1, 1}, {3, 13}, {2, 300, 256}, {4099, 17}}) {
    torch::manual_seed(shape.back());
    auto x = torch::randn(shape) * 4, w = torch::randn({shape.back()}), up = torch::randn(shape);
    auto probe = torch::randn(shape);

    auto x1 = x.clone().requires_grad_(true), w1 = w.clone().requires_grad_(true);
    auto x2 = x.clone().requires_grad_(true), w2 = w.clone().requires_grad_(true);
    auto fused = lab::fused_rms_norm(x1, w1, 1e-6), reference = composite_rms_norm(x2, w2, 1e-6);
    EXPECT_LT(max_diff(fused, reference), 1e-5);
    (fused * probe).sum().backward();
    (reference * probe).sum().backward();
    EXPECT_LT(max_diff(x1.grad(), x2.grad()), 1e-4) << shape.back();
    EXPECT_LT(max_diff(w1.grad(), w2.grad()) / (1 + w2.grad().abs().max().item<double>()), 1e-5);

    auto g1 = x.clone().requires_grad_(true), u1 = up.clone().requires_grad_(true);
    auto g2 = x.clone().requires_grad_(true), u2 = up.clone().requires_grad_(true);
    auto h1 = lab::fused_swiglu(torch::cat({g1, u1}, -1)), h2 = torch::silu(g2) * u2;
    EXPECT_LT(max_diff(h1, h2), 1e-5);
    (h1 * probe).sum().backward();
    (h2 * probe).sum().backward();
    EXPECT_LT(max_diff(g1.grad(), g2.grad()), 1e-5);
    EXPECT_LT(max_diff(u1.grad(), u2.grad()), 1e-5);
  }
}

TEST(FusedOps, ExtremeGatesSaturateWithoutNaN) {
  auto g = torch::tensor({-200.f, -90.f, -20.f, 0.f, 20.f, 90.f, 200.f, 1e-3f, -1e-3f}).requires_grad_(true);
  auto u = torch::ones({9}).requires_grad_(true);
  auto h = lab::fused_swiglu(torch::cat({g, u}, -1));
  h.sum().backward();
  EXPECT_TRUE(torch::isfinite(h).all().item<bool>());
  EXPECT_TRUE(torch::isfinite(g.grad()).all().item<bool>());
  EXPECT_LT(max_diff(h, torch::silu(g.detach())), 1e-5);
}

TEST(FusedOps, RotaryMatchesTheCompositeFormInBothLayoutsAndHasExactGradients) {
  for (bool interleaved : {true, false}) {
    torch::manual_seed(interleaved ? 7 : 8);
    const int64_t t = 11, dim = 6;
    auto angles = torch::rand({t, dim / 2}) * 6.0;
    auto cos = angles.cos(), sin = angles.sin();
    auto x = torch::randn({2, 3, t, dim});
    // The composite form: pairs rotated by hand.
    auto idx_a = interleaved ? torch::arange(0, dim, 2) : torch::arange(0, dim / 2);
    auto idx_b = interleaved ? torch::arange(1, dim, 2) : torch::arange(dim / 2, dim);
    auto a = x.index_select(-1, idx_a), b = x.index_select(-1, idx_b);
    auto expected = torch::zeros_like(x);
    expected.index_copy_(-1, idx_a, a * cos - b * sin);
    expected.index_copy_(-1, idx_b, a * sin + b * cos);
    EXPECT_LT(max_diff(lab::fused_rotary(x, cos, sin, interleaved), expected), 1e-6) << interleaved;
    // Non-contiguous input (a transposed view) gives the same result.
    auto xt = x.transpose(1, 2).contiguous().transpose(1, 2);
    EXPECT_LT(max_diff(lab::fused_rotary(xt, cos, sin, interleaved), expected), 1e-6) << interleaved;
    const auto c64 = cos.to(torch::kFloat64), s64 = sin.to(torch::kFloat64);
    const double err = lab::test::max_gradient_error(
        [&](const std::vector<torch::Tensor>& in) { return lab::fused_rotary(in[0], c64, s64, interleaved); },
        {torch::randn({2, t, dim})});
    EXPECT_LT(err, 1e-7) << interleaved;
  }
}
