#include "train/archive_io.hpp"

#include "util/durable_file.hpp"

#include <lab/error.hpp>

#include <c10/util/Exception.h>

#include <string>

namespace lab {

void save_archive(torch::serialize::OutputArchive& archive, const std::filesystem::path& file) {
  std::string bytes;
  archive.save_to([&bytes](const void* data, size_t size) {
    bytes.append(static_cast<const char*>(data), size);
    return size;
  });
  write_durably(file, bytes);
}

void load_archive(torch::serialize::InputArchive& archive, const std::filesystem::path& file,
                  c10::optional<torch::Device> device) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) throw InputError(file.string() + ": missing");
  try {
    archive.load_from(file.string(), device);
  } catch (const c10::Error& err) {
    std::string what = err.what_without_backtrace();
    throw InputError(file.string() + ": cannot be read (" + what.substr(0, what.find('\n')) + ")");
  }
}

}  // namespace lab
