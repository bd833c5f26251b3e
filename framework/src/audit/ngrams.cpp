#include "audit/ngrams.hpp"

#include "util/hash.hpp"

#include <algorithm>

namespace lab {

std::vector<TokenSpan> document_spans(const std::vector<int32_t>& stream, int32_t eos) {
  std::vector<TokenSpan> spans;
  size_t begin = 0;
  for (size_t i = 0; i < stream.size(); ++i)
    if (stream[i] == eos) {
      spans.emplace_back(begin, i);
      begin = i + 1;
    }
  if (begin < stream.size()) spans.emplace_back(begin, stream.size());
  return spans;
}

void append_ngram_hashes(const std::vector<int32_t>& stream, const std::vector<TokenSpan>& documents, int n,
                         std::vector<uint64_t>& out) {
  // Polynomial rolling hash (mod 2^64, odd base), one multiply-add per position; the splitmix finaliser
  // then spreads it over all 64 bits.
  constexpr uint64_t kBase = 0x100000001b3ULL;
  uint64_t top = 1;  // kBase^(n-1): the weight of the token leaving the window
  for (int k = 1; k < n; ++k) top *= kBase;
  for (const auto& [begin, end] : documents) {
    if (end - begin < static_cast<size_t>(n)) continue;
    uint64_t h = 0;
    for (size_t i = begin; i < begin + static_cast<size_t>(n); ++i)
      h = h * kBase + static_cast<uint64_t>(static_cast<uint32_t>(stream[i])) + 1;
    out.push_back(mix_seed(h));
    for (size_t i = begin + static_cast<size_t>(n); i < end; ++i) {
      const uint64_t leaving = static_cast<uint64_t>(static_cast<uint32_t>(stream[i - n])) + 1;
      h = (h - leaving * top) * kBase + static_cast<uint64_t>(static_cast<uint32_t>(stream[i])) + 1;
      out.push_back(mix_seed(h));
    }
  }
}

NgramSet::NgramSet(const std::vector<int32_t>& stream, const std::vector<TokenSpan>& documents, int n) {
  append_ngram_hashes(stream, documents, n, hashes_);
  std::sort(hashes_.begin(), hashes_.end());
  hashes_.erase(std::unique(hashes_.begin(), hashes_.end()), hashes_.end());
}

NgramShare share_found(const std::vector<int32_t>& stream, const std::vector<TokenSpan>& documents, int n,
                       const std::vector<const NgramSet*>& references) {
  std::vector<uint64_t> hashes;
  append_ngram_hashes(stream, documents, n, hashes);
  std::sort(hashes.begin(), hashes.end());
  // Both sides sorted: one merge per reference marks the query hashes it holds.
  std::vector<char> found(hashes.size(), 0);
  for (const NgramSet* reference : references) {
    const auto& ref = reference->sorted();
    size_t r = 0;
    for (size_t i = 0; i < hashes.size(); ++i) {
      while (r < ref.size() && ref[r] < hashes[i]) ++r;
      if (r < ref.size() && ref[r] == hashes[i]) found[i] = 1;
    }
  }
  NgramShare share;
  share.ngrams = static_cast<int64_t>(hashes.size());
  share.found = std::count(found.begin(), found.end(), 1);
  return share;
}

}  // namespace lab
