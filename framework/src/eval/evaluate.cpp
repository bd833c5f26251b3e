#include "eval/evaluate.hpp"

#include "data/batches.hpp"

#include <lab/error.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <set>

namespace lab {

namespace {

// `count` of the ascending `items`, evenly spaced, the first and last included when count allows.
std::vector<int64_t> spread(const std::vector<int64_t>& items, int64_t count) {
  const int64_t n = static_cast<int64_t>(items.size());
  if (count >= n) return items;
  std::vector<int64_t> out;
  for (int64_t i = 0; i < count; ++i)
    out.push_back(items[static_cast<size_t>((2 * i + 1) * n / (2 * count))]);
  return out;
}

// Held-out documents whose tokens [start, next start) include a target of the scored windows; window
// w predicts stream positions w·T+1 .. w·T+T.
int64_t documents_touched(const std::vector<int64_t>& windows, int64_t seq_len,
                          const std::vector<int64_t>& starts) {
  std::set<size_t> touched;
  for (int64_t w : windows) {
    const int64_t first = w * seq_len + 1, last = w * seq_len + seq_len;
    auto from = std::upper_bound(starts.begin(), starts.end(), first);
    auto to = std::upper_bound(starts.begin(), starts.end(), last);
    if (from != starts.begin()) --from;
    for (auto it = from; it != to; ++it) touched.insert(static_cast<size_t>(it - starts.begin()));
  }
  return static_cast<int64_t>(touched.size());
}

}  // namespace

std::vector<int64_t> evaluation_windows(int64_t windows, int64_t seq_len,
                                        const std::vector<int64_t>& document_starts, int64_t wanted) {
  std::vector<int64_t> all(static_cast<size_t>(windows));
  for (int64_t w = 0; w < windows; ++w) all[static_cast<size_t>(w)] = w;
  if (wanted <= 0 || wanted >= windows) return all;
  // The window holding each document's middle target (distinct documents can share one).
  std::vector<int64_t> middles;
  for (size_t d = 0; d < document_starts.size(); ++d) {
    const int64_t end = d + 1 < document_starts.size() ? document_starts[d + 1]
                                                       : windows * seq_len + 1;  // past the last window
    const int64_t middle = (document_starts[d] + end) / 2;
    const int64_t w = std::clamp<int64_t>((middle - 1) / seq_len, 0, windows - 1);
    if (middles.empty() || middles.back() != w) middles.push_back(w);
  }
  std::vector<int64_t> chosen = spread(middles, wanted);
  if (static_cast<int64_t>(chosen.size()) < wanted) {
    std::vector<int64_t> rest;
    std::set_difference(all.begin(), all.end(), chosen.begin(), chosen.end(), std::back_inserter(rest));
    std::vector<int64_t> extra = spread(rest, wanted - static_cast<int64_t>(chosen.size()));
    chosen.insert(chosen.end(), extra.begin(), extra.end());
    std::sort(chosen.begin(), chosen.end());
  }
  return chosen;
}

EvalResult evaluate(LanguageModel& model, const HeldOut& held_out, int64_t seq_len, int64_t batch_size,
                    int64_t max_batches, torch::Device device, const EvalShard& shard) {
  const auto& stream = held_out.tokens;
  const int64_t windows = validation_windows(stream, seq_len);
  if (windows == 0)
    throw InputError("validation split has " + std::to_string(stream.size()) +
                     " tokens, fewer than model.seq_len + 1; raise data.val_fraction or lower model.seq_len");
  const std::vector<int64_t> chosen = evaluation_windows(windows, seq_len, held_out.document_starts,
                                                         max_batches > 0 ? max_batches * batch_size : 0);
  const bool was_training = model->is_training();
  model->eval();
  torch::NoGradGuard no_grad;
  double loss_sum = 0;
  int64_t correct = 0, tokens = 0, batches = 0;
  std::map<std::string, double> stat_sum;
  const auto step = static_cast<size_t>(batch_size);
  const auto total_batches = static_cast<int64_t>((chosen.size() + step - 1) / step);
  const bool sharded = shard.count > 1 && total_batches >= shard.count;
  for (size_t first = 0; first < chosen.size(); first += step) {
    if (sharded && static_cast<int64_t>(first / step) % shard.count != shard.index) continue;
    const size_t last = std::min(chosen.size(), first + static_cast<size_t>(batch_size));
    Batch batch = validation_batch(stream, seq_len, {chosen.begin() + first, chosen.begin() + last});
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
  if (sharded) {
    // Every shard scored at least one batch, so all hold the same statistics.
    std::vector<double> sums = {loss_sum, static_cast<double>(correct), static_cast<double>(tokens),
                                static_cast<double>(batches)};
    for (const auto& [name, value] : stat_sum) sums.push_back(value);
    shard.sum(sums);
    loss_sum = sums[0];
    correct = static_cast<int64_t>(sums[1]);
    tokens = static_cast<int64_t>(sums[2]);
    batches = static_cast<int64_t>(sums[3]);
    size_t n = 4;
    for (auto& [name, value] : stat_sum) value = sums[n++];
  }
  EvalResult result;
  result.tokens = tokens;
  result.documents = documents_touched(chosen, seq_len, held_out.document_starts);
  result.loss = loss_sum / static_cast<double>(tokens);
  result.accuracy = static_cast<double>(correct) / static_cast<double>(tokens);
  result.perplexity = std::exp(result.loss);
  for (const auto& [name, value] : stat_sum) result.stats[name] = value / static_cast<double>(batches);
  return result;
}

}  // namespace lab
