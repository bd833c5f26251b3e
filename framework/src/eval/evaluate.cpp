#include "eval/evaluate.hpp"

#include "data/batches.hpp"

#include <lab/error.hpp>

#include <torch/torch.h>

#include <cmath>

namespace lab {

EvalResult evaluate(LanguageModel& model, const std::vector<int32_t>& stream, int64_t seq_len,
                    int64_t batch_size, int64_t max_batches, torch::Device device) {
  const int64_t windows = validation_windows(stream, seq_len);
  if (windows == 0)
    throw InputError("validation split has " + std::to_string(stream.size()) +
                     " tokens, fewer than model.seq_len + 1; raise data.val_fraction or lower model.seq_len");
  const bool was_training = model->is_training();
  model->eval();
  torch::NoGradGuard no_grad;
  double loss_sum = 0;
  int64_t correct = 0, tokens = 0, batches = 0;
  std::map<std::string, double> stat_sum;
  for (int64_t first = 0; first < windows; first += batch_size) {
    if (max_batches > 0 && batches >= max_batches) break;
    Batch batch = validation_batch(stream, seq_len, first, std::min(batch_size, windows - first));
    auto targets = batch.targets.to(device);
    ForwardState state;
    auto logits = model->forward(batch.inputs.to(device), state).to(torch::kFloat32);
    auto flat = logits.reshape({-1, logits.size(-1)});
    loss_sum += torch::nn::functional::cross_entropy(
                    flat, targets.reshape({-1}),
                    torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    correct += flat.argmax(-1).eq(targets.reshape({-1})).sum().item<int64_t>();
    tokens += targets.numel();
    for (const auto& [name, value] : state.stats) stat_sum[name] += value;
    ++batches;
  }
  if (was_training) model->train();
  EvalResult result;
  result.tokens = tokens;
  result.loss = loss_sum / static_cast<double>(tokens);
  result.accuracy = static_cast<double>(correct) / static_cast<double>(tokens);
  result.perplexity = std::exp(result.loss);
  for (const auto& [name, value] : stat_sum) result.stats[name] = value / static_cast<double>(batches);
  return result;
}

}  // namespace lab
