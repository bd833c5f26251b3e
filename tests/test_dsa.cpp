// The dsa sparse plugin: exactness when every key is selected, the indexer score, causality of the
// selection, the sparse kernel's gradients in double precision.
#include "model/model.hpp"
#include "test_support.hpp"
#include "train/optimizer.hpp"
#include "train/update_step.hpp"

#include <lab/error.hpp>
#include <lab/plugin.hpp>
#include <lab/reference_attention.hpp>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

using namespace lab;

namespace {

// The dsa plugin as the model builds it: its indexer rotates with the `rope` plugin at `theta`.
SparsePtr make_dsa(const std::map<std::string, Value>& overrides, int64_t d_model = 16,
                   double theta = 10000.0) {
  const auto& p = test::registry().require(Slot::Sparse, "dsa");
  ModelDims dims;
  dims.d_model = d_model;
  auto sparse = p.make_sparse(default_options(p, overrides), dims);
  const auto& rope = test::registry().require(Slot::Rope, "rope");
  sparse->use_rope(
      rope.make_rope(default_options(rope, {{"theta", Value::of(theta)}}), RopeDims{sparse->rope_dim(), 64}));
  return sparse;
}

struct Inputs {
  torch::Tensor x, q, k, v;
};

Inputs random_inputs(int64_t b, int64_t h, int64_t t, int64_t dqk, int64_t dv, int64_t d_model = 16) {
  return {torch::randn({b, t, d_model}), torch::randn({b, h, t, dqk}), torch::randn({b, h, t, dqk}),
          torch::randn({b, h, t, dv})};
}

KernelArgs args_with_scale(double scale) {
  KernelArgs args;
  args.scale = scale;
  return args;
}

// softmax over exactly the selected keys, as a dense masked computation.
torch::Tensor masked_reference(const Inputs& in, const torch::Tensor& selected, double scale) {
  auto allowed = torch::zeros({in.q.size(0), in.q.size(2), in.k.size(2) + 1}, torch::kBool);
  allowed.scatter_(2, selected.clamp_min(-1) + 1, true);  // column 0 collects the -1 padding
  allowed = allowed.narrow(2, 1, in.k.size(2)).unsqueeze(1);
  auto scores = torch::matmul(in.q, in.k.transpose(-2, -1)) * scale;
  return torch::matmul(torch::softmax(scores.masked_fill(allowed.logical_not(), -INFINITY), -1), in.v);
}

}  // namespace

TEST(Dsa, SelectingEveryKeyEqualsDenseAttentionInOutputAndGradients) {
  torch::manual_seed(0);
  auto dsa = make_dsa({{"top_k", Value::of(int64_t{12})}});
  auto dense = test::registry().require(Slot::Kernel, "math").make_kernel(Options());
  Inputs in = random_inputs(2, 3, 12, 8, 6);
  for (auto* t : {&in.q, &in.k, &in.v}) t->requires_grad_(true);
  KernelArgs args = args_with_scale(0.4);
  ForwardState state;
  state.training = true;
  auto out = dsa->attend(in.x, in.q, in.k, in.v, args, *dense, state);
  auto ref = reference_attention(in.q, in.k, in.v, args);
  EXPECT_LT((out - ref).abs().max().item<double>(), 1e-5);
  auto probe = torch::randn_like(out);
  auto g = torch::autograd::grad({(out * probe).sum()}, {in.q, in.k, in.v});
  auto g_ref = torch::autograd::grad({(ref * probe).sum()}, {in.q, in.k, in.v});
  for (int n = 0; n < 3; ++n) EXPECT_LT((g[n] - g_ref[n]).abs().max().item<double>(), 1e-5) << "input " << n;
  // With every key selected the indexer still trains (its KL loss is present and finite).
  ASSERT_EQ(state.aux_losses.count("dsa/layer0/indexer_kl"), 1u);
  EXPECT_TRUE(std::isfinite(state.aux_losses["dsa/layer0/indexer_kl"].item<double>()));
}

