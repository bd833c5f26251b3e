// Documents -> train/validation split by document -> tokenizer -> token streams.
#pragma once

#include "data/tokenizer.hpp"

#include <lab/dataset.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace lab {

struct DataConfig;

struct DocumentSplit {
  std::vector<Document> train;
  std::vector<Document> validation;
};

// Deterministic in (split_seed, document ids): the same documents are held out for every run seed.
// At least one document lands on each side; throws lab::InputError with fewer than two documents.
DocumentSplit split_documents(std::vector<Document> documents, double val_fraction, int64_t split_seed,
                              int64_t max_documents);

// A held-out token stream and where each of its documents starts.
struct HeldOut {
  const std::vector<int32_t>& tokens;
  const std::vector<int64_t>& document_starts;  // ascending offsets into tokens; may be empty
};

struct Corpus {
  Tokenizer tokenizer;
  bool tokenizer_cache_hit = false;
  std::vector<int32_t> train_tokens;  // each training document's tokens, then EOS, concatenated
  std::vector<int32_t> val_tokens;    // the same for validation documents
  std::vector<std::string> train_ids, val_ids;
  std::vector<int64_t> val_document_starts;  // offset in val_tokens of each validation document
  double val_unigram_entropy = 0;            // nats per token, of the validation tokens' own distribution
  HeldOut held_out() const { return HeldOut{val_tokens, val_document_starts}; }
};

// Loads, splits, trains (or reuses) the tokenizer on the training documents only, and tokenizes.
Corpus prepare_corpus(Dataset& dataset, const DataConfig& config, const std::string& cache_dir);

// Entropy in nats of the empirical unigram distribution of `tokens`.
double unigram_entropy(const std::vector<int32_t>& tokens);

// Where trained tokenizers are cached: the recipe's value, else $LAB_CACHE_DIR, $XDG_CACHE_HOME/lab,
// ~/.cache/lab.
std::string default_cache_dir(const std::string& configured);

}  // namespace lab
