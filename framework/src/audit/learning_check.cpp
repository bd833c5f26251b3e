#include "audit/learning_check.hpp"

#include "audit/component_probe.hpp"
#include "model/model.hpp"
#include "recipe/config.hpp"
#include "train/optimizer.hpp"
#include "train/training_loss.hpp"
#include "train/update_step.hpp"

#include <torch/torch.h>

#include <cmath>

namespace lab {

namespace {

// Uniform tokens [rows, T + 1]: inputs are the first T, targets the last T.
torch::Tensor uniform_tokens(int64_t vocab, int64_t rows, int64_t seq_len) {
  return torch::randint(vocab, {rows, seq_len + 1}, torch::kLong);
}

void evaluate_uniform(LanguageModel& model, const torch::Tensor& tokens, LearningResult& r) {
  torch::NoGradGuard no_grad;
  model->eval();
  const int64_t t = tokens.size(1) - 1;
  std::vector<torch::Tensor> losses, hits;
  for (int64_t first = 0; first < tokens.size(0); first += 32) {
    auto batch = tokens.narrow(0, first, std::min<int64_t>(32, tokens.size(0) - first));
    ForwardState state;
    auto logits = model->forward(batch.narrow(1, 0, t), state).to(torch::kFloat32).reshape({-1, r.vocab});
    auto targets = batch.narrow(1, 1, t).reshape({-1});
    losses.push_back(torch::nn::functional::cross_entropy(
        logits, targets, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone)));
    hits.push_back(logits.argmax(-1).eq(targets).to(torch::kFloat64));
  }
  auto loss = torch::cat(losses).to(torch::kFloat64);
  r.val_tokens = loss.numel();
  r.val_loss = loss.mean().item<double>();
  r.val_loss_se = loss.std().item<double>() / std::sqrt(static_cast<double>(loss.numel()));
  r.accuracy = torch::cat(hits).mean().item<double>();
  model->train();
}

}  // namespace

LearningResult learning_check(const Config& config_in, const std::string& mode, const LearningOptions& o) {
  OneThread one_thread;
  Config config = config_in;
  config.dims.vocab_size = o.vocab;
  const int64_t t = config.dims.seq_len;
  LearningResult r;
  r.mode = mode;
  r.vocab = o.vocab;
  r.uniform = std::log(static_cast<double>(o.vocab));
  seed_probe(17);
  LanguageModel model(config);
  model->initialize(config.init_std);
  model->set_sparse_mode(mode);
  std::vector<NamedParameter> named;
  for (auto& p : model->named_parameters()) named.emplace_back(p.key(), p.value());
  OptimizerSettings settings;
  settings.lr = o.lr;
  settings.weight_decay = 0.0;
  auto optimizer = make_optimizer(settings, named);
  const int64_t val_rows = o.val_windows > 0 ? o.val_windows : (16384 + t - 1) / t;
  const torch::Tensor validation = uniform_tokens(o.vocab, val_rows, t);
  model->train();
  for (int64_t step = 1; step <= o.steps; ++step) {
    for (auto& p : model->parameters()) p.mutable_grad() = torch::Tensor();
    auto tokens = uniform_tokens(o.vocab, o.batch, t);
    ForwardState state;
    auto loss = training_loss(model, tokens.narrow(1, 0, t), tokens.narrow(1, 1, t), state).value;
    for (const auto& [name, aux] : state.aux_losses) loss = loss + aux;
    loss.backward();
    apply_update(model, *optimizer, 1.0);
    r.steps = step;
    if (step % o.eval_every == 0 || step == o.steps) {
      evaluate_uniform(model, validation, r);
      if (!r.passed()) break;  // a leak that shows already will not heal
    }
  }
  return r;
}

nlohmann::json learning_json(const LearningResult& r) {
  return {{"passed", r.passed()},
          {"mode", r.mode},
          {"vocab", r.vocab},
          {"steps", r.steps},
          {"ln_vocab", r.uniform},
          {"val_loss", r.val_loss},
          {"val_loss_se", r.val_loss_se},
          {"val_accuracy", r.accuracy},
          {"val_tokens", r.val_tokens},
          {"margin", kLearningMargin}};
}

}  // namespace lab