TEST(Dsa, SparseOutputIsAttentionOverTheSelectedKeysOnly) {
  torch::manual_seed(1);
  auto dsa = make_dsa({{"top_k", Value::of(int64_t{5})}, {"select_block", Value::of(int64_t{7})}});
  auto dense = test::registry().require(Slot::Kernel, "math").make_kernel(Options());
  Inputs in = random_inputs(2, 4, 23, 8, 5);
  KernelArgs args = args_with_scale(0.35);
  ForwardState state;
  auto out = dsa->attend(in.x, in.q, in.k, in.v, args, *dense, state);
  auto selected = dsa->inspect(in.x, in.q, in.k, args).at("selected");
  EXPECT_LT((out - masked_reference(in, selected, 0.35)).abs().max().item<double>(), 1e-5);
  // Evaluation forwards report the statistics.
  for (const char* key : {"sparsity", "distance_mean", "distance_std", "recall"})
    EXPECT_EQ(state.stats.count(std::string("dsa/layer0/") + key), 1u) << key;
  EXPECT_GT(state.stats["dsa/layer0/sparsity"], 0.3);
  EXPECT_GT(state.stats["dsa/layer0/recall"], 0.0);
  EXPECT_LT(state.stats["dsa/layer0/recall"], 1.0);
}

TEST(Dsa, NoQueryEverSelectsALaterKey) {
  torch::manual_seed(2);
  const int64_t t = 40, top_k = 8;
  auto dsa = make_dsa({{"top_k", Value::of(top_k)}, {"select_block", Value::of(int64_t{16})}});
  Inputs in = random_inputs(3, 2, t, 8, 8);
  auto selected = dsa->inspect(in.x, in.q, in.k, args_with_scale(0.3)).at("selected");
  ASSERT_EQ(selected.sizes(), (std::vector<int64_t>{3, t, top_k}));
  auto acc = selected.accessor<int64_t, 3>();
  for (int64_t b = 0; b < 3; ++b)
    for (int64_t i = 0; i < t; ++i) {
      int64_t valid = 0, previous = -1;
      for (int64_t j = 0; j < top_k; ++j) {
        const int64_t s = acc[b][i][j];
        if (s < 0) continue;
        EXPECT_LE(s, i) << "query " << i << " selected later key " << s;
        EXPECT_GT(s, previous) << "duplicate or unsorted selection";
        previous = s;
        ++valid;
      }
      EXPECT_EQ(valid, std::min(top_k, i + 1)) << "query " << i;
    }
  // End to end: changing the future (block input and heads) leaves earlier outputs unchanged.
  auto dense = test::registry().require(Slot::Kernel, "math").make_kernel(Options());
  ForwardState state;
  auto out = dsa->attend(in.x, in.q, in.k, in.v, args_with_scale(0.3), *dense, state);
  Inputs changed = in;
  const int64_t cut = 17;
  for (auto* x : {&changed.q, &changed.k, &changed.v}) {
    *x = x->clone();
    x->narrow(2, cut, t - cut).normal_();
  }
  changed.x = in.x.clone();
  changed.x.narrow(1, cut, t - cut).normal_();
  auto out2 = dsa->attend(changed.x, changed.q, changed.k, changed.v, args_with_scale(0.3), *dense, state);
  EXPECT_TRUE(torch::allclose(out.narrow(2, 0, cut), out2.narrow(2, 0, cut)));
  EXPECT_FALSE(torch::allclose(out.narrow(2, cut, t - cut), out2.narrow(2, cut, t - cut)));
}

TEST(Dsa, SelectionHoldsTheHighestIndexerScores) {
  // Blocks that do not divide T, more keys than top_k for most rows, and ties at 0 (ReLU) included.
  torch::manual_seed(5);
  const int64_t t = 45, top_k = 9;
  auto dsa = make_dsa({{"top_k", Value::of(top_k)}, {"select_block", Value::of(int64_t{7})}});
  Inputs in = random_inputs(2, 2, t, 8, 8);
  auto seen = dsa->inspect(in.x, in.q, in.k, args_with_scale(0.3));
  auto scores = seen.at("scores"), selected = seen.at("selected");
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t i = 0; i < t; ++i) {
      auto row = scores[b][i].narrow(0, 0, i + 1);
      auto picked = selected[b][i].masked_select(selected[b][i].ge(0));
      ASSERT_EQ(picked.numel(), std::min(top_k, i + 1)) << "query " << i;
      auto kept = torch::zeros({i + 1}, torch::kBool).index_fill_(0, picked, true);
      if (kept.all().item<bool>()) continue;
      EXPECT_GE(row.masked_select(kept).min().item<double>(),
                row.masked_select(kept.logical_not()).max().item<double>())
          << "query " << i << " left out a key that scores higher than one it kept";
    }
}

