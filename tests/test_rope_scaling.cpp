// RoPE scalings against the spec's numeric sanity values (D = 64, base 1e4, fp32/fp64 as stated).
#include "test_support.hpp"

#include <lab/rotary.hpp>

#include <gtest/gtest.h>

#include <torch/torch.h>
#include <cmath>

using namespace lab;

namespace {

RopePtr make_rope(const std::string& name, const std::map<std::string, Value>& keys, int64_t dim = 64,
                  int64_t max_seq_len = 4096) {
  const auto& p = test::registry().require(Slot::Rope, name);
  return p.make_rope(default_options(p, keys), RopeDims{dim, max_seq_len});
}

torch::Tensor freqs(const RopePtr& rope, int64_t seq_len) {
  auto* rotary = dynamic_cast<const Rotary*>(rope.get());
  EXPECT_NE(rotary, nullptr);
  return rotary->frequencies(seq_len);
}

// The spec's values were computed in fp32: compare to fp32's relative precision.
constexpr double kFp32 = 1e-6;

double value_at(const torch::Tensor& t, int64_t i) { return t[i].item<double>(); }

}  // namespace

TEST(RopeScaling, DefaultFrequencies) {
  auto f = freqs(make_rope("rope", {}), 16);
  EXPECT_NEAR(value_at(f, 0), 1.0, kFp32 * std::abs(1.0));
  EXPECT_NEAR(value_at(f, 1), 7.49894202e-1, kFp32 * std::abs(7.49894202e-1));
  EXPECT_NEAR(value_at(f, 15), 1.33352149e-2, kFp32 * std::abs(1.33352149e-2));
  EXPECT_NEAR(value_at(f, 16), 9.99999978e-3, kFp32 * std::abs(9.99999978e-3));
  EXPECT_NEAR(value_at(f, 31), 1.33352150e-4, kFp32 * std::abs(1.33352150e-4));
}

TEST(RopeScaling, YarnFrequenciesAndTemperature) {
  auto yarn4 =
      make_rope("yarn", {{"factor", Value::of(4.0)}, {"original_max_position_embeddings", Value::of(4096)}});
  auto f = freqs(yarn4, 16);
  EXPECT_NEAR(value_at(f, 0), 1.0, kFp32 * std::abs(1.0));
  EXPECT_NEAR(value_at(f, 10), 5.62341288e-2,
              kFp32 * std::abs(5.62341288e-2));  // inside the keep range: unchanged
  EXPECT_NEAR(value_at(f, 11), 3.97367850e-2, kFp32 * std::abs(3.97367850e-2));
  EXPECT_NEAR(value_at(f, 16), 6.53846189e-3, kFp32 * std::abs(6.53846189e-3));
  EXPECT_NEAR(value_at(f, 22), 5.47162897e-4, kFp32 * std::abs(5.47162897e-4));
  EXPECT_NEAR(value_at(f, 23), 3.33380362e-4, kFp32 * std::abs(3.33380362e-4));  // θ_23 / 4
  EXPECT_NEAR(value_at(f, 31), 3.33380376e-5, kFp32 * std::abs(3.33380376e-5));
  EXPECT_NEAR(yarn4->softmax_scale_factor(), 1.29647699, 1e-8);

  auto yarn40 =
      make_rope("yarn", {{"factor", Value::of(40.0)}, {"original_max_position_embeddings", Value::of(4096)}});
  f = freqs(yarn40, 16);
  EXPECT_NEAR(value_at(f, 11), 3.90069261e-2, kFp32 * std::abs(3.90069261e-2));
  EXPECT_NEAR(value_at(f, 16), 5.50000044e-3, kFp32 * std::abs(5.50000044e-3));
  EXPECT_NEAR(value_at(f, 22), 1.77827940e-4, kFp32 * std::abs(1.77827940e-4));
  EXPECT_NEAR(value_at(f, 23), 3.33380376e-5, kFp32 * std::abs(3.33380376e-5));
  EXPECT_NEAR(yarn40->softmax_scale_factor(), 1.87385421, 1e-8);

  EXPECT_NEAR(yarn_mscale(4, 1), 1.13862944, 1e-8);
  EXPECT_NEAR(yarn_mscale(4, 0.707), 1.09801101, 1e-8);
  EXPECT_NEAR(yarn_mscale(40, 0.707), 1.26080378, 1e-8);
  EXPECT_EQ(yarn_mscale(0.5, 1), 1.0);
  // mscale_all_dim = 0 turns the temperature off, as in HF.
  EXPECT_EQ(make_rope("yarn", {{"mscale_all_dim", Value::of(0.0)}})->softmax_scale_factor(), 1.0);
  // The correction range: ramp 0 up to pair 10, (i-10)/13 between, 1 from pair 23.
  auto keep = yarn_keep_mask(64, 1e4, 4096, 32, 1);
  EXPECT_EQ(value_at(keep, 10), 1.0);
  EXPECT_NEAR(value_at(keep, 16), 1.0 - 6.0 / 13.0, 1e-12);
  EXPECT_EQ(value_at(keep, 23), 0.0);
}

