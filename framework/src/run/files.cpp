#include "run/files.hpp"

#include <lab/error.hpp>

#include <fstream>

namespace lab {

namespace fs = std::filesystem;

void write_file_atomic(const fs::path& file, const std::string& content) {
  fs::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write " + tmp.string());
    out << content;
    if (!out.flush()) throw std::runtime_error("cannot write " + tmp.string());
  }
  fs::rename(tmp, file);
}

void append_json_line(const fs::path& file, const nlohmann::json& line) {
  std::ofstream out(file, std::ios::app);
  out << line.dump() << "\n";
  if (!out.flush()) throw std::runtime_error("cannot append to " + file.string());
}

std::vector<nlohmann::json> read_json_lines(const fs::path& file) {
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