TEST(Dsa, SparseStageIndexerLossIsTheKlOverTheSelectedKeys) {
  // The loss reuses the scores the selection computed; rebuild it from inspect's full score matrix.
  torch::manual_seed(6);
  auto dsa = make_dsa({{"top_k", Value::of(int64_t{6})}, {"select_block", Value::of(int64_t{5})}});
  dsa->train();
  auto dense = test::registry().require(Slot::Kernel, "math").make_kernel(Options());
  Inputs in = random_inputs(2, 3, 19, 8, 4);
  ForwardState state;
  state.training = true;
  dsa->attend(in.x, in.q, in.k, in.v, args_with_scale(0.3), *dense, state);
  const double loss = state.aux_losses.at("dsa/layer0/indexer_kl").item<double>();

  auto seen = dsa->inspect(in.x, in.q, in.k, args_with_scale(0.3));
  auto idx = seen.at("selected"), support = idx.ge(0);
  auto scores = seen.at("scores").to(torch::kFloat64).gather(2, idx.clamp_min(0));
  auto p = seen.at("weights")
               .to(torch::kFloat64)
               .gather(2, idx.clamp_min(0))
               .masked_fill(support.logical_not(), 0);
  auto log_q = torch::log_softmax(scores.masked_fill(support.logical_not(), -INFINITY), -1)
                   .masked_fill(support.logical_not(), 0);
  const double expected = (torch::xlogy(p, p) - p * log_q).sum(-1).mean().item<double>();
  EXPECT_NEAR(loss, expected, 1e-5);
  EXPECT_GT(expected, 0.0);
}

TEST(Dsa, NaNIndexerInputStillGivesACausalWellFormedSelection) {
  torch::manual_seed(7);
  const int64_t t = 30, top_k = 5;
  auto dsa = make_dsa({{"top_k", Value::of(top_k)}});
  Inputs in = random_inputs(1, 2, t, 8, 8);
  in.x.narrow(1, 10, 5).fill_(NAN);
  auto selected = dsa->inspect(in.x, in.q, in.k, args_with_scale(0.3)).at("selected");
  auto acc = selected.accessor<int64_t, 3>();
  for (int64_t i = 0; i < t; ++i) {
    int64_t previous = -1;
    for (int64_t j = 0; j < top_k; ++j) {
      const int64_t s = acc[0][i][j];
      ASSERT_GE(s, -1);
      if (s < 0) continue;
      EXPECT_LE(s, i) << "query " << i;
      EXPECT_GT(s, previous) << "query " << i;
      previous = s;
    }
  }
}

