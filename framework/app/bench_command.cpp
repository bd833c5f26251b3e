// lab bench RECIPE: a short training benchmark of the recipe's model (tokens/s, FLOPs, MFU); with
// --nproc, 1 against N ranks; with --compare, two models timed interleaved.
#include "bench_compare.hpp"
#include "bench_ranks.hpp"
#include "command_line.hpp"
#include "commands.hpp"

#include "recipe/config.hpp"
#include "recipe/recipe.hpp"
#include "registry/registry.hpp"
#include "train/benchmark.hpp"

#include "util/blas_core.hpp"

#include <lab/error.hpp>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

namespace po = boost::program_options;

namespace lab::app {

namespace {

// The order components run in, forward; "router" is the router's share of "moe".
const char* const kComponents[] = {"embedding", "attention", "moe", "router", "head", "loss"};

nlohmann::json components_json(const BenchmarkResult& r) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, t] : r.components)
    out[name] = {{"forward", t.forward_ms}, {"backward", t.backward_ms}};
  return out;
}

// "embedding 0.6 ms | attention 79.1 ms | moe 131.7 ms (router 4.5 ms) | ..." for one direction, and
// what the step phase holds beyond the parts (residual adds, autograd bookkeeping).
std::string component_line(const BenchmarkResult& r, bool forward, double phase_ms) {
  std::string line;
  double named = 0;
  char cell[96];
  auto ms_of = [&](const char* name) {
    auto it = r.components.find(name);
    if (it == r.components.end()) return -1.0;
    return forward ? it->second.forward_ms : it->second.backward_ms;
  };
  for (const char* name : kComponents) {
    const double ms = ms_of(name);
    // The router is a share of moe; the embedding's backward is an accumulation inside the rest.
    if (ms < 0 || std::string(name) == "router" || (!forward && std::string(name) == "embedding")) continue;
    named += ms;
    std::snprintf(cell, sizeof cell, "%s%s %.1f ms", line.empty() ? "" : " | ", name, ms);
    line += cell;
    if (forward && std::string(name) == "moe" && ms_of("router") >= 0) {
      std::snprintf(cell, sizeof cell, " (router %.1f ms)", ms_of("router"));
      line += cell;
    }
  }
  std::snprintf(cell, sizeof cell, " | rest %.1f ms", phase_ms - named);
  return line + cell;
}

nlohmann::json to_json(const std::string& recipe, const std::string& data, const std::string& precision,
                       const BenchmarkResult& r) {
  return {{"recipe", recipe},
          {"device", r.device},
          {"threads", r.threads},
          {"data", data},
          {"precision", precision},
          {"batch_size", r.batch_size},
          {"seq_len", r.seq_len},
          {"accum_steps", r.accum_steps},
          {"vocab_size", r.vocab_size},
          {"parameters", r.parameters},
          {"active_parameters", r.active_parameters},
          {"timed_steps", r.steps},
          {"step_s_mean", r.step_seconds_mean},
          {"step_s_min", r.step_seconds_min},
          {"step_s_median", r.step_seconds_median},
          {"step_spread", r.step_spread},
          {"tokens_per_s", r.tokens_per_s},
          {"tokens_per_s_median", r.tokens_per_s_median},
          {"tokens_per_s_best_step", r.tokens_per_s_best},
          {"mfu_best_step",
           r.peak_gflops > 0 ? r.flops_per_token * r.tokens_per_s_best / 1e9 / r.peak_gflops : 0.0},
          {"flops_per_token", r.flops_per_token},
          {"attained_gflops", r.attained_gflops},
          {"peak_gflops", r.peak_gflops},
          {"peak_gemm_size", r.peak_size},
          {"mfu", r.mfu},
          {"phase_s",
           {{"data", r.phases.data},
            {"forward", r.phases.forward},
            {"backward", r.phases.backward},
            {"optimizer", r.phases.optimizer}}},
          {"components_ms", components_json(r)},
          {"blas", blas_json()}};
}

