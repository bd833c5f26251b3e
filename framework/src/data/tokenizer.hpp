// SentencePiece BPE tokenizer, trained on the training split and cached by a hash of its inputs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace lab {

class SentencePieceModel;

class Tokenizer {
 public:
  // Trains a BPE model of `vocab_size` pieces on `texts` unless `cache_dir` already holds one made from
  // the same texts and settings; sets *cache_hit accordingly. Throws lab::InputError when the texts
  // cannot support the vocabulary size.
  static Tokenizer train_or_load(const std::vector<std::string>& texts, int64_t vocab_size,
                                 const std::filesystem::path& cache_dir, bool* cache_hit = nullptr);
  static Tokenizer load(const std::filesystem::path& model_file);

  std::vector<int32_t> encode(const std::string& text) const;
  std::string decode(const std::vector<int32_t>& ids) const;
  int64_t vocab_size() const;
  int32_t eos_id() const;  // appended after every document
  const std::filesystem::path& model_path() const { return model_path_; }

 private:
  std::shared_ptr<const SentencePieceModel> model_;
  std::filesystem::path model_path_;
};

}  // namespace lab