TEST(Dsa, IndexerScoreMatchesANaiveLoop) {
  torch::manual_seed(3);
  const int64_t heads = 3, dim = 6, rope = 4, d_model = 10, t = 7;
  const double theta = 50.0;
  auto dsa = make_dsa(
      {{"index_heads", Value::of(heads)}, {"index_dim", Value::of(dim)}, {"index_rope_dim", Value::of(rope)}},
      d_model, theta);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : dsa->named_parameters()) p.value().normal_();  // layer norm weight/bias too
  }
  auto params = dsa->named_parameters();
  auto wq = params["indexer.wq.weight"], wk = params["indexer.wk.weight"];
  auto ww = params["indexer.weights_proj.weight"];
  auto ln_w = params["indexer.k_norm.weight"], ln_b = params["indexer.k_norm.bias"];
  Inputs in = random_inputs(1, 2, t, 4, 4, d_model);
  auto scores = dsa->inspect(in.x, in.q, in.k, args_with_scale(1.0)).at("scores");
  auto x_row = in.x[0].contiguous();
  auto x = x_row.accessor<float, 2>();
  auto linear = [&](const torch::Tensor& w, int64_t pos) {
    std::vector<double> out(w.size(0), 0.0);
    auto a = w.accessor<float, 2>();
    for (int64_t o = 0; o < w.size(0); ++o)
      for (int64_t i = 0; i < d_model; ++i) out[o] += a[o][i] * x[pos][i];
    return out;
  };
  auto rotate = [&](std::vector<double> v, int64_t pos,
                    size_t first) {  // half-split pairs on [first, first+rope)
    for (int64_t i = 0; i < rope / 2; ++i) {
      const double angle = pos * std::pow(theta, -2.0 * i / rope);
      const double a = v[first + i], b = v[first + i + rope / 2];
      v[first + i] = a * std::cos(angle) - b * std::sin(angle);
      v[first + i + rope / 2] = b * std::cos(angle) + a * std::sin(angle);
    }
    return v;
  };
  for (int64_t ti = 0; ti < t; ++ti)
    for (int64_t s = 0; s < t; ++s) {
      const double got = scores[0][ti][s].item<double>();
      if (s > ti) {
        EXPECT_TRUE(std::isinf(got) && got < 0) << ti << "," << s;
        continue;
      }
      auto k = linear(wk, s);
      double mean = 0, var = 0;
      for (double e : k) mean += e / dim;
      for (double e : k) var += (e - mean) * (e - mean) / dim;
      for (int64_t d = 0; d < dim; ++d)
        k[d] = (k[d] - mean) / std::sqrt(var + 1e-6) * ln_w[d].item<double>() + ln_b[d].item<double>();
      k = rotate(k, s, 0);
      auto q = linear(wq, ti);
      auto w = linear(ww, ti);
      double expected = 0;
      for (int64_t j = 0; j < heads; ++j) {
        auto qj = rotate(q, ti, j * dim);
        double r = 0;
        for (int64_t d = 0; d < dim; ++d) r += qj[j * dim + d] * k[d];
        expected += w[j] / std::sqrt(double(heads * dim)) * std::max(r, 0.0);
      }
      EXPECT_NEAR(got, expected, 1e-4 * (1 + std::abs(expected))) << ti << "," << s;
    }
}

TEST(Dsa, SparseKernelGradientsMatchFiniteDifferencesInDouble) {
  torch::manual_seed(4);
  auto dsa = make_dsa({{"top_k", Value::of(int64_t{3})}});
  dsa->to(torch::kFloat64);
  auto dense = test::registry().require(Slot::Kernel, "math").make_kernel(Options());
  Inputs in = random_inputs(1, 2, 8, 4, 3);
  auto x = in.x.to(torch::kFloat64);
  ForwardState state;
  double err = test::max_gradient_error(
      [&](const std::vector<torch::Tensor>& t) {
        return dsa->attend(x, t[0], t[1], t[2], args_with_scale(0.5), *dense, state);
      },
      {in.q, in.k, in.v});
  EXPECT_LT(err, 1e-7);
}

TEST(Dsa, IndexerLossGradientMatchesFiniteDifferencesInDouble) {
  // The sparse stage's KL runs through a hand-written backward of the selected indexer scores.
  torch::manual_seed(5);
  auto dsa = make_dsa({{"top_k", Value::of(int64_t{4})},
                       {"index_heads", Value::of(int64_t{2})},
                       {"index_dim", Value::of(int64_t{4})},
                       {"index_rope_dim", Value::of(int64_t{2})}});
  dsa->to(torch::kFloat64);
  dsa->train();
  auto dense = test::registry().require(Slot::Kernel, "math").make_kernel(Options());
  Inputs in = random_inputs(1, 2, 9, 4, 3);
  auto x = in.x.to(torch::kFloat64), q = in.q.to(torch::kFloat64), k = in.k.to(torch::kFloat64),
       v = in.v.to(torch::kFloat64);
  auto loss = [&] {
    torch::AutoGradMode with_grad(true);  // also under the finite differences' no-grad guard
    ForwardState state;
    state.training = true;
    dsa->attend(x, q, k, v, args_with_scale(0.5), *dense, state);
    return state.aux_losses.at("dsa/layer0/indexer_kl");
  };
  for (const char* name : {"indexer.wq.weight", "indexer.wk.weight", "indexer.weights_proj.weight"}) {
    auto p = dsa->named_parameters()[name];
    auto grad = torch::autograd::grad({loss()}, {p})[0];
    torch::NoGradGuard no_grad;
    auto flat = p.view({-1});
    double worst = 0;
    for (int64_t i = 0; i < flat.numel(); i += 3) {  // the selection must not change under ±eps
      const double orig = flat[i].item<double>(), eps = 1e-6;
      flat[i] = orig + eps;
      const double plus = loss().item<double>();
      flat[i] = orig - eps;
      const double minus = loss().item<double>();
      flat[i] = orig;
      worst = std::max(worst, std::abs((plus - minus) / (2 * eps) - grad.view({-1})[i].item<double>()));
    }
    EXPECT_LT(worst, 1e-6) << name;
  }
}

