// The DSA indexer at reduced precision: the float8 e4m3 codec against the format's table, the
// quantisation, and the selection's parity and recall against fp32.
#include "../plugins/dsa/low_precision.hpp"
#include "run/files.hpp"
#include "test_support.hpp"
#include "tiny_run.hpp"
#include "train/trainer.hpp"

#include <lab/error.hpp>
#include <lab/plugin.hpp>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <vector>

using namespace lab;

namespace {

// The e4m3fn value of a code, from the format's definition: bias 7, 3 mantissa bits, subnormals at
// exponent 0, S.1111.111 NaN, no infinities.
double reference_value(int code) {
  const int sign = code >> 7, exponent = (code >> 3) & 15, mantissa = code & 7;
  if (exponent == 15 && mantissa == 7) return std::nan("");
  const double magnitude =
      exponent == 0 ? mantissa / 8.0 * std::pow(2.0, -6) : (1 + mantissa / 8.0) * std::pow(2.0, exponent - 7);
  return sign ? -magnitude : magnitude;
}

// The finite e4m3 values in increasing order of magnitude, with their codes.
std::vector<std::pair<double, uint8_t>> finite_magnitudes() {
  std::vector<std::pair<double, uint8_t>> v;
  for (int code = 0; code < 0x7F; ++code) v.push_back({reference_value(code), static_cast<uint8_t>(code)});
  return v;
}

SparsePtr make_dsa(const std::string& precision, int64_t top_k, int64_t d_model = 32) {
  const auto& p = test::registry().require(Slot::Sparse, "dsa");
  ModelDims dims;
  dims.d_model = d_model;
  auto sparse = p.make_sparse(default_options(p, {{"top_k", Value::of(top_k)},
                                                  {"index_precision", Value::of(precision)},
                                                  {"index_dim", Value::of(int64_t{64})}}),
                              dims);
  const auto& rope = test::registry().require(Slot::Rope, "rope");
  sparse->use_rope(rope.make_rope(default_options(rope, {}), RopeDims{sparse->rope_dim(), 512}));
  return sparse;
}

torch::Tensor selection(Sparse& dsa, const torch::Tensor& x) {
  auto q = torch::zeros({x.size(0), 1, x.size(1), 8});
  KernelArgs args;
  return dsa.inspect(x, q, q, args).at("selected");
}

}  // namespace

TEST(E4m3, EveryCodeDecodesToTheFormatsValue) {
  // Anchors from the format's table, then every code against its definition.
  EXPECT_EQ(dsa::e4m3_decode(0x00), 0.0f);
  EXPECT_TRUE(std::signbit(dsa::e4m3_decode(0x80)));
  EXPECT_EQ(dsa::e4m3_decode(0x01), std::ldexp(1.0f, -9));  // smallest subnormal
  EXPECT_EQ(dsa::e4m3_decode(0x07), 7 * std::ldexp(1.0f, -9));
  EXPECT_EQ(dsa::e4m3_decode(0x08), std::ldexp(1.0f, -6));  // smallest normal
  EXPECT_EQ(dsa::e4m3_decode(0x38), 1.0f);
  EXPECT_EQ(dsa::e4m3_decode(0x3C), 1.5f);
  EXPECT_EQ(dsa::e4m3_decode(0x7E), 448.0f);  // largest finite
  EXPECT_EQ(dsa::e4m3_decode(0xFE), -448.0f);
  EXPECT_TRUE(std::isnan(dsa::e4m3_decode(0x7F)));
  EXPECT_TRUE(std::isnan(dsa::e4m3_decode(0xFF)));
  for (int code = 0; code < 256; ++code) {
    const double want = reference_value(code);
    const float got = dsa::e4m3_decode(static_cast<uint8_t>(code));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << code;
      continue;
    }
    EXPECT_EQ(static_cast<double>(got), want) << "code " << code;
    EXPECT_EQ(dsa::e4m3_encode(got), code) << "round trip of code " << code;
  }
