// Documents of a token stream and the 64-bit hashes of their n-grams, for overlap measurements.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace lab {

// [begin, end) of one document inside a token stream.
using TokenSpan = std::pair<size_t, size_t>;

// The documents of `stream`, each followed by `eos` (as Corpus builds its streams); a trailing part
// without EOS counts as a document too.
std::vector<TokenSpan> document_spans(const std::vector<int32_t>& stream, int32_t eos);

// A set of n-gram hashes, kept as a sorted vector: a fraction of the memory of a node-based hash set,
// and membership of a whole sorted query is one linear merge, for the million-token streams of a corpus.
class NgramSet {
 public:
  NgramSet(const std::vector<int32_t>& stream, const std::vector<TokenSpan>& documents, int n);
  const std::vector<uint64_t>& sorted() const { return hashes_; }
  size_t size() const { return hashes_.size(); }

 private:
  std::vector<uint64_t> hashes_;
};

// Appends the hash of every n-gram that lies inside one of `documents` (none cross a document end).
void append_ngram_hashes(const std::vector<int32_t>& stream, const std::vector<TokenSpan>& documents, int n,
                         std::vector<uint64_t>& out);

struct NgramShare {
  int64_t ngrams = 0;  // n-gram occurrences in the queried documents
  int64_t found = 0;   // of them, those whose hash is in the reference set(s)
  double share() const { return ngrams > 0 ? static_cast<double>(found) / static_cast<double>(ngrams) : 0; }
};

// How many n-gram occurrences of `documents` occur in any of `references`.
NgramShare share_found(const std::vector<int32_t>& stream, const std::vector<TokenSpan>& documents, int n,
                       const std::vector<const NgramSet*>& references);

}  // namespace lab
