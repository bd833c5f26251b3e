// `lab profile`: attention kernels across sequence lengths (time, attained GFLOP/s, memory).
#include "command_line.hpp"
#include "commands.hpp"
#include "profile_measure.hpp"
#include "profile_report.hpp"
#include "profile_sparse.hpp"
#include "recipe/recipe.hpp"
#include "registry/registry.hpp"
#include "train/benchmark.hpp"

#include <lab/error.hpp>

#include <torch/torch.h>
#include <boost/program_options.hpp>

#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace po = boost::program_options;

namespace lab::app {

namespace {

std::vector<std::string> split_list(const std::string& flag, const std::string& text) {
  std::vector<std::string> items;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (item.empty()) throw InputError("--" + flag + " '" + text + "': empty entry in the comma list");
    items.push_back(item);
  }
  if (items.empty()) throw InputError("--" + flag + " is empty");
  return items;
}

std::vector<int64_t> seq_lens(const std::string& text) {
  std::vector<int64_t> lens;
  for (const auto& item : split_list("seq-lens", text)) {
    size_t used = 0;
    int64_t n = 0;
    try {
      n = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || n < 1)
      throw InputError("--seq-lens: '" + item + "' is not a positive whole number");
    lens.push_back(n);
  }
  return lens;
}

torch::ScalarType dtype_of(const std::string& name) {
  if (name == "float32" || name == "fp32" || name == "float") return torch::kFloat;
  if (name == "float64" || name == "fp64" || name == "double") return torch::kDouble;
  if (name == "bfloat16" || name == "bf16") return torch::kBFloat16;
  if (name == "float16" || name == "fp16" || name == "half") return torch::kHalf;
  throw InputError("--dtype '" + name + "': expected float32, float64, bfloat16 or float16");
}

torch::Device device_of(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  if (name == "cuda") {
    if (!torch::cuda::is_available())
      throw InputError("--device cuda: no CUDA device is available to LibTorch");
    return {torch::kCUDA, 0};
  }
  throw InputError("--device '" + name + "': expected cpu or cuda");
}

void require_positive(const po::variables_map& vm, const char* flag) {
  if (vm[flag].as<int64_t>() < 1) throw InputError(std::string("--") + flag + " must be at least 1");
}

// "--option flash2.block_q=128": a key of one of the profiled plugins (the --kernels and the --sparse
// plugin), typed like its default.
void apply_option(const std::string& text, const std::map<std::string, const PluginDescriptor*>& profiled,
                  std::map<std::string, std::map<std::string, Value>>& overrides) {
  const auto dot = text.find('.'), eq = text.find('=');
  if (dot == std::string::npos || eq == std::string::npos || dot > eq || dot == 0 || eq == dot + 1)
    throw InputError("--option '" + text + "': expected PLUGIN.KEY=VALUE, e.g. flash2.block_q=128");
  const std::string name = text.substr(0, dot), key = text.substr(dot + 1, eq - dot - 1),
                    raw = text.substr(eq + 1);
  const auto found = profiled.find(name);
  if (found == profiled.end())
    throw InputError("--option '" + text + "': plugin '" + name + "' is neither in --kernels nor --sparse");
  const auto& plugin = *found->second;
  const auto spec =
      std::find_if(plugin.keys.begin(), plugin.keys.end(), [&](const auto& k) { return k.name == key; });
  if (spec == plugin.keys.end())
    throw InputError("--option '" + text + "': plugin '" + name + "' has no key '" + key + "' (lab plugins " +
                     name + " lists its keys)");
  // The value reads as --set reads recipe values (TOML, or a bare string), then must fit the key's type.
  Recipe scratch = Recipe::empty();
  scratch.set("option." + key + "=" + raw);
  const Value value = scratch.find("option." + key)->value;
  if (!value.fits(spec->default_value.type))
    throw InputError("--option '" + text + "': expected " + to_string(spec->default_value.type) + ", got '" +
                     raw + "'");
  overrides[name][key] = value;
}

}  // namespace

