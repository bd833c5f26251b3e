// File handling shared by dataset plugins: recipe-relative paths, sorted listings, sizes.
#pragma once

#include <lab/dataset.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace lab {

struct DataFile {
  std::filesystem::path path;
  std::string id;  // path relative to the dataset root ('/'-separated), stable across machines
};

// A relative `path` resolves against the recipe's folder.
std::filesystem::path resolve_data_path(const std::string& path, const DatasetContext& context);

// `root` itself when it is a file, else the regular files below it that `keep` accepts, sorted by id.
// Throws lab::InputError "<plugin>: ..." when root does not exist or cannot be listed; an empty result
// is left to the caller, which knows what it was looking for.
std::vector<DataFile> list_data_files(const std::string& plugin, const std::filesystem::path& root,
                                      const std::function<bool(const std::filesystem::path&)>& keep);

// Empty when `text` is valid UTF-8, else where it is not: "line N: not valid UTF-8 (byte B)".
std::string utf8_problem(std::string_view text);

// Total size of the files; unreadable ones count as 0 (for describe()).
uintmax_t total_file_bytes(const std::vector<std::filesystem::path>& files);
uintmax_t total_file_bytes(const std::vector<DataFile>& files);

}  // namespace lab
