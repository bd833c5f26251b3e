#include "data/corpus.hpp"

#include "recipe/config.hpp"
#include "util/hash.hpp"

#include <lab/error.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <unordered_map>

namespace lab {

DocumentSplit split_documents(std::vector<Document> documents, double val_fraction, int64_t split_seed,
                              int64_t max_documents) {
  if (max_documents > 0 && static_cast<int64_t>(documents.size()) > max_documents)
    documents.resize(static_cast<size_t>(max_documents));
  if (documents.size() < 2)
    throw InputError("dataset has " + std::to_string(documents.size()) +
                     " document(s); a held-out validation split needs at least 2");
  // Order by a seeded hash of the id: stable under reordering of the source, independent of run seeds.
  // FNV-1a alone barely moves its high bits on the last bytes of a string, so ids that differ only at
  // the end ("cg01", "cg02", ...) would sort almost in id order; the splitmix64 finaliser mixes every
  // input bit into every output bit first.
  std::vector<std::pair<uint64_t, size_t>> keyed;
  for (size_t n = 0; n < documents.size(); ++n)
    keyed.emplace_back(mix_seed(fnv1a64(std::to_string(split_seed) + "\x1f" + documents[n].id)), n);
  std::sort(keyed.begin(), keyed.end());
  size_t n_val = static_cast<size_t>(std::llround(val_fraction * static_cast<double>(documents.size())));
  n_val = std::clamp<size_t>(n_val, 1, documents.size() - 1);
  std::vector<bool> is_val(documents.size(), false);
  for (size_t n = 0; n < n_val; ++n) is_val[keyed[n].second] = true;
  DocumentSplit split;
  for (size_t n = 0; n < documents.size(); ++n)
    (is_val[n] ? split.validation : split.train).push_back(std::move(documents[n]));
  return split;
}

double unigram_entropy(const std::vector<int32_t>& tokens) {
  if (tokens.empty()) return 0;
  std::unordered_map<int32_t, int64_t> counts;
  for (int32_t t : tokens) ++counts[t];
  double total = static_cast<double>(tokens.size()), h = 0;
  for (const auto& [token, count] : counts) {
    double p = static_cast<double>(count) / total;
    h -= p * std::log(p);
  }
  return h;
}

std::string default_cache_dir(const std::string& configured) {
  if (!configured.empty()) return configured;
  if (const char* dir = std::getenv("LAB_CACHE_DIR"); dir && *dir) return dir;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/lab";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/lab";
  return ".lab-cache";
}

namespace {
void append_documents(const Tokenizer& tokenizer, const std::vector<Document>& docs,
                      std::vector<int32_t>& out, std::vector<std::string>& ids,
                      std::vector<int64_t>* starts = nullptr) {
  for (const auto& doc : docs) {
    auto ids_of_doc = tokenizer.encode(doc.text);
    if (starts) starts->push_back(static_cast<int64_t>(out.size()));
    out.insert(out.end(), ids_of_doc.begin(), ids_of_doc.end());
    out.push_back(tokenizer.eos_id());
    ids.push_back(doc.id);
  }
}
}  // namespace

Corpus prepare_corpus(Dataset& dataset, const DataConfig& config, const std::string& cache_dir) {
  DocumentSplit split =
      split_documents(dataset.documents(), config.val_fraction, config.split_seed, config.max_documents);
  std::vector<std::string> texts;
  texts.reserve(split.train.size());
  for (const auto& doc : split.train) texts.push_back(doc.text);
  Corpus corpus;
  corpus.tokenizer =
      Tokenizer::train_or_load(texts, config.vocab_size, cache_dir, &corpus.tokenizer_cache_hit);
  append_documents(corpus.tokenizer, split.train, corpus.train_tokens, corpus.train_ids);
  append_documents(corpus.tokenizer, split.validation, corpus.val_tokens, corpus.val_ids,
                   &corpus.val_document_starts);
  corpus.val_unigram_entropy = unigram_entropy(corpus.val_tokens);
  return corpus;
}

}  // namespace lab
