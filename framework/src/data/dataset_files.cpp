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
  if (!fs::is_directory(root, error)) throw InputError(plugin + ": " + root.string() + " does not exist");
  std::vector<DataFile> files;
  fs::recursive_directory_iterator it(root, fs::directory_options::follow_directory_symlink, error), end;
  for (; !error && it != end; it.increment(error))
    if (it->is_regular_file() && keep(it->path()))
      files.push_back({it->path(), it->path().lexically_relative(root).generic_string()});
  if (error) throw InputError(plugin + ": cannot list " + root.string() + ": " + error.message());
  std::sort(files.begin(), files.end(), [](const DataFile& a, const DataFile& b) { return a.id < b.id; });
  return files;
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
