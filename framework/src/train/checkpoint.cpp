#include "train/checkpoint.hpp"

#include <lab/error.hpp>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <fstream>

namespace lab {

namespace fs = std::filesystem;

void save_model(const fs::path& file, LanguageModel& model) {
  torch::serialize::OutputArchive archive;
  model->save(archive);
  archive.save_to(file.string());
}

void load_model(const fs::path& file, LanguageModel& model) {
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(file.string());
    model->load(archive);
  } catch (const c10::Error& err) {
    std::string what = err.what_without_backtrace();
    throw InputError(file.string() + ": checkpoint does not match this model (" +
                     what.substr(0, what.find('\n')) + ")");
  }
}

void save_checkpoint(const fs::path& dir, LanguageModel& model, Optimizer& optimizer,
                     const TrainingState& state) {
  fs::path tmp = dir.string() + ".tmp";
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  save_model(tmp / "model.pt", model);
  optimizer.save((tmp / "optimizer.pt").string());
  {
    torch::serialize::OutputArchive rng;
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    rng.write("cpu", gen.get_state());
    rng.save_to((tmp / "rng.pt").string());
  }
  nlohmann::json j = {{"step", state.step},
                      {"tokens", state.tokens},
                      {"train_seconds", state.train_seconds},
                      {"wall_seconds", state.wall_seconds}};
  std::ofstream(tmp / "state.json") << j.dump(2) << "\n";
  // Swap in whole so a crash mid-write leaves the previous checkpoint intact.
  fs::path old = dir.string() + ".old";
  fs::remove_all(old);
  if (fs::exists(dir)) fs::rename(dir, old);
  fs::rename(tmp, dir);
  fs::remove_all(old);
}

TrainingState load_checkpoint(const fs::path& dir, LanguageModel& model, Optimizer& optimizer) {
  if (!fs::exists(dir / "state.json")) throw InputError(dir.string() + ": no checkpoint to resume from");
  load_model(dir / "model.pt", model);
  optimizer.load((dir / "optimizer.pt").string());
  {
    torch::serialize::InputArchive rng;
    rng.load_from((dir / "rng.pt").string());
    torch::Tensor cpu;
    rng.read("cpu", cpu);
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(cpu);
  }
  nlohmann::json j;
  try {
    std::ifstream(dir / "state.json") >> j;
  } catch (const std::exception& err) {
    throw InputError((dir / "state.json").string() + ": unreadable (" + err.what() + ")");
  }
  TrainingState state;
  state.step = j.at("step").get<int64_t>();
  state.tokens = j.at("tokens").get<int64_t>();
  state.train_seconds = j.at("train_seconds").get<double>();
  state.wall_seconds = j.value("wall_seconds", state.train_seconds);
  return state;
}

}  // namespace lab