TEST(Dsa, BadKeysAreReportedByValidate) {
  const auto& p = test::registry().require(Slot::Sparse, "dsa");
  Problems problems;
  p.validate(
      default_options(p, {{"top_k", Value::of(int64_t{0})}, {"index_rope_dim", Value::of(int64_t{3})}}),
      ModelDims{}, problems);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].key, "top_k");
  EXPECT_EQ(problems[1].key, "index_rope_dim");
  EXPECT_THROW(make_dsa({})->set_mode("warm-up"), InputError);
}

namespace {

// A one-layer model with DSA whose RoPE slot is `rope_sets`; vocabulary 50.
LanguageModel dsa_model(const std::vector<std::string>& rope_sets) {
  std::vector<std::string> sets = {"model.d_model=32",       "model.n_heads=4", "model.n_layers=1",
                                   "model.seq_len=16",       "moe.experts=2",   "moe.top_k=1",
                                   "sparse.plugin=dsa",      "sparse.top_k=4",  "sparse.index_dim=8",
                                   "sparse.index_rope_dim=4"};
  sets.insert(sets.end(), rope_sets.begin(), rope_sets.end());
  Config c = test::make_config(sets);
  c.dims.vocab_size = 50;
  return LanguageModel(c);
}

std::shared_ptr<Sparse> sparse_of(LanguageModel& model) {
  for (const auto& m : model->named_modules())
    if (m.key() == "blocks.0.sparse") return std::dynamic_pointer_cast<Sparse>(m.value());
  return nullptr;
}

}  // namespace

TEST(Dsa, IndexerRotatesWithTheModelsRopeSlot) {
  torch::manual_seed(8);
  LanguageModel model = dsa_model({"rope.plugin=rope_linear", "rope.factor=4"});
  auto in_model = sparse_of(model);
  ASSERT_TRUE(in_model);
  EXPECT_EQ(in_model->rope_dim(), 4);
  Inputs in = random_inputs(1, 4, 16, 8, 8, 32);
  // The same indexer weights, stand-alone, rotated by a RoPE plugin of our choosing.
  auto scores_with = [&](const std::string& rope_name, const std::map<std::string, Value>& keys) {
    const auto& p = test::registry().require(Slot::Sparse, "dsa");
    ModelDims dims;
    dims.d_model = 32;
    auto alone = p.make_sparse(default_options(p, {{"top_k", Value::of(int64_t{4})},
                                                   {"index_dim", Value::of(int64_t{8})},
                                                   {"index_rope_dim", Value::of(int64_t{4})}}),
                               dims);
    {
      torch::NoGradGuard no_grad;
      auto source = in_model->named_parameters();
      for (auto& q : alone->named_parameters()) q.value().copy_(source[q.key()]);
    }
    const auto& rope = test::registry().require(Slot::Rope, rope_name);
    alone->use_rope(rope.make_rope(default_options(rope, keys), RopeDims{4, 16}));
    return alone->inspect(in.x, in.q, in.k, args_with_scale(1.0)).at("scores");
  };
  auto model_scores = in_model->inspect(in.x, in.q, in.k, args_with_scale(1.0)).at("scores");
  auto linear = scores_with("rope_linear", {{"factor", Value::of(4.0)}});
  auto plain = scores_with("rope", {});
  auto finite = model_scores.isfinite();
  EXPECT_TRUE(torch::equal(model_scores.masked_select(finite), linear.masked_select(finite)));
  EXPECT_GT((model_scores.masked_select(finite) - plain.masked_select(finite)).abs().max().item<double>(),
            1e-4);
}

