// The data audit: split sizes, validation text that also occurs in training, exact duplicate
// documents across the split, and how many passes over the training tokens a recipe makes.
#pragma once

#include "data/corpus.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace lab {

struct Config;

// More passes than this over the training tokens and the validation loss says as much about
// memorisation as about language modelling.
constexpr double kMaxEpochs = 5.0;
// Validation n-gram overlap more than this (absolute share) above the corpus's own repetition
// (one half of the training documents against the other) means validation text is training text.
constexpr double kOverlapExcess = 0.05;

struct NgramOverlap {
  int n = 0;
  int64_t val_ngrams = 0;
  double val_in_train = 0;  // share of validation n-grams that occur in the training stream
  double val_in_half = 0;   // ... in training half A (even training documents)
  double half_in_half = 0;  // share of half B's n-grams that occur in half A: the corpus's own repetition
  bool flagged() const { return val_in_half - half_in_half > kOverlapExcess; }
};

struct DataAudit {
  int64_t train_documents = 0, val_documents = 0, train_tokens = 0, val_tokens = 0;
  int64_t duplicate_val_documents = 0;   // validation documents whose tokens equal a training document's
  int64_t repeated_train_documents = 0;  // training documents that repeat an earlier training document
  std::vector<NgramOverlap> overlaps;    // n = 8 and 13
  int64_t steps = 0, batch_size = 0, accum_steps = 0, seq_len = 0;
  double epochs = 0;  // steps x batch x accum x seq_len / training tokens
  std::vector<std::string> warnings;
  bool passed() const { return warnings.empty(); }
};

DataAudit audit_data(const Corpus& corpus, const Config& config);
nlohmann::json data_audit_json(const DataAudit& audit);
// A few lines for the terminal, the warnings last.
std::string data_audit_text(const DataAudit& audit);

}  // namespace lab