#if defined(TORCH_VERSION_MAJOR) && TORCH_VERSION_MAJOR >= 2
  // LibTorch 2 has the type itself: an independent decoder of all 256 codes.
  auto codes = torch::arange(256, torch::kInt32).to(torch::kUInt8);
  auto theirs = codes.view(torch::kFloat8_e4m3fn).to(torch::kFloat32);
  for (int code = 0; code < 256; ++code) {
    const float t = theirs[code].item<float>(), mine = dsa::e4m3_decode(static_cast<uint8_t>(code));
    if (std::isnan(t))
      EXPECT_TRUE(std::isnan(mine)) << code;
    else
      EXPECT_EQ(t, mine) << code;
  }
#endif
}

TEST(E4m3, RoundsToNearestTiesToEvenAndSaturates) {
  const auto table = finite_magnitudes();
  std::vector<float> probes;
  for (size_t n = 0; n + 1 < table.size(); ++n) {
    const double lo = table[n].first, hi = table[n + 1].first;
    for (double f : {0.0, 0.25, 0.5, 0.75}) probes.push_back(static_cast<float>(lo + f * (hi - lo)));
  }
  for (float p : {1e-12f, 1e-3f, 447.0f, 460.0f, 464.0f, 1e6f, std::numeric_limits<float>::infinity()})
    probes.push_back(p);
  for (float p : probes) {
    for (float v : {p, -p}) {
      // The nearest finite value; on a tie the even code; beyond 448, 448.
      double best = 448, gap = std::numeric_limits<double>::infinity();
      uint8_t best_code = 0x7E;
      for (const auto& [value, code] : table) {
        const double d = std::fabs(std::fabs(static_cast<double>(v)) - value);
        if (d < gap || (d == gap && (code & 1) == 0)) gap = d, best = value, best_code = code;
      }
      if (std::fabs(v) > 448) best = 448, best_code = 0x7E;
      const uint8_t want = static_cast<uint8_t>((std::signbit(v) ? 0x80 : 0) | best_code);
      EXPECT_EQ(dsa::e4m3_encode(v), want) << v;
      const float rounded = dsa::round_to_e4m3(torch::tensor(v)).item<float>();
      EXPECT_EQ(static_cast<double>(rounded), std::signbit(v) ? -best : best) << v;
    }
  }
  EXPECT_EQ(dsa::e4m3_encode(std::nanf("")), 0x7F);
  EXPECT_TRUE(dsa::round_to_e4m3(torch::tensor(std::nanf(""))).isnan().item<bool>());
}

TEST(E4m3, QuantisationKeepsEachVectorsLargestValueAndBoundsTheError) {
  torch::manual_seed(3);
  auto x = torch::randn({5, 7, 64}) * torch::rand({5, 7, 1}) * 10;
  x[2][3].zero_();  // an all-zero vector keeps scale 1
  const auto q = dsa::quantize_e4m3(x);
  ASSERT_EQ(q.scale.sizes(), (std::vector<int64_t>{5, 7}));
  EXPECT_EQ(q.scale[2][3].item<float>(), 1.0f);
  // Every value is an e4m3 number, the largest magnitude of each vector maps to 448.
  EXPECT_TRUE(torch::equal(dsa::round_to_e4m3(q.values), q.values));
  EXPECT_NEAR(q.values.abs().amax(-1)[0][0].item<float>(), 448.0f, 0);
  // 3 mantissa bits: relative error at most 2^-4 for normal numbers, plus the subnormal step.
  auto back = q.values * q.scale.unsqueeze(-1);
  auto bound = x.abs() / 16 + q.scale.unsqueeze(-1) * std::ldexp(1.0, -10);
  EXPECT_TRUE((back - x).abs().le(bound + 1e-7).all().item<bool>());
}

