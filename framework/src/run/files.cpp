#include "run/files.hpp"

#include "util/durable_file.hpp"

#include <lab/error.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace lab {

namespace fs = std::filesystem;

void write_file_atomic(const fs::path& file, const std::string& content) {
  fs::path tmp = file.string() + ".tmp";
  try {
    write_durably(tmp, content);
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
  fs::rename(tmp, file);
}

void append_json_line(const fs::path& file, const nlohmann::json& line) {
  // One write() of the whole line: a process killed mid-way leaves the line whole or absent.
  const std::string text = line.dump() + "\n";
  const int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  const ssize_t n = fd < 0 ? -1 : ::write(fd, text.data(), text.size());
  const int error = errno;
  if (fd >= 0) ::close(fd);
  if (n != static_cast<ssize_t>(text.size()))
    throw std::runtime_error("cannot append to " + file.string() + ": " +
                             std::strerror(n < 0 ? error : ENOSPC));
}

std::vector<nlohmann::json> read_json_lines(const fs::path& file, bool drop_torn_end) {
  std::ifstream in(file);
  if (!in) throw InputError(file.string() + ": cannot be read");
  std::vector<nlohmann::json> lines;
  std::string text;
  int64_t number = 0;
  while (std::getline(in, text)) {
    ++number;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      lines.push_back(nlohmann::json::parse(text));
    } catch (const nlohmann::json::exception& err) {
      if (drop_torn_end && in.eof()) break;  // the last line, without its newline: cut off by a crash
      throw InputError(file.string() + ":" + std::to_string(number) + ": not JSON (" + err.what() + ")");
    }
  }
  return lines;
}

nlohmann::json read_json(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw InputError(file.string() + ": cannot be read");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& err) {
    throw InputError(file.string() + ": not JSON (" + err.what() + ")");
  }
}

}  // namespace lab
