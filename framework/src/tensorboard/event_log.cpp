#include "tensorboard/event_log.hpp"

#include "run/files.hpp"
#include "tensorboard/events.hpp"

#include <unistd.h>

#include <chrono>
#include <fstream>

namespace lab {

namespace fs = std::filesystem;

namespace {

const std::string kPrefix = "events.out.tfevents.";

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

std::string event_of(const nlohmann::json& line) {
  const double time =
      line.contains("time") && line["time"].is_number() ? line["time"].get<double>() : unix_time();
  return tfrecord(scalars_event(line.value("step", int64_t{0}), time, metrics_scalars(line)));
}

}  // namespace

double unix_time() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

TensorBoardLog::TensorBoardLog(const fs::path& tb_dir, const std::string& recipe_toml,
                               const std::vector<nlohmann::json>& kept) {
  fs::create_directories(tb_dir);
  const double now = unix_time();
  file_ = tb_dir / (kPrefix + std::to_string(static_cast<int64_t>(now)) + "." + host_name());
  // TensorBoard reads every events file of a folder: the old ones go, so no step shows twice.
  for (const auto& entry : fs::directory_iterator(tb_dir))
    if (entry.path().filename().string().rfind(kPrefix, 0) == 0 && entry.path() != file_)
      fs::remove(entry.path());
  // Markdown (TensorBoard's text plugin) would reflow the TOML; a fenced block keeps it as written.
  std::string records = tfrecord(version_event(now)) +
                        tfrecord(text_event("recipe", "```toml\n" + recipe_toml + "```\n", 0, now));
  for (const auto& line : kept) records += event_of(line);
  write_file_atomic(file_, records);
}

void TensorBoardLog::append(const nlohmann::json& line) {
  std::ofstream out(file_, std::ios::binary | std::ios::app);
  out << event_of(line);
  if (!out.flush()) throw std::runtime_error("cannot append to " + file_.string());
}

}  // namespace lab
