#include <lab/dataset_files.hpp>
#include <lab/error.hpp>

#include <algorithm>

namespace lab {

namespace fs = std::filesystem;

fs::path resolve_data_path(const std::string& path, const DatasetContext& context) {
  fs::path resolved(path);
  if (resolved.is_relative() && !context.recipe_dir.empty()) resolved = context.recipe_dir / resolved;
  return resolved.lexically_normal();
}

std::vector<DataFile> list_data_files(const std::string& plugin, const fs::path& root,
                                      const std::function<bool(const fs::path&)>& keep) {
  std::error_code error;
  if (fs::is_regular_file(root, error)) return {{root, root.filename().generic_string()}};
  if (!fs::exists(root, error)) throw InputError(plugin + ": " + root.string() + " does not exist");
  if (!fs::is_directory(root, error))
    throw InputError(plugin + ": " + root.string() +
                     " is not a regular file or a folder (a FIFO, device or socket cannot be read as data)");
  std::vector<DataFile> files;
  fs::recursive_directory_iterator it(root, fs::directory_options::follow_directory_symlink, error), end;
  for (; !error && it != end; it.increment(error))
    if (it->is_regular_file() && keep(it->path()))
      files.push_back({it->path(), it->path().lexically_relative(root).generic_string()});
  if (error) throw InputError(plugin + ": cannot list " + root.string() + ": " + error.message());
  std::sort(files.begin(), files.end(), [](const DataFile& a, const DataFile& b) { return a.id < b.id; });
  return files;
}

std::string utf8_problem(std::string_view text) {
  size_t line = 1;
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') ++line;
    // Sequence length from the lead byte; overlong forms and surrogates are refused like any decoder.
    size_t length = c < 0x80                        ? 1
                    : (c >> 5) == 0x6 && c >= 0xc2  ? 2
                    : (c >> 4) == 0xe               ? 3
                    : (c >> 3) == 0x1e && c <= 0xf4 ? 4
                                                    : 0;
    bool ok = length > 0 && i + length <= text.size();
    for (size_t k = 1; ok && k < length; ++k) ok = (static_cast<unsigned char>(text[i + k]) >> 6) == 0x2;
    if (ok && length == 3) {
      const auto c1 = static_cast<unsigned char>(text[i + 1]);
      ok = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0);
    }
    if (ok && length == 4) {
      const auto c1 = static_cast<unsigned char>(text[i + 1]);
      ok = !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 >= 0x90);
    }
    if (!ok) return "line " + std::to_string(line) + ": not valid UTF-8 (byte " + std::to_string(i) + ")";
    i += length;
  }
  return "";
}

uintmax_t total_file_bytes(const std::vector<fs::path>& files) {
  uintmax_t bytes = 0;
  for (const auto& file : files) {
    std::error_code error;
    const auto size = fs::file_size(file, error);
    if (!error) bytes += size;
  }
  return bytes;
}

uintmax_t total_file_bytes(const std::vector<DataFile>& files) {
  std::vector<fs::path> paths;
  for (const auto& file : files) paths.push_back(file.path);
  return total_file_bytes(paths);
}

}  // namespace lab
