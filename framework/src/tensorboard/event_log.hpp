// A run's TensorBoard log: tb/events.out.tfevents.<time>.<host> beside metrics.jsonl, holding the
// same evaluations. TensorBoard, `wandb sync` and `aim convert tensorboard` read it.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace lab {

class TensorBoardLog {
 public:
  // Starts `tb_dir` afresh: any older events file is replaced by a new one holding the recipe (a text
  // summary) and one event per line of `kept` (a resumed run's metrics up to its checkpoint), so the
  // log never holds a step twice or a step metrics.jsonl has dropped.
  TensorBoardLog(const std::filesystem::path& tb_dir, const std::string& recipe_toml,
                 const std::vector<nlohmann::json>& kept);

  // Appends one metrics.jsonl line as an event at its step and clock time ("time"), flushed.
  void append(const nlohmann::json& line);

  const std::filesystem::path& file() const { return file_; }

 private:
  std::filesystem::path file_;
};

// Seconds since the Unix epoch, the clock of TensorBoard's wall_time.
double unix_time();

}  // namespace lab
