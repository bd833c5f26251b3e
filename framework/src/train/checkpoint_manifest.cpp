#include "train/checkpoint_manifest.hpp"

#include "util/durable_file.hpp"
#include "util/hash.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <iterator>
#include <sstream>

namespace lab {

namespace fs = std::filesystem;

namespace {

constexpr const char* kManifest = "manifest.json";

bool read_whole(const fs::path& file, std::string& out) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return false;
  std::ifstream in(file, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

// The manifest, or a null json with `problem` set.
nlohmann::json read_manifest(const fs::path& dir, std::string& problem) {
  std::string text;
  if (!read_whole(dir / kManifest, text)) return nullptr;
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("files") || !j["files"].is_object() || !j.contains("step") ||
      !j["step"].is_number_integer()) {
    problem = (dir / kManifest).string() + ": damaged";
    return nullptr;
  }
  return j;
}

// Empty when `file` has the size and hash `entry` records.
std::string compare(const fs::path& file, const nlohmann::json& entry) {
  std::string bytes;
  if (!read_whole(file, bytes)) return file.string() + ": missing (listed in " + kManifest + ")";
  if (!entry.is_object() || !entry.contains("bytes") || !entry["bytes"].is_number_unsigned() ||
      !entry.contains("fnv1a64") || !entry["fnv1a64"].is_string())
    return (file.parent_path() / kManifest).string() + ": damaged";
  const auto want = entry["bytes"].get<int64_t>();
  if (static_cast<int64_t>(bytes.size()) != want)
    return file.string() + ": damaged (" + std::to_string(bytes.size()) + " bytes, " + kManifest +
           " records " + std::to_string(want) + ")";
  if (hex64(fnv1a64(bytes)) != entry["fnv1a64"].get<std::string>())
    return file.string() + ": damaged (its checksum differs from " + kManifest + ")";
  return "";
}

}  // namespace

void write_manifest(const fs::path& dir, const std::vector<std::string>& files, int64_t step) {
  nlohmann::json j = {{"step", step}, {"files", nlohmann::json::object()}};
  for (const auto& name : files) {
    std::string bytes;
    read_whole(dir / name, bytes);
    j["files"][name] = {{"bytes", bytes.size()}, {"fnv1a64", hex64(fnv1a64(bytes))}};
  }
  write_durably(dir / kManifest, j.dump(2) + "\n");
}

CheckpointCheck check_checkpoint(const fs::path& dir, bool accept_without_manifest) {
  CheckpointCheck check;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    check.problem = dir.string() + (fs::exists(dir, ec) ? ": not a folder" : ": missing");
    return check;
  }
  nlohmann::json manifest = read_manifest(dir, check.problem);
  if (!check.problem.empty()) return check;
  if (manifest.is_null()) {
    // No manifest: unfinished, or written by an older lab; the latter load as they are and report
    // their own errors.
    if (accept_without_manifest && fs::exists(dir / "state.json", ec)) {
      check.usable = true;
      return check;
    }
    check.problem = dir.string() + ": incomplete (no " + kManifest + ")";
    return check;
  }
  check.has_manifest = true;
  for (const auto& [name, entry] : manifest["files"].items()) {
    check.problem = compare(dir / name, entry);
    if (!check.problem.empty()) return check;
  }
  check.step = manifest["step"].get<int64_t>();
  check.usable = true;
  return check;
}

std::string check_against_manifest(const fs::path& file) {
  std::string problem;
  nlohmann::json manifest = read_manifest(file.parent_path(), problem);
  if (!problem.empty() || manifest.is_null()) return problem;
  const std::string name = file.filename().string();
  if (!manifest["files"].contains(name)) return "";
  return compare(file, manifest["files"][name]);
}

}  // namespace lab