TEST(Dsa, AttentionDropoutAppliesOnTheSparsePath) {
  torch::manual_seed(9);
  auto dsa = make_dsa({{"top_k", Value::of(int64_t{5})}});
  auto dense = test::registry().require(Slot::Kernel, "math").make_kernel(Options());
  Inputs in = random_inputs(2, 2, 20, 8, 6);
  KernelArgs args = args_with_scale(0.3);
  ForwardState eval_state;
  auto plain = dsa->attend(in.x, in.q, in.k, in.v, args, *dense, eval_state);
  args.dropout = 0.5;
  args.training = true;
  ForwardState a, b;
  a.training = b.training = true;
  auto first = dsa->attend(in.x, in.q, in.k, in.v, args, *dense, a);
  auto second = dsa->attend(in.x, in.q, in.k, in.v, args, *dense, b);
  EXPECT_GT((first - second).abs().max().item<double>(), 1e-3);  // before: dropout was ignored
  EXPECT_GT((first - plain).abs().max().item<double>(), 1e-3);
  args.training = false;  // evaluation never drops
  ForwardState c;
  EXPECT_LT((dsa->attend(in.x, in.q, in.k, in.v, args, *dense, c) - plain).abs().max().item<double>(), 1e-6);
}

TEST(Dsa, SelectsKeysFromBf16HeadsOnCpu) {
  torch::manual_seed(10);
  auto dsa = make_dsa({{"top_k", Value::of(int64_t{6})}});
  dsa->to(torch::kBFloat16);
  auto dense = test::registry().require(Slot::Kernel, "math").make_kernel(Options());
  Inputs in = random_inputs(2, 2, 24, 8, 8);
  for (auto* t : {&in.x, &in.q, &in.k, &in.v}) *t = t->to(torch::kBFloat16);
  ForwardState state;
  state.training = true;
  auto out = dsa->attend(in.x, in.q, in.k, in.v, args_with_scale(0.3), *dense, state);
  EXPECT_EQ(out.scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(out.isfinite().all().item<bool>());
  ASSERT_EQ(state.aux_losses.count("dsa/layer0/indexer_kl"), 1u);
  EXPECT_TRUE(std::isfinite(state.aux_losses["dsa/layer0/indexer_kl"].item<double>()));
  auto selected = dsa->inspect(in.x, in.q, in.k, args_with_scale(0.3)).at("selected");
  auto query = torch::arange(24).view({1, 24, 1});
  EXPECT_FALSE(selected.gt(query).any().item<bool>());  // still causal
}

TEST(Dsa, IndexerGradientsAreClippedApartFromTheLanguageModels) {
  LanguageModel model = dsa_model({});
  std::vector<NamedParameter> named;
  size_t sparse_count = 0;
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->named_parameters()) {
      const bool sparse = parameter_group(p.key()) == "sparse";
      sparse_count += sparse;
      p.value().mutable_grad() = torch::full_like(p.value(), sparse ? 1e-4 : 10.0);
      named.emplace_back(p.key(), p.value());
    }
  }
  auto groups = clip_groups(model);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[1].size(), sparse_count);
  auto norm = [](const std::vector<torch::Tensor>& group) {
    double sum = 0;
    for (const auto& p : group) sum += p.grad().square().sum().item<double>();
    return std::sqrt(sum);
  };
  const double sparse_before = norm(groups[1]);
  ASSERT_LT(sparse_before, 1.0);
  OptimizerSettings settings;
  settings.lr = 0.0;
  auto optimizer = make_optimizer(settings, named);
  apply_update(model, *optimizer, 1.0);
  EXPECT_NEAR(norm(groups[0]), 1.0, 1e-4);
  // Clipped together, the language model's huge gradient would have shrunk the indexer's ~1000-fold.
  EXPECT_NEAR(norm(groups[1]), sparse_before, 1e-9);
}
