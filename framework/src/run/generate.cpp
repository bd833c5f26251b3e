#include "run/generate.hpp"

#include <lab/error.hpp>

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <limits>

namespace lab {

std::vector<int32_t> sample_tokens(LanguageModel& model, const std::vector<int32_t>& prompt, int64_t context,
                                   const SampleOptions& options) {
  if (prompt.empty()) throw InputError("generate: the prompt encodes to no tokens");
  if (options.temperature < 0) throw InputError("generate: temperature must not be negative");
  if (options.top_k < 0) throw InputError("generate: top-k must not be negative");
  if (options.max_tokens < 0) throw InputError("generate: max tokens must not be negative");
  torch::NoGradGuard no_grad;
  model->eval();
  const auto device = model->parameters().front().device();
  auto generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  std::vector<int64_t> ids(prompt.begin(), prompt.end());
  std::vector<int32_t> out;
  for (int64_t n = 0; n < options.max_tokens; ++n) {
    const size_t start = ids.size() > static_cast<size_t>(context) ? ids.size() - context : 0;
    auto window = torch::tensor(std::vector<int64_t>(ids.begin() + start, ids.end()), torch::kInt64)
                      .unsqueeze(0)
                      .to(device);
    ForwardState state;
    auto logits = model->forward(window, state).index({0, -1}).to(torch::kCPU, torch::kFloat64);
    int64_t next = 0;
    if (options.temperature == 0) {
      next = logits.argmax().item<int64_t>();
    } else {
      logits = logits / options.temperature;
      if (options.top_k > 0 && options.top_k < logits.size(0)) {
        auto kth = std::get<0>(logits.topk(options.top_k)).index({-1});
        logits = logits.masked_fill(logits < kth, -std::numeric_limits<double>::infinity());
      }
      auto probs = torch::softmax(logits, 0);
      next = torch::multinomial(probs, 1, false, generator).item<int64_t>();
    }
    ids.push_back(next);
    out.push_back(static_cast<int32_t>(next));
    if (next == options.stop_token) break;
  }
  return out;
}

}  // namespace lab
