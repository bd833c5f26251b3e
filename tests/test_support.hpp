// Shared helpers for the suites: the build's plugins, configurations from --set style overrides.
#pragma once

#include "recipe/config.hpp"
#include "recipe/recipe.hpp"
#include "registry/registry.hpp"

#include <lab_build_config.hpp>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace lab::test {

inline std::string plugin_dir() { return std::string(LAB_BUILD_DIR) + "/plugins"; }

// The registry of the build tree's plugins, loaded once per test binary.
inline PluginRegistry& registry() {
  static PluginRegistry* reg = [] {
    auto* r = new PluginRegistry();
    r->load_directories({plugin_dir()});
    return r;
  }();
  return *reg;
}

// A configuration from overrides such as "model.d_model=32", validated like a recipe.
inline Config make_config(const std::vector<std::string>& sets) {
  Recipe recipe = Recipe::empty("test");
  for (const auto& s : sets) recipe.set(s);
  static std::vector<std::unique_ptr<PluginRegistry>> keep_alive;  // descriptors live in the libraries
  keep_alive.push_back(std::make_unique<PluginRegistry>());
  return resolve_config(recipe, {plugin_dir()}, *keep_alive.back());
}

// A fresh empty folder under the system temp dir.
inline std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("lab-test-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Compares autograd gradients of sum(f(inputs) * probe) with central finite differences, in float64.
template <typename F>
double max_gradient_error(F f, std::vector<torch::Tensor> inputs, double eps = 1e-6) {
  for (auto& x : inputs) x = x.detach().to(torch::kFloat64).requires_grad_(true);
  auto out = f(inputs);
  auto probe = torch::randn_like(out);
  auto grads = torch::autograd::grad({(out * probe).sum()}, inputs);
  double worst = 0;
  torch::NoGradGuard no_grad;
  for (size_t n = 0; n < inputs.size(); ++n) {
    auto flat = inputs[n].view({-1});
    auto g = grads[n].reshape({-1});
    for (int64_t i = 0; i < flat.numel(); ++i) {
      double orig = flat[i].template item<double>();
      flat[i] = orig + eps;
      double plus = (f(inputs) * probe).sum().template item<double>();
      flat[i] = orig - eps;
      double minus = (f(inputs) * probe).sum().template item<double>();
      flat[i] = orig;
      worst = std::max(worst, std::abs((plus - minus) / (2 * eps) - g[i].template item<double>()));
    }
  }
  return worst;
}

// Runs a shell command, capturing its stdout: the exit code (-1 when it did not exit) and the text.
struct Outcome {
  int code;
  std::string output;
};
inline Outcome run_command(const std::string& command) {
  Outcome out{-1, ""};
  FILE* pipe = popen(command.c_str(), "r");
  std::array<char, 512> buffer{};
  while (fgets(buffer.data(), buffer.size(), pipe)) out.output += buffer.data();
  int status = pclose(pipe);
  out.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// Runs the lab program with `args` (shell syntax), with stderr in the output or discarded.
inline Outcome run_lab(const std::string& args, bool with_stderr = true) {
  return run_command(std::string(LAB_PROGRAM) + " " + args + (with_stderr ? " 2>&1" : " 2>/dev/null"));
}

}  // namespace lab::test
