#include "train/checkpoint.hpp"

#include "train/archive_io.hpp"
#include "train/checkpoint_manifest.hpp"
#include "train/checkpoint_state.hpp"
#include "util/durable_file.hpp"

#include <lab/error.hpp>

#include <ATen/Context.h>
#include <torch/torch.h>

#include <cstdio>
#include <vector>

namespace lab {

namespace fs = std::filesystem;

void save_model(const fs::path& file, LanguageModel& model) {
  torch::serialize::OutputArchive archive;
  model->save(archive);
  save_archive(archive, file);
}

void load_model(const fs::path& file, LanguageModel& model) {
  const std::string damage = check_against_manifest(file);
  if (!damage.empty()) throw InputError(damage);
  torch::serialize::InputArchive archive;
  load_archive(archive, file);
  try {
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

// The copies of a checkpoint folder a crash can leave, newest first when their steps tie: the folder
// itself, a finished temporary one (a kill between the two renames) and the one before.
std::vector<fs::path> copies_of(const fs::path& dir) {
  return {dir, dir.string() + ".tmp", dir.string() + ".prev", dir.string() + ".old"};
}

struct Chosen {
  fs::path dir;
  std::string passed_over;  // why a newer copy was not taken, for the warning
};

Chosen choose_copy(const fs::path& dir) {
  Chosen best;
  int64_t best_step = -2;
  std::string first_problem;  // of the newest copy that exists but does not verify
  std::error_code ec;
  for (const fs::path& copy : copies_of(dir)) {
    if (!fs::exists(copy, ec)) continue;
    // Only a complete folder of an older lab lacks a manifest; a temporary one may be half written.
    const bool accept_without_manifest = copy == dir || copy.string() == dir.string() + ".old";
    CheckpointCheck check = check_checkpoint(copy, accept_without_manifest);
    if (!check.usable) {
      if (first_problem.empty()) first_problem = check.problem;
    } else if (check.step > best_step) {
      best_step = check.step;
      best.dir = copy;
    }
  }
  if (best.dir.empty())
    throw InputError(first_problem.empty() ? dir.string() + ": no checkpoint to resume from"
                                           : first_problem + "; no other copy of the checkpoint verifies");
  if (best.dir != dir) best.passed_over = fs::exists(dir, ec) ? first_problem : dir.string() + ": missing";
  return best;
}

void load_optimizer(const fs::path& file, Optimizer& optimizer) {
  const std::string damage = check_against_manifest(file);
  if (!damage.empty()) throw InputError(damage);
  try {
    optimizer.load(file.string());
  } catch (const c10::Error& err) {
    std::string what = err.what_without_backtrace();
    throw InputError(file.string() + ": does not match this model's parameters (" +
                     what.substr(0, what.find('\n')) + ")");
  }
}

void write_checkpoint_files(const fs::path& tmp, LanguageModel& model, Optimizer& optimizer,
                            const TrainingState& state) {
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  save_model(tmp / "model.pt", model);
  optimizer.save((tmp / "optimizer.pt").string());
  save_generators(tmp / "rng.pt");
  write_durably(tmp / "state.json", state_json_text(state));
  write_manifest(tmp, {"model.pt", "optimizer.pt", "rng.pt", "state.json"}, state.step);
  sync_directory(tmp);
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
  save_archive(archive, file);
}

void load_generators(const fs::path& file) {
  const std::string damage = check_against_manifest(file);
  if (!damage.empty()) throw InputError(damage);
  torch::serialize::InputArchive archive;
  load_archive(archive, file);
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
    try {
      gen.set_state(state);
    } catch (const c10::Error&) {
      throw InputError(file.string() + ": holds no valid generator state for " + device.str());
    }
  }
}

void save_checkpoint(const fs::path& dir, LanguageModel& model, Optimizer& optimizer,
                     const TrainingState& state) {
  const fs::path tmp = dir.string() + ".tmp", prev = dir.string() + ".prev";
  try {
    write_checkpoint_files(tmp, model, optimizer, state);
    // Each moment of the swap leaves a copy that verifies: checkpoint/, then checkpoint.prev/ beside a
    // finished checkpoint.tmp/, then the new checkpoint/.
    fs::remove_all(prev);
    fs::remove_all(dir.string() + ".old");  // an older lab's swap
    if (fs::exists(dir)) fs::rename(dir, prev);
    fs::rename(tmp, dir);
    sync_directory(dir.parent_path());
  } catch (const fs::filesystem_error& err) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw std::runtime_error("cannot write the checkpoint " + dir.string() + ": " + err.code().message());
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
}

TrainingState load_checkpoint(const fs::path& dir, LanguageModel& model, Optimizer& optimizer,
                              int64_t total_steps) {
  const Chosen chosen = choose_copy(dir);
  if (!chosen.passed_over.empty())
    std::fprintf(stderr, "lab: warning: %s; resuming from %s\n", chosen.passed_over.c_str(),
                 chosen.dir.string().c_str());
  // state.json first: it is the cheapest to read and a wrong step needs no model.
  TrainingState state = read_state_json(chosen.dir / "state.json", total_steps);
  const std::string damage = check_against_manifest(chosen.dir / "state.json");
  if (!damage.empty()) throw InputError(damage);
  load_model(chosen.dir / "model.pt", model);
  load_optimizer(chosen.dir / "optimizer.pt", optimizer);
  load_generators(chosen.dir / "rng.pt");
  return state;
}

bool any_checkpoint(const fs::path& dir) {
  std::error_code ec;
  // A temporary copy counts once its manifest, written last, exists: before that it is half written.
  return fs::exists(dir, ec) || fs::exists(dir.string() + ".tmp/manifest.json", ec) ||
         fs::exists(dir.string() + ".prev/manifest.json", ec) ||
         fs::exists(dir.string() + ".old/state.json", ec);
}

}  // namespace lab
