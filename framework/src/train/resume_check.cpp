#include "train/resume_check.hpp"

#include "recipe/recipe.hpp"

#include <lab/error.hpp>

namespace lab {

namespace {

// Keys (or whole sections, ending in '.') that decide a parameter's shape or the token ids.
bool shapes_the_model(const std::string& key) {
  static const char* const kShapeKeys[] = {
      "model.d_model",        "model.n_layers", "model.n_heads", "moe.",
      "tokenizer.vocab_size", "attention.",     "router.",       "sparse.",
  };
  for (const char* shape : kShapeKeys) {
    const std::string prefix = shape;
    if (prefix.back() == '.' ? key.rfind(prefix, 0) == 0 : key == prefix) return true;
  }
  return false;
}

}  // namespace

void check_resume_matches(const Config& config, const std::filesystem::path& run_dir) {
  const std::filesystem::path stored_file = run_dir / "recipe.resolved.toml";
  std::error_code ec;
  if (!std::filesystem::exists(stored_file, ec)) return;  // an older run: the checkpoint's shapes decide
  const Recipe stored = Recipe::load(stored_file);
  std::string differences;
  for (const auto& [key, entry] : config.resolved) {
    if (!shapes_the_model(key)) continue;
    const Entry* before = stored.find(key);
    if (!before || before->value == entry.value) continue;  // a key older runs lack is not compared
    differences += (differences.empty() ? "" : ", ") + key + " = " + entry.value.repr() + " (" +
                   entry.where.str() + "; the run has " + before->value.repr() + ")";
  }
  if (!differences.empty())
    throw InputError(stored_file.string() + ": --resume cannot change the model's shape: " + differences +
                     "; start a new run or pass --overwrite");
}

}  // namespace lab