TEST(DsaLowPrecision, ValuesTheFormatHoldsExactlySelectAsInFp32) {
  // Indexer heads whose entries are e4m3 numbers with 448 in every vector: quantisation is exact, so the
  // fp8 selection must be the fp32 one key for key.
  torch::manual_seed(4);
  auto table = torch::tensor(std::vector<float>{0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 7.0f, 12.0f, 448.0f});
  auto pick = [&](std::vector<int64_t> shape) {
    auto v = table.index({torch::randint(0, 8, shape, torch::kLong)}) *
             (torch::randint(0, 2, shape).to(torch::kFloat) * 2 - 1);
    v.select(-1, 0).fill_(448.0f);
    return v;
  };
  dsa::IndexerHeads h{pick({2, 40, 4, 16}), pick({2, 40, 16}), torch::rand({2, 40, 4}), {}};
  auto exact = dsa::select_keys(h, 9);
  auto fp8 = dsa::select_keys(dsa::at_precision(h, dsa::IndexPrecision::Fp8), 9);
  EXPECT_TRUE(torch::equal(exact, fp8));
  EXPECT_EQ(dsa::selection_recall(fp8, exact), 1.0);
  auto bf16 = dsa::select_keys(dsa::at_precision(h, dsa::IndexPrecision::Bf16), 9);
  EXPECT_TRUE(torch::equal(exact, bf16));
}

TEST(DsaLowPrecision, RecallAgainstFp32OnRandomInputsMeetsItsBound) {
  // Random indexer inputs are the hard case (no structure, many near-ties); the bounds are what the
  // formats' rounding allows here: bf16 keeps 8 significant bits, e4m3 4.
  torch::manual_seed(5);
  auto x = torch::randn({2, 256, 32});
  const int64_t top_k = 64;
  for (const auto& [precision, bound] :
       std::vector<std::pair<std::string, double>>{{"bf16", 0.97}, {"fp8", 0.85}}) {
    torch::manual_seed(6);  // same indexer weights as the fp32 instance
    auto sparse = make_dsa(precision, top_k);
    torch::manual_seed(6);
    auto reference = make_dsa("fp32", top_k);
    const double recall = dsa::selection_recall(selection(*sparse, x), selection(*reference, x));
    EXPECT_GE(recall, bound) << precision;
    EXPECT_LT(recall, 1.0) << precision << ": reduced precision should change some choices";
    // The model's statistics report the same figure.
    ForwardState state;
    auto q = torch::randn({2, 2, 256, 8});
    KernelArgs args;
    args.scale = 0.3;
    auto dense = test::registry().require(Slot::Kernel, "math").make_kernel(Options());
    sparse->attend(x, q, q, q, args, *dense, state);
    ASSERT_EQ(state.stats.count("dsa/layer0/index_recall"), 1u) << precision;
    EXPECT_NEAR(state.stats["dsa/layer0/index_recall"], recall, 1e-12) << precision;
  }
}

TEST(DsaLowPrecision, TrainedIndexerKeepsNearlyEveryFp32KeyInFp8) {
  // A trained indexer separates keys by more than e4m3's rounding: the fp8 selection's recall against
  // fp32 on held-out windows, reported by every evaluation, stays high.
  auto root = test::temp_dir("dsa_fp8");
  Config c = test::make_config(
      test::plus(test::tiny_run(root, "fp8"),
                 {"sparse.plugin=dsa", "sparse.top_k=8", "sparse.index_dim=32", "sparse.index_rope_dim=16",
                  "sparse.index_precision=fp8", "train.steps=40", "eval.every=40"}));
  TrainOptions quiet;
  quiet.quiet = true;
  RunResult r = train(c, quiet);
  ASSERT_TRUE(r.finished);
  auto lines = read_json_lines(r.run_dir / "metrics.jsonl");
  ASSERT_FALSE(lines.empty());
  for (int layer = 0; layer < 2; ++layer) {
    const std::string key = "dsa/layer" + std::to_string(layer) + "/index_recall";
    const auto& stats = lines.back()["stats"];
    ASSERT_TRUE(stats.contains(key)) << lines.back().dump();
    EXPECT_GE(stats[key].get<double>(), 0.9) << key;
  }
}

TEST(DsaLowPrecision, UnknownPrecisionIsABadRecipeKey) {
  const auto& p = test::registry().require(Slot::Sparse, "dsa");
  Problems problems;
  ModelDims dims;
  dims.d_model = 16;
  dims.seq_len = 64;
  p.validate(default_options(p, {{"index_precision", Value::of("fp4")}}), dims, problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].key, "index_precision");
  EXPECT_NE(problems[0].message.find("fp4"), std::string::npos);
}
