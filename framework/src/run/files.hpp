// Small file helpers for the run folder: atomic writes and JSON lines.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace lab {

// Writes to a temporary sibling, then renames: readers never see half a file.
void write_file_atomic(const std::filesystem::path& file, const std::string& content);
void append_json_line(const std::filesystem::path& file, const nlohmann::json& line);
// Lines that parse; a malformed line throws lab::InputError naming file:line. With `drop_torn_end`, a
// last line without its newline that does not parse (a write cut off by a crash) is left out.
std::vector<nlohmann::json> read_json_lines(const std::filesystem::path& file, bool drop_torn_end = false);
nlohmann::json read_json(const std::filesystem::path& file);

}  // namespace lab