TEST(RopeScaling, DynamicNtkRecomputesTheBaseOnlyPastTheMaximum) {
  auto ntk2 =
      make_rope("rope_ntk", {{"factor", Value::of(2.0)}, {"max_position_embeddings", Value::of(4096)}});
  EXPECT_TRUE(torch::allclose(freqs(ntk2, 4096), rope_inv_freq(64, 1e4)));
  EXPECT_TRUE(torch::allclose(freqs(ntk2, 8192), rope_inv_freq(64, 31082.2367), 1e-7));
  auto ntk4 =
      make_rope("rope_ntk", {{"factor", Value::of(4.0)}, {"max_position_embeddings", Value::of(4096)}});
  auto f = freqs(ntk4, 8192);
  EXPECT_NEAR(value_at(f, 1), 7.11955070e-1, kFp32 * std::abs(7.11955070e-1));
  EXPECT_NEAR(value_at(f, 31), 2.66704283e-5, kFp32 * std::abs(2.66704283e-5));
  EXPECT_TRUE(torch::allclose(freqs(ntk4, 16384), rope_inv_freq(64, 141213.7574), 1e-7));
  // Stateless: a shorter sequence afterwards uses the original base again.
  EXPECT_TRUE(torch::allclose(freqs(ntk4, 100), rope_inv_freq(64, 1e4)));
  // max_position_embeddings = 0 means the model's training length.
  auto by_model = make_rope("rope_ntk", {{"factor", Value::of(4.0)}}, 64, 4096);
  EXPECT_TRUE(torch::allclose(freqs(by_model, 8192), f));
}

TEST(RopeScaling, LinearDividesPositions) {
  auto linear = make_rope("rope_linear", {{"factor", Value::of(4.0)}}, 8);
  auto plain = make_rope("rope", {}, 8);
  auto [lc, ls] = linear->tables(17, torch::kCPU);
  auto [pc, ps] = plain->tables(5, torch::kCPU);
  // Position 16 under factor 4 is position 4 unscaled.
  EXPECT_LT((lc[16] - pc[4]).abs().max().item<double>(), 1e-6);
  EXPECT_LT((ls[16] - ps[4]).abs().max().item<double>(), 1e-6);
}

TEST(RopeScaling, InterleavedRotationOfOnes) {
  auto rope = make_rope("rope", {});
  auto y = rope->apply(torch::ones({1, 1, 4, 64})).select(2, 3).view({-1});  // position 3
  EXPECT_NEAR(value_at(y, 0), -1.13111246, kFp32 * std::abs(-1.13111246));
  EXPECT_NEAR(value_at(y, 1), -0.84887248, kFp32 * std::abs(-0.84887248));
  EXPECT_NEAR(value_at(y, 2), -1.40619922, kFp32 * std::abs(-1.40619922));
  EXPECT_NEAR(value_at(y, 3), 0.15034580, kFp32 * std::abs(0.15034580));
  EXPECT_NEAR(value_at(y, 62), 0.99959987, kFp32 * std::abs(0.99959987));
  EXPECT_NEAR(value_at(y, 63), 1.00039995, kFp32 * std::abs(1.00039995));
}
