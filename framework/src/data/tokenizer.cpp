// lab::Tokenizer: SentencePiece BPE, trained on the training split and cached by a hash of its inputs.
// SentencePiece itself runs behind sentencepiece_engine.hpp (in this process or in a service process).
#include "data/tokenizer.hpp"
#include "data/sentencepiece_engine.hpp"
#include "util/hash.hpp"

#include <lab/error.hpp>

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <stdexcept>
#include <system_error>

namespace lab {
namespace {

// Bumped when the way texts become training lines changes, so old cache entries are not reused.
constexpr const char* kCacheFormat = "lab-tokenizer-v1";

// Every trainer setting except the file names. The normalization is the identity and no whitespace is
// added or removed, so decode(encode(text)) == text for any UTF-8 text; characters the vocabulary lacks
// (newlines and tabs included) fall back to one piece per UTF-8 byte.
std::map<std::string, std::string> trainer_options(int64_t vocab_size) {
  return {
      {"model_type", "bpe"},
      {"vocab_size", std::to_string(vocab_size)},
      {"character_coverage", "0.9995"},
      {"byte_fallback", "true"},
      {"normalization_rule_name", "identity"},
      {"add_dummy_prefix", "false"},
      {"remove_extra_whitespaces", "false"},
      {"split_digits", "true"},
      {"max_sentence_length", "16384"},
      // Sample at most this many lines: bounds training time and memory on large corpora.
      {"input_sentence_size", "1000000"},
      {"shuffle_input_sentence", "true"},
      {"unk_id", "0"},
      {"eos_id", "1"},
      {"bos_id", "-1"},
      {"pad_id", "-1"},
      {"num_threads", "2"},
  };
}

// Length-prefixed, so ("ab", "c") and ("a", "bc") hash differently.
uint64_t hash_piece(const std::string& text, uint64_t state) {
  const uint64_t size = text.size();
  state = fnv1a64(std::string_view(reinterpret_cast<const char*>(&size), sizeof size), state);
  return fnv1a64(text, state);
}

// Covers every text byte, the vocabulary size and every trainer option.
std::string cache_key(const std::vector<std::string>& texts, int64_t vocab_size,
                      const std::map<std::string, std::string>& options) {
  uint64_t state = hash_piece(kCacheFormat, kFnvOffset);
  state = hash_piece(std::to_string(vocab_size), state);
  for (const auto& [name, value] : options) state = hash_piece(value, hash_piece(name, state));
  state = hash_piece(std::to_string(texts.size()), state);
  for (const auto& text : texts) state = hash_piece(text, state);
  return hex64(state);
}

// One training line per non-empty input line. Returns the number of lines written.
size_t write_training_file(const std::vector<std::string>& texts, const std::filesystem::path& file) {
  std::ofstream out(file, std::ios::binary);
  if (!out) throw InputError("tokenizer: cannot write training file " + file.string());
  size_t lines = 0;
  for (const auto& text : texts) {
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      if (end > start) {
        out.write(text.data() + start, static_cast<std::streamsize>(end - start));
        out.put('\n');
        ++lines;
      }
      start = end + 1;
    }
  }
  out.close();
  if (!out) throw InputError("tokenizer: cannot write training file " + file.string());
  return lines;
}

// Removes the scratch files of one training run however it ends.
struct ScratchFiles {
  std::vector<std::filesystem::path> paths;
  ~ScratchFiles() {
    std::error_code ignored;
    for (const auto& path : paths) std::filesystem::remove(path, ignored);
  }
};

std::string unique_suffix() {
  static std::atomic<int> counter{0};
  return std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

// Lines SentencePiece skips for their length (max_sentence_length in trainer_options).
size_t count_overlong_lines(const std::vector<std::string>& texts) {
  constexpr size_t kMaxLine = 16384;
  size_t count = 0;
  for (const auto& text : texts)
    for (size_t start = 0; start <= text.size();) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      if (end - start > kMaxLine) ++count;
      start = end + 1;
    }
  return count;
}

// SentencePiece's messages name its own flags; say what they mean for a recipe.
std::string explain_failure(const std::string& message, int64_t vocab_size, size_t lines, size_t overlong) {
  std::string hint = "cannot train the tokenizer";
  if (message.find("required_chars") != std::string::npos)
    hint =
        "vocab_size " + std::to_string(vocab_size) +
        " is too small: it must exceed 258 reserved pieces (unk, eos, 256 bytes) plus the text's characters";
  else if (message.find("Vocabulary size too high") != std::string::npos)
    hint = "vocab_size " + std::to_string(vocab_size) + " is too large for " + std::to_string(lines) +
           " lines of training text; lower vocab_size or add text";
  else if (overlong > 0)
    hint = std::to_string(overlong) + " of the text's " + std::to_string(lines) +
           " lines are longer than 16384 bytes, which SentencePiece skips; break the text into shorter lines";
  // Drop SentencePiece's "Internal: file(line) [condition] " prefix; the sentence after it is the news.
  const auto bracket = message.rfind("] ");
  const std::string detail = bracket == std::string::npos ? message : message.substr(bracket + 2);
  return "tokenizer: " + hint + (detail.empty() ? "" : " (sentencepiece: " + detail + ")");
}

}  // namespace

