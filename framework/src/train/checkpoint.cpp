#include "train/checkpoint.hpp"

#include <lab/error.hpp>

#include <ATen/Context.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <cstdio>
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

namespace {

std::vector<at::Device> generator_devices() {
  std::vector<at::Device> devices{at::Device(at::kCPU)};
  const auto gpus = static_cast<at::DeviceIndex>(torch::cuda::device_count());
  for (at::DeviceIndex i = 0; i < gpus; ++i) devices.emplace_back(at::kCUDA, i);
  return devices;
}

}  // namespace

void save_generators(const fs::path& file) {
  // Every device's generator: on CUDA, router noise and dropout draw from the GPU's, not the CPU's.
  torch::serialize::OutputArchive archive;
  for (const at::Device& device : generator_devices()) {
    at::Generator gen = at::globalContext().defaultGenerator(device);
    std::lock_guard<std::mutex> lock(gen.mutex());
    archive.write(device.str(), gen.get_state());
  }
  archive.save_to(file.string());
}

void load_generators(const fs::path& file) {
  torch::serialize::InputArchive archive;
  archive.load_from(file.string());
  for (const at::Device& device : generator_devices()) {
    torch::Tensor state;
    if (!archive.try_read(device.str(), state)) {
      // A checkpoint written where this device did not exist: its draws cannot be continued exactly.
      if (device.is_cpu()) throw InputError(file.string() + ": holds no CPU generator state");
      std::fprintf(stderr, "lab: warning: %s holds no state for %s; its random draws restart from the seed\n",
                   file.string().c_str(), device.str().c_str());
      continue;
    }
    at::Generator gen = at::globalContext().defaultGenerator(device);
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(state);
  }
}

void save_checkpoint(const fs::path& dir, LanguageModel& model, Optimizer& optimizer,
                     const TrainingState& state) {
  fs::path tmp = dir.string() + ".tmp";
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  save_model(tmp / "model.pt", model);
  optimizer.save((tmp / "optimizer.pt").string());
  save_generators(tmp / "rng.pt");
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
  load_generators(dir / "rng.pt");
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
