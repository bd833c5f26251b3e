#include "audit/model_probe.hpp"

#include "util/hash.hpp"

#include <torch/torch.h>

namespace lab {

namespace {

struct ModelPass {
  NamedOutputs outputs;  // logits and every block's attention and MoE outputs, [B, T, ...]
  std::map<std::string, torch::Tensor> aux_losses;
  torch::Tensor embedding_grad;
  std::vector<torch::Tensor> param_grads;
};

ModelPass run_model(LanguageModel& model, const torch::Tensor& tokens, const torch::Tensor& targets,
                    int64_t row, int64_t j, uint64_t seed) {
  ModelCapture capture;
  model->set_capture(&capture);
  ForwardState state;
  seed_probe(seed, 1);
  auto logits = model->forward(tokens, state);
  model->set_capture(nullptr);
  ModelPass pass;
  pass.outputs.emplace_back("logits", logits);
  for (size_t l = 0; l < capture.attention.size(); ++l) {
    pass.outputs.emplace_back("block " + std::to_string(l) + " attention output", capture.attention[l]);
    pass.outputs.emplace_back("block " + std::to_string(l) + " MoE output", capture.moe[l]);
  }
  for (const auto& [name, loss] : state.aux_losses) pass.aux_losses[name] = loss.detach();
  // The language-model loss of the positions before j only.
  auto loss = torch::nn::functional::cross_entropy(before_position(logits, row, j).to(torch::kFloat32),
                                                   before_position(targets, row, j));
  std::vector<torch::Tensor> wrt = {capture.embedding};
  for (const auto& p : model->parameters())
    if (p.requires_grad()) wrt.push_back(p);
  auto grads = torch::autograd::grad({loss}, wrt, {}, c10::nullopt, false, /*allow_unused=*/true);
  pass.embedding_grad = grads[0];
  pass.param_grads.assign(grads.begin() + 1, grads.end());
  return pass;
}

void compare_runs(const ModelPass& a, const ModelPass& b, int64_t row, int64_t j, const std::string& where,
                  ChangeLog& log) {
  for (size_t o = 0; o < a.outputs.size(); ++o) {
    const auto& [name, out] = a.outputs[o];
    const auto& other = b.outputs[o].second;
    log.compare(name, where, before_position(out, row, j), before_position(other, row, j));
    if (o == 0) log.note("other batch rows: logits", where, other_rows(out, row), other_rows(other, row));
  }
  for (const auto& [name, value] : a.aux_losses)
    log.note("auxiliary loss " + name + " (whole batch)", where, value, b.aux_losses.at(name));
  const auto scale = before_position(a.embedding_grad, row, j);
  log.compare("gradient of the input embeddings before j", where, scale,
              before_position(b.embedding_grad, row, j));
  log.expect_zero("gradient of the input embeddings at j and later", where,
                  from_position(a.embedding_grad, row, j), scale);
  log.expect_zero("gradient of the input embeddings at j and later", where,
                  from_position(b.embedding_grad, row, j), scale);
  // Against the largest gradient of any parameter: one whose gradient vanishes in exact arithmetic
  // (keys under a one-key softmax) carries rounding of the size of the others.
  const auto scale_of_all = largest_magnitude(a.param_grads);
  for (size_t n = 0; n < a.param_grads.size(); ++n)
    if (a.param_grads[n].defined() && b.param_grads[n].defined())
      log.compare("parameter gradients", where, a.param_grads[n], b.param_grads[n], scale_of_all);
}

}  // namespace

ChangeLog probe_model(const ModelFactory& make, int64_t vocab, int64_t seq_len, const std::string& mode,
                      const ProbePlan& plan) {
  ChangeLog log;
  for (size_t init = 0; init < plan.init_stds.size(); ++init) {
    LanguageModel model = make(init);
    model->set_sparse_mode(mode);
    for (bool training : {true, false}) {
      model->train(training);
      for (size_t p = 0; p < plan.positions.size(); ++p) {
        const int64_t j = plan.positions[p], row = static_cast<int64_t>(p) % plan.batch;
        const uint64_t seed = mix_seed(init * 1000 + p * 10 + (training ? 1 : 0) + 7);
        seed_probe(seed, 3);
        auto tokens = torch::randint(vocab, {plan.batch, seq_len}, torch::kLong);
        auto targets = torch::randint(vocab, {plan.batch, seq_len}, torch::kLong);
        auto changed = tokens.clone();
        // Any other token: the shift is in [1, vocab).
        changed[row][j] = (tokens[row][j].item<int64_t>() + 1 +
                           static_cast<int64_t>(seed % static_cast<uint64_t>(vocab - 1))) %
                          vocab;
        const ModelPass a = run_model(model, tokens, targets, row, j, seed);
        const ModelPass b = run_model(model, changed, targets, row, j, seed);
        compare_runs(a, b, row, j, plan.where(row, j, training, init), log);
        log.count_probe();
      }
    }
  }
  return log;
}

}  // namespace lab