Tokenizer Tokenizer::train_or_load(const std::vector<std::string>& texts, int64_t vocab_size,
                                   const std::filesystem::path& cache_dir, bool* cache_hit) {
  if (cache_hit) *cache_hit = false;
  if (vocab_size <= 0)
    throw InputError("tokenizer: vocab_size must be positive, got " + std::to_string(vocab_size));
  const auto options = trainer_options(vocab_size);
  const auto model_file = cache_dir / ("tokenizer-" + cache_key(texts, vocab_size, options) + ".model");

  std::error_code error;
  if (std::filesystem::exists(model_file, error)) {
    Tokenizer tokenizer = load(model_file);
    if (cache_hit) *cache_hit = true;
    return tokenizer;
  }
  std::filesystem::create_directories(cache_dir, error);
  if (error)
    throw InputError("tokenizer: cannot create cache directory " + cache_dir.string() + ": " +
                     error.message());

  // Scratch names live in cache_dir so the final rename stays on one file system (atomic).
  const std::string scratch = (cache_dir / (".tokenizer-tmp-" + unique_suffix())).string();
  ScratchFiles cleanup{{scratch + ".txt", scratch + ".model", scratch + ".vocab"}};
  const size_t lines = write_training_file(texts, scratch + ".txt");
  if (lines == 0) throw InputError("tokenizer: no text to train on");

  std::unordered_map<std::string, std::string> args(options.begin(), options.end());
  args["input"] = scratch + ".txt";
  args["model_prefix"] = scratch;
  std::string message;
  if (!sentencepiece_engine().train(args, &message))
    throw InputError(explain_failure(message, vocab_size, lines, count_overlong_lines(texts)));

  std::filesystem::rename(scratch + ".model", model_file, error);
  if (error) throw InputError("tokenizer: cannot store " + model_file.string() + ": " + error.message());
  return load(model_file);
}

Tokenizer Tokenizer::load(const std::filesystem::path& model_file) {
  std::string message;
  auto model = sentencepiece_engine().load(model_file.string(), &message);
  if (model == nullptr)
    throw InputError("tokenizer: cannot load model " + model_file.string() + ": " + message);
  Tokenizer tokenizer;
  tokenizer.model_ = std::move(model);
  tokenizer.model_path_ = model_file;
  if (tokenizer.eos_id() < 0)
    throw InputError("tokenizer: model " + model_file.string() + " has no end-of-sequence piece");
  return tokenizer;
}

std::vector<int32_t> Tokenizer::encode(const std::string& text) const {
  std::vector<int> ids;
  std::string message;
  if (!model_->encode(text, &ids, &message)) throw std::runtime_error("tokenizer: encode failed: " + message);
  return std::vector<int32_t>(ids.begin(), ids.end());
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string text, message;
  if (!model_->decode(std::vector<int>(ids.begin(), ids.end()), &text, &message))
    throw std::runtime_error("tokenizer: decode failed: " + message);
  return text;
}

int64_t Tokenizer::vocab_size() const { return model_->piece_size(); }

int32_t Tokenizer::eos_id() const { return model_->eos_id(); }

}  // namespace lab