void print_table(const std::string& recipe, const std::string& data, const std::string& precision,
                 const BenchmarkResult& r) {
  const double step = r.step_seconds_mean;
  auto share = [&](double s) { return step > 0 ? 100.0 * s / step : 0.0; };
  const double other = step - r.phases.data - r.phases.forward - r.phases.backward - r.phases.optimizer;
  std::printf("lab bench %s\n", recipe.c_str());
  std::printf("  device             %s, %d threads, %s, %s tokens\n", r.device.c_str(), r.threads,
              precision.c_str(), data.c_str());
  std::printf(
      "  shape              batch %lld x seq %lld (x%lld accum), vocab %lld, %lld parameters (%lld active)\n",
      static_cast<long long>(r.batch_size), static_cast<long long>(r.seq_len),
      static_cast<long long>(r.accum_steps), static_cast<long long>(r.vocab_size),
      static_cast<long long>(r.parameters), static_cast<long long>(r.active_parameters));
  std::printf(
      "  step time          %.1f ms median, spread %.1f %% (mean %.1f ms, best %.1f ms; %lld timed steps)\n",
      r.step_seconds_median * 1e3, 100.0 * r.step_spread, step * 1e3, r.step_seconds_min * 1e3,
      static_cast<long long>(r.steps));
  std::printf("  tokens/s           %.0f median (mean %.0f, best step %.0f)\n", r.tokens_per_s_median,
              r.tokens_per_s, r.tokens_per_s_best);
  std::printf("  model FLOPs/token  %.2f M (training: forward + backward)\n", r.flops_per_token / 1e6);
  std::printf("  attained           %.1f GFLOP/s\n", r.attained_gflops);
  std::printf("  BLAS               %s\n", describe(blas_info()).c_str());
  std::printf("  GEMM peak          %.1f GFLOP/s (%s %lldx%lld matmul, this run)\n", r.peak_gflops,
              precision == "bf16" && r.device.rfind("cuda", 0) == 0 ? "bf16" : "fp32",
              static_cast<long long>(r.peak_size), static_cast<long long>(r.peak_size));
  std::printf(
      "  MFU                %.1f %% (best step: %.1f %%)\n", 100.0 * r.mfu,
      r.peak_gflops > 0 ? 100.0 * r.flops_per_token * r.tokens_per_s_best / 1e9 / r.peak_gflops : 0.0);
  std::printf(
      "  step profile       data %.1f ms (%.0f%%) | forward %.1f ms (%.0f%%) | backward %.1f ms (%.0f%%) | "
      "optimizer %.1f ms (%.0f%%) | other %.1f ms (%.0f%%)\n",
      r.phases.data * 1e3, share(r.phases.data), r.phases.forward * 1e3, share(r.phases.forward),
      r.phases.backward * 1e3, share(r.phases.backward), r.phases.optimizer * 1e3, share(r.phases.optimizer),
      other * 1e3, share(other));
  if (!r.components.empty()) {
    std::printf("  forward by part    %s\n", component_line(r, true, r.phases.forward * 1e3).c_str());
    std::printf("  backward by part   %s\n", component_line(r, false, r.phases.backward * 1e3).c_str());
  }
}

po::options_description bench_options() {
  po::options_description opts("lab bench RECIPE [options]");
  auto add = opts.add_options();
  add("help,h", "show this help");
  add("recipe,r", po::value<std::string>(), "TOML recipe to benchmark");
  add("set,s", po::value<std::vector<std::string>>()->composing(),
      "override a key: section.key=value (repeatable)");
  add("plugin-path,P", po::value<std::vector<std::string>>()->composing(),
      "extra plugin folder (repeatable)");
  add("steps", po::value<int64_t>()->default_value(5), "timed training steps (with --compare: per round)");
  add("warmup", po::value<int64_t>()->default_value(2), "untimed steps first");
  add("data", po::value<std::string>()->default_value("random"),
      "random (uniform token ids, no tokenizer) or corpus (the recipe's dataset and tokenizer)");
  add("precision", po::value<std::string>()->default_value("fp32"),
      "fp32, or bf16 (autocast; on CUDA the peak is a bf16 GEMM)");
  add("peak-size", po::value<int64_t>()->default_value(0),
      "side of the peak GEMM; 0: 2048 on CPU, 8192 on CUDA");
  add("trace", po::value<std::string>(),
      "also trace one extra step, op by op, into this Chrome-trace JSON file "
      "(summarise with benchmarks/profile_summary.py)");
  add("nproc", po::value<int>(),
      "instead: train the recipe briefly with 1 and with N data-parallel ranks (1 thread each) and compare");
  add("compare", po::value<std::string>(),
      "instead: benchmark RECIPE (A) and this recipe (B) in interleaved rounds and report B/A");
  add("compare-set", po::value<std::vector<std::string>>()->composing(),
      "override a key of the --compare recipe: section.key=value (repeatable)");
  add("rounds", po::value<int64_t>()->default_value(5), "with --compare: timed rounds of each model");
  add("json", "print one JSON object instead of the table");
  return opts;
}

