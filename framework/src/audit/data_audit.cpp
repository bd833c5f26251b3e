#include "audit/data_audit.hpp"

#include "util/format.hpp"

#include "audit/ngrams.hpp"
#include "recipe/config.hpp"
#include "util/hash.hpp"

#include <cstdio>
#include <unordered_set>

namespace lab {

namespace {

std::string percent(double share) { return fmt("%.1f%%", 100.0 * share); }

uint64_t document_hash(const std::vector<int32_t>& stream, const TokenSpan& span) {
  uint64_t h = mix_seed(span.second - span.first);
  for (size_t i = span.first; i < span.second; ++i) h = mix_seed(h ^ static_cast<uint32_t>(stream[i]));
  return h;
}

// Counts validation documents equal to a training document, and training documents that repeat one.
void count_duplicates(const Corpus& c, const std::vector<TokenSpan>& train, const std::vector<TokenSpan>& val,
                      DataAudit& audit) {
  std::unordered_set<uint64_t> seen;
  for (const auto& span : train) {
    if (span.first == span.second) continue;  // an empty document duplicates nothing
    if (!seen.insert(document_hash(c.train_tokens, span)).second) ++audit.repeated_train_documents;
  }
  for (const auto& span : val)
    if (span.first != span.second && seen.count(document_hash(c.val_tokens, span)))
      ++audit.duplicate_val_documents;
}

NgramOverlap measure_overlap(const Corpus& c, const std::vector<TokenSpan>& half_a,
                             const std::vector<TokenSpan>& half_b, const std::vector<TokenSpan>& val, int n) {
  const NgramSet a(c.train_tokens, half_a, n), b(c.train_tokens, half_b, n);
  NgramOverlap o;
  o.n = n;
  const NgramShare in_train = share_found(c.val_tokens, val, n, {&a, &b});
  o.val_ngrams = in_train.ngrams;
  o.val_in_train = in_train.share();
  o.val_in_half = share_found(c.val_tokens, val, n, {&a}).share();
  o.half_in_half = half_b.empty() ? 0.0 : share_found(c.train_tokens, half_b, n, {&a}).share();
  return o;
}

void add_warnings(DataAudit& audit) {
  if (audit.duplicate_val_documents > 0)
    audit.warnings.push_back(std::to_string(audit.duplicate_val_documents) + " of " +
                             std::to_string(audit.val_documents) +
                             " validation documents are exact copies of training documents");
  for (const auto& o : audit.overlaps)
    if (o.flagged())
      audit.warnings.push_back(std::to_string(o.n) + "-gram overlap of validation with training is " +
                               percent(o.val_in_train) + " (" + percent(o.val_in_half) +
                               " against half the training documents), far above the corpus's own " +
                               percent(o.half_in_half) + " between its two halves: validation text is " +
                               "training text");
  if (audit.epochs > kMaxEpochs)
    audit.warnings.push_back("the recipe makes " + fmt("%.1f", audit.epochs) +
                             " passes over the training tokens (more than " + fmt("%.0f", kMaxEpochs) +
                             "): the validation loss measures memorisation as much as language modelling");
}

}  // namespace

DataAudit audit_data(const Corpus& corpus, const Config& config) {
  const int32_t eos = corpus.tokenizer.eos_id();
  const auto train = document_spans(corpus.train_tokens, eos);
  const auto val = document_spans(corpus.val_tokens, eos);
  DataAudit audit;
  audit.train_documents = static_cast<int64_t>(corpus.train_ids.size());
  audit.val_documents = static_cast<int64_t>(corpus.val_ids.size());
  audit.train_tokens = static_cast<int64_t>(corpus.train_tokens.size());
  audit.val_tokens = static_cast<int64_t>(corpus.val_tokens.size());
  count_duplicates(corpus, train, val, audit);
  std::vector<TokenSpan> half_a, half_b;
  for (size_t d = 0; d < train.size(); ++d) (d % 2 == 0 ? half_a : half_b).push_back(train[d]);
  for (int n : {8, 13}) audit.overlaps.push_back(measure_overlap(corpus, half_a, half_b, val, n));
  audit.steps = config.train.steps;
  audit.batch_size = config.train.batch_size;
  audit.accum_steps = config.train.accum_steps;
  audit.seq_len = config.dims.seq_len;
  const double planned = static_cast<double>(audit.steps * audit.batch_size * audit.accum_steps) *
                         static_cast<double>(audit.seq_len);
  audit.epochs = audit.train_tokens > 0 ? planned / static_cast<double>(audit.train_tokens) : 0.0;
  add_warnings(audit);
  return audit;
}

nlohmann::json data_audit_json(const DataAudit& a) {
  nlohmann::json overlaps = nlohmann::json::object();
  for (const auto& o : a.overlaps)
    overlaps[std::to_string(o.n)] = {{"val_ngrams", o.val_ngrams},
                                     {"val_in_train", o.val_in_train},
                                     {"val_in_half_of_train", o.val_in_half},
                                     {"train_half_in_other_half", o.half_in_half},
                                     {"flagged", o.flagged()}};
  return {{"status", a.passed() ? "ok" : "warn"},
          {"train_documents", a.train_documents},
          {"val_documents", a.val_documents},
          {"train_tokens", a.train_tokens},
          {"val_tokens", a.val_tokens},
          {"duplicate_val_documents", a.duplicate_val_documents},
          {"repeated_train_documents", a.repeated_train_documents},
          {"ngram_overlap", overlaps},
          {"epochs", a.epochs},
          {"planned_tokens", a.steps * a.batch_size * a.accum_steps * a.seq_len},
          {"max_epochs", kMaxEpochs},
          {"overlap_excess_threshold", kOverlapExcess},
          {"warnings", a.warnings}};
}

std::string data_audit_text(const DataAudit& a) {
  std::string text = "documents: " + std::to_string(a.train_documents) + " train / " +
                     std::to_string(a.val_documents) + " validation\n";
  text += "tokens: " + std::to_string(a.train_tokens) + " train / " + std::to_string(a.val_tokens) +
          " validation\n";
  text += "exact duplicates: " + std::to_string(a.duplicate_val_documents) +
          " validation documents also in training (" + std::to_string(a.repeated_train_documents) +
          " repeats within training)\n";
  for (const auto& o : a.overlaps)
    text += std::to_string(o.n) + "-gram overlap: " + percent(o.val_in_train) + " of " +
            std::to_string(o.val_ngrams) + " validation " + std::to_string(o.n) +
            "-grams occur in training (against half of training " + percent(o.val_in_half) +
            "; one training half against the other " + percent(o.half_in_half) + ")\n";
  text += "epochs: " + std::to_string(a.steps) + " steps x " + std::to_string(a.batch_size) + " batch x " +
          std::to_string(a.accum_steps) + " accum x " + std::to_string(a.seq_len) +
          " tokens = " + fmt("%.2f", a.epochs) + " passes over the training tokens\n";
  for (const auto& w : a.warnings) text += "WARN " + w + "\n";
  if (a.passed()) text += "data: PASS\n";
  return text;
}

}  // namespace lab
