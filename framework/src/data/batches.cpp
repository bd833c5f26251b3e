#include "data/batches.hpp"

#include "util/hash.hpp"

#include <lab/error.hpp>

#include <torch/torch.h>

#include <random>

namespace lab {

namespace {
Batch from_windows(const std::vector<int32_t>& stream, const std::vector<int64_t>& starts, int64_t seq_len) {
  const int64_t b = static_cast<int64_t>(starts.size());
  auto inputs = torch::empty({b, seq_len}, torch::kInt64);
  auto targets = torch::empty({b, seq_len}, torch::kInt64);
  auto in = inputs.accessor<int64_t, 2>();
  auto out = targets.accessor<int64_t, 2>();
  for (int64_t row = 0; row < b; ++row)
    for (int64_t t = 0; t < seq_len; ++t) {
      in[row][t] = stream[static_cast<size_t>(starts[row] + t)];
      out[row][t] = stream[static_cast<size_t>(starts[row] + t + 1)];
    }
  return Batch{inputs, targets};
}
}  // namespace

Batch training_batch(const std::vector<int32_t>& stream, int64_t seq_len, int64_t batch_size, int64_t seed,
                     int64_t step, int64_t micro) {
  const int64_t last_start = static_cast<int64_t>(stream.size()) - seq_len - 1;
  if (last_start < 0)
    throw InputError("training split has " + std::to_string(stream.size()) +
                     " tokens, fewer than model.seq_len + 1 = " + std::to_string(seq_len + 1));
  std::mt19937_64 rng(mix_seed(mix_seed(mix_seed(static_cast<uint64_t>(seed)) ^ static_cast<uint64_t>(step)) ^
                               static_cast<uint64_t>(micro)));
  std::uniform_int_distribution<int64_t> pick(0, last_start);
  std::vector<int64_t> starts(static_cast<size_t>(batch_size));
  for (auto& s : starts) s = pick(rng);
  return from_windows(stream, starts, seq_len);
}

int64_t validation_windows(const std::vector<int32_t>& stream, int64_t seq_len) {
  return stream.size() < 2 ? 0 : (static_cast<int64_t>(stream.size()) - 1) / seq_len;
}

Batch validation_batch(const std::vector<int32_t>& stream, int64_t seq_len,
                       const std::vector<int64_t>& windows) {
  std::vector<int64_t> starts;
  for (int64_t w : windows) starts.push_back(w * seq_len);
  return from_windows(stream, starts, seq_len);
}

}  // namespace lab