// --compare's companions need it, and the modes that run something else do not combine with it.
void check_compare_flags(const po::variables_map& vm) {
  const bool compare = vm.count("compare") != 0;
  if (!compare && vm.count("compare-set")) throw InputError("--compare-set needs --compare RECIPE2");
  if (!compare && !vm["rounds"].defaulted()) throw InputError("--rounds needs --compare RECIPE2");
  if (compare && vm.count("nproc"))
    throw InputError("--compare and --nproc are separate benchmarks; give one");
  if (compare && vm.count("trace"))
    throw InputError("--trace traces a single recipe; it does not combine with --compare");
}

int bench_ranks(const po::variables_map& vm) {
  BenchRanksRequest request;
  request.recipe = vm["recipe"].as<std::string>();
  request.sets = strings_of(vm, "set");
  request.plugin_paths = strings_of(vm, "plugin-path");
  request.nproc = vm["nproc"].as<int>();
  request.warmup = vm["warmup"].as<int64_t>();
  request.steps = vm["steps"].as<int64_t>();
  request.json = vm.count("json") != 0;
  if (request.steps < 1 || request.warmup < 0)
    throw InputError("--steps must be at least 1, --warmup not negative");
  return run_bench_ranks(request);
}

BenchmarkOptions benchmark_options(const po::variables_map& vm) {
  const std::string data = vm["data"].as<std::string>();
  if (data != "random" && data != "corpus")
    throw InputError("--data must be random or corpus, not '" + data + "'");
  const std::string precision = vm["precision"].as<std::string>();
  if (precision != "fp32" && precision != "bf16")
    throw InputError("--precision must be fp32 or bf16, not '" + precision + "'");
  BenchmarkOptions options;
  options.steps = vm["steps"].as<int64_t>();
  options.warmup_steps = vm["warmup"].as<int64_t>();
  options.corpus_data = data == "corpus";
  options.bf16 = precision == "bf16";
  options.peak_size = vm["peak-size"].as<int64_t>();
  if (vm.count("trace")) options.trace_file = vm["trace"].as<std::string>();
  if (options.steps < 1) throw InputError("--steps must be at least 1");
  if (options.warmup_steps < 0) throw InputError("--warmup must not be negative");
  if (options.peak_size < 0) throw InputError("--peak-size must not be negative");
  if (!options.trace_file.empty()) check_output_file("--trace", options.trace_file);
  return options;
}

int bench_compare(const po::variables_map& vm) {
  BenchCompareRequest request;
  request.recipe = vm["recipe"].as<std::string>();
  request.compare_recipe = vm["compare"].as<std::string>();
  request.sets = strings_of(vm, "set");
  request.compare_sets = strings_of(vm, "compare-set");
  request.plugin_paths = strings_of(vm, "plugin-path");
  request.options = benchmark_options(vm);
  request.data = vm["data"].as<std::string>();
  request.precision = vm["precision"].as<std::string>();
  request.rounds = vm["rounds"].as<int64_t>();
  request.json = vm.count("json") != 0;
  return run_bench_compare(request);
}

int bench_one(const po::variables_map& vm) {
  const BenchmarkOptions options = benchmark_options(vm);
  const std::string recipe_file = vm["recipe"].as<std::string>();
  const std::string data = vm["data"].as<std::string>(), precision = vm["precision"].as<std::string>();
  PluginRegistry registry;
  Config config = resolve_config(recipe_of(vm), strings_of(vm, "plugin-path"), registry);
  BenchmarkResult result = run_benchmark(config, options);
  if (vm.count("json"))
    std::cout << to_json(recipe_file, data, precision, result).dump(2) << "\n";
  else
    print_table(recipe_file, data, precision, result);
  return 0;
}

}  // namespace

int run_bench(int argc, char** argv) {
  const po::options_description opts = bench_options();
  po::positional_options_description positional;
  positional.add("recipe", 1);
  auto vm = parse_command_line(argc, argv, opts, positional, "lab bench");
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  if (!vm.count("recipe")) throw InputError("lab bench needs a RECIPE (see lab bench --help)");
  check_compare_flags(vm);
  if (vm.count("nproc")) return bench_ranks(vm);
  if (vm.count("compare")) return bench_compare(vm);
  return bench_one(vm);
}

}  // namespace lab::app
