#include "eval/length_eval.hpp"

#include "data/batches.hpp"
#include "run/files.hpp"

#include <lab/error.hpp>

#include <nlohmann/json.hpp>

namespace lab {

std::vector<LengthEval> evaluate_at_lengths(LoadedRun& run, const std::vector<int64_t>& lengths,
                                            int64_t batch_size, int64_t max_batches) {
  const Config& c = run.config;
  if (batch_size <= 0) batch_size = c.eval.batch_size;
  if (max_batches <= 0) max_batches = c.eval.max_batches;
  Corpus corpus = load_run_corpus(run);
  for (int64_t n : lengths) {
    if (n < 2) throw InputError("--seq-len " + std::to_string(n) + ": must be at least 2");
    if (validation_windows(corpus.val_tokens, n) == 0)
      throw InputError("--seq-len " + std::to_string(n) + ": the validation split has only " +
                       std::to_string(corpus.val_tokens.size()) + " tokens, too few for one window");
  }
  const auto out_dir = run.dir / "eval";
  std::filesystem::create_directories(out_dir);
  std::vector<LengthEval> results;
  for (int64_t n : lengths) {
    LengthEval e{n, evaluate(run.model, corpus.held_out(), n, batch_size, max_batches, torch::kCPU)};
    nlohmann::json j = {{"seq_len", n},
                        {"train_seq_len", c.dims.seq_len},
                        {"rope", c.rope.plugin},
                        {"attention", c.attention.plugin},
                        {"val_loss", e.result.loss},
                        {"val_accuracy", e.result.accuracy},
                        {"val_perplexity", e.result.perplexity},
                        {"val_tokens_evaluated", e.result.tokens},
                        {"val_documents_evaluated", e.result.documents},
                        {"batch_size", batch_size},
                        {"max_batches", max_batches}};
    write_file_atomic(out_dir / ("seq_len-" + std::to_string(n) + ".json"), j.dump(2) + "\n");
    results.push_back(e);
  }
  return results;
}

}  // namespace lab
