// Dataset slot: documents in; the core splits them by document and tokenizes.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace lab {

struct Document {
  std::string id;  // stable across runs: the train/validation split hashes on it
  std::string text;
};

struct DatasetContext {
  std::filesystem::path recipe_dir;  // relative paths in a recipe resolve against it
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  // All documents, in a deterministic order. Throws lab::InputError for unreadable input.
  virtual std::vector<Document> documents() = 0;
  // Identifies the source (paths, sizes) so caches keyed on it notice changes.
  virtual std::string describe() const = 0;
};

using DatasetPtr = std::shared_ptr<Dataset>;

}  // namespace lab