int run_profile(int argc, char** argv) {
  po::options_description opts("lab profile [options]");
  opts.add_options()("help,h", "show this help")(
      "seq-lens", po::value<std::string>()->default_value("128,256,512,1024,2048"),
      "comma list of sequence lengths (T = S)")(
      "kernels", po::value<std::string>()->default_value("math,sdpa,flash2"), "comma list of kernel plugins")(
      "batch", po::value<int64_t>()->default_value(1), "batch size")(
      "heads", po::value<int64_t>()->default_value(8), "attention heads")(
      "head-dim", po::value<int64_t>()->default_value(64), "q/k head dim")(
      "v-head-dim", po::value<int64_t>()->default_value(0), "v head dim (0: same as --head-dim)")(
      "causal", po::value<bool>()->default_value(true)->implicit_value(true), "causal mask (true/false)")(
      "device", po::value<std::string>()->default_value("cpu"), "cpu or cuda")(
      "dtype", po::value<std::string>()->default_value("float32"), "float32, float64, bfloat16 or float16")(
      "repeats", po::value<int64_t>()->default_value(3), "timed runs per point (median reported)")(
      "out", po::value<std::string>()->default_value("profile"), "folder for profile.json and profile.png")(
      "option", po::value<std::vector<std::string>>()->composing(),
      "PLUGIN.KEY=VALUE: a key of a profiled plugin, e.g. flash2.block_q=128 (repeatable)")(
      "sparse", po::value<std::string>()->default_value(""),
      "also profile this sparse-attention plugin (e.g. dsa): indexer, selection and sparse attention")(
      "top-k", po::value<int64_t>()->default_value(256), "keys per query of the --sparse plugin")(
      "gemm-peak", po::value<bool>()->default_value(true)->implicit_value(true),
      "measure the device's GEMM peak first and print each kernel's share of it")(
      "plugin-path,P", po::value<std::vector<std::string>>()->composing(),
      "extra plugin folder (repeatable)");
  auto vm = parse_command_line(argc, argv, opts, po::positional_options_description(), "lab profile");
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  for (const char* flag : {"batch", "heads", "head-dim", "repeats"}) require_positive(vm, flag);
  if (vm["v-head-dim"].as<int64_t>() < 0)
    throw InputError("--v-head-dim must be 0 (same as --head-dim) or more");

  ProfileShape shape;
  shape.batch = vm["batch"].as<int64_t>();
  shape.heads = vm["heads"].as<int64_t>();
  shape.head_dim = vm["head-dim"].as<int64_t>();
  shape.v_head_dim = vm["v-head-dim"].as<int64_t>() ? vm["v-head-dim"].as<int64_t>() : shape.head_dim;
  shape.causal = vm["causal"].as<bool>();
  shape.dtype = dtype_of(vm["dtype"].as<std::string>());
  shape.repeats = static_cast<int>(vm["repeats"].as<int64_t>());
  const auto lens = seq_lens(vm["seq-lens"].as<std::string>());
  const auto names = split_list("kernels", vm["kernels"].as<std::string>());
  shape.device = device_of(vm["device"].as<std::string>());

  std::vector<std::string> paths;
  if (vm.count("plugin-path")) paths = vm["plugin-path"].as<std::vector<std::string>>();
  PluginRegistry registry;
  registry.load_directories(plugin_search_path(paths, {}));
  const std::string sparse_name = vm["sparse"].as<std::string>();
  std::map<std::string, const PluginDescriptor*> profiled;
  for (const auto& name : names) profiled[name] = &registry.require(Slot::Kernel, name);
  if (!sparse_name.empty()) {
    profiled[sparse_name] = &registry.require(Slot::Sparse, sparse_name);
    require_positive(vm, "top-k");
  }
  std::map<std::string, std::map<std::string, Value>> overrides;
  if (vm.count("option"))
    for (const auto& text : vm["option"].as<std::vector<std::string>>())
      apply_option(text, profiled, overrides);
  std::vector<KernelPtr> kernels;  // all resolved (and their keys validated) before anything runs
  for (const auto& name : names) {
    const auto& plugin = registry.require(Slot::Kernel, name);
    const Options options = default_options(plugin, overrides[name]);
    Problems problems;
    if (plugin.validate) plugin.validate(options, ModelDims{}, problems);
    for (const auto& problem : problems)
      throw InputError("--option " + name + "." + problem.key + ": " + problem.message);
    kernels.push_back(plugin.make_kernel(options));
  }
  std::shared_ptr<SparseAsKernel> sparse;
  std::string sparse_label;
  const int64_t top_k = vm["top-k"].as<int64_t>();
  if (!sparse_name.empty()) {
    sparse = make_sparse_profile(registry, sparse_name, top_k, overrides[sparse_name], shape,
                                 *std::max_element(lens.begin(), lens.end()), kernels.front());
    sparse_label = sparse_name + " k=" + std::to_string(top_k);
  }

  // The GEMM peak is probed before and after every length: its drift says how far the machine's speed
  // moved while the kernels, interleaved, were timed.
  std::vector<double> peaks;
  const bool probe_peak = vm["gemm-peak"].as<bool>();
  auto probe = [&] {
    if (!probe_peak) return;
    shape.gemm_size = shape.device.is_cuda() ? 8192 : 2048;
    peaks.push_back(measure_gemm_peak(shape.device, shape.gemm_size,
                                      shape.device.is_cuda() && shape.dtype == torch::kBFloat16));
  };
  probe();
  std::vector<ProfileRow> rows;
  for (int64_t len : lens) {
    shape.seq_len = len;
    std::vector<std::unique_ptr<ProfileCase>> cases;
    for (size_t n = 0; n < names.size(); ++n)
      cases.push_back(std::make_unique<ProfileCase>(names[n], *kernels[n], shape));
    if (sparse) {
      ProfileShape sparse_shape = shape;
      sparse_shape.top_k = top_k;
      cases.push_back(std::make_unique<ProfileCase>(sparse_label, *sparse, sparse_shape,
                                                    [&] { return sparse->losses(); }));
    }
    for (int r = 0; r < shape.repeats; ++r)
      for (auto& c : cases) c->time_once();  // A, B, A, B, ...: drift hits every kernel alike
    for (auto& c : cases) rows.push_back(c->row());
    probe();
    std::cerr << "measured T=" << len << "\n";
  }
  if (!peaks.empty()) {
    std::vector<double> sorted = peaks;
    std::sort(sorted.begin(), sorted.end());
    shape.gemm_peak_gflops = sorted[sorted.size() / 2];
    shape.gemm_peak_spread = (sorted.back() - sorted.front()) / shape.gemm_peak_gflops;
  }
  print_profile_table(shape, rows, std::cout);
  write_profile_outputs(shape, rows, vm["out"].as<std::string>());
  std::cout << "wrote " << (std::filesystem::path(vm["out"].as<std::string>()) / "profile.json").string()
            << "\n";
  return 0;
}

}  // namespace lab::app
