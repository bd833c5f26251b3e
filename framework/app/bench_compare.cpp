#include "bench_compare.hpp"

#include "profile_memory.hpp"

#include "recipe/config.hpp"
#include "recipe/recipe.hpp"
#include "registry/registry.hpp"
#include "train/trainer.hpp"
#include "util/blas_core.hpp"

#include <lab/error.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <numeric>
#include <sstream>

namespace lab::app {

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

// One of the two benchmarks. The registry outlives the run: the model's code lives in its plugins.
struct Side {
  std::string name;   // "A" or "B"
  std::string label;  // the recipe and its overrides, as given
  std::unique_ptr<PluginRegistry> registry = std::make_unique<PluginRegistry>();
  Config config;
  std::unique_ptr<BenchmarkRun> run;
  int64_t resident_bytes = 0;  // what the built, warmed-up run keeps live (weights, gradients, state)
  int64_t peak_bytes = 0;      // resident plus the highest a timed round went above it
  std::vector<double> round_tokens_per_s;
};

std::string label_of(const std::string& recipe, const std::vector<std::string>& sets, const char* flag) {
  std::string label = recipe;
  for (const auto& s : sets) label += std::string(" ") + flag + " " + s;
  return label;
}

// Errors of the second recipe name the flag that brought them in, line by line: its overrides came
// through --compare-set, which the recipe layer reports as --set.
InputError second_recipe_error(const std::string& message) {
  std::istringstream lines(message);
  std::string line, out;
  while (std::getline(lines, line)) {
    if (!out.empty()) out += "\n";
    const bool from_set =
        line.rfind("--set", 0) == 0 && line.size() > 5 && (line[5] == ':' || line[5] == ' ');
    out += from_set ? "--compare-set" + line.substr(5) : "--compare: " + line;
  }
  return InputError(out);
}

void resolve(Side& side, const std::string& file, const std::vector<std::string>& sets,
             const std::vector<std::string>& plugin_paths) {
  Recipe recipe = Recipe::load(file);
  for (const auto& s : sets) recipe.set(s);
  side.config = resolve_config(recipe, plugin_paths, *side.registry);
}

void resolve_both(const BenchCompareRequest& request, Side& a, Side& b) {
  resolve(a, request.recipe, request.sets, request.plugin_paths);
  try {
    resolve(b, request.compare_recipe, request.compare_sets, request.plugin_paths);
  } catch (const InputError& e) {
    throw second_recipe_error(e.what());
  }
  const std::string da = pick_device(a.config.train.device).str();
  const std::string db = pick_device(b.config.train.device).str();
  if (da != db)
    throw InputError("--compare: the recipes train on different devices (" + da + " and " + db +
                     "); compare them on one");
}

void build(Side& side, const BenchmarkOptions& options, const MemoryMeter& meter) {
  const int64_t before = meter.live_bytes();
  side.run = std::make_unique<BenchmarkRun>(side.config, options);
  side.resident_bytes = meter.live_bytes() - before;
}

void time_round(Side& side, int64_t steps, MemoryMeter& meter) {
  meter.reset_peak();
  const int64_t live = meter.live_bytes();  // the other run's tensors included
  const std::vector<double> seconds = side.run->time_steps(steps);
  side.peak_bytes = std::max(side.peak_bytes, meter.peak_bytes() - live + side.resident_bytes);
  const double total = std::accumulate(seconds.begin(), seconds.end(), 0.0);
  side.round_tokens_per_s.push_back(side.run->tokens_per_step() * static_cast<double>(steps) / total);
}

struct Comparison {
  std::vector<int> order;
  std::vector<double> peaks;  // GFLOP/s, before the first round and after every round
  MedianSpread peak;
  std::vector<double> round_ratios;  // B / A, round by round
  double ratio = 0;                  // median tokens/s of B over A's
};

double median_tokens_per_s(const Side& side) { return median_spread(side.round_tokens_per_s).median; }

double mfu(const Side& side, double peak_gflops) {
  const double attained = side.run->result(peak_gflops).flops_per_token * median_tokens_per_s(side) / 1e9;
  return peak_gflops > 0 ? attained / peak_gflops : 0;
}

// A B, B A, A B, ... with the GEMM peak probed between rounds: its drift is the machine's.
Comparison measure(const BenchCompareRequest& request, Side* sides[2], MemoryMeter& meter) {
  Comparison c;
  c.order = interleaved_order(request.rounds);
  c.peaks.push_back(sides[0]->run->measure_peak());
  for (size_t i = 0; i < c.order.size(); ++i) {
    time_round(*sides[c.order[i]], request.options.steps, meter);
    if (i % 2 == 0) continue;
    c.peaks.push_back(sides[0]->run->measure_peak());
    const double ratio = sides[1]->round_tokens_per_s.back() / sides[0]->round_tokens_per_s.back();
    c.round_ratios.push_back(ratio);
    std::fprintf(stderr, "round %zu/%lld: B/A %.3f\n", i / 2 + 1, static_cast<long long>(request.rounds),
                 ratio);
  }
  c.peak = median_spread(c.peaks);
  c.ratio = median_tokens_per_s(*sides[1]) / median_tokens_per_s(*sides[0]);
  return c;
}

std::string order_text(const std::vector<int>& order) {
  std::string text;
  for (size_t i = 0; i < order.size(); ++i)
    text += std::string(i == 0 ? "" : (i % 2 ? " " : ", ")) + (order[i] ? "B" : "A");
  return text;
}

nlohmann::json side_json(const Side& side, const std::string& recipe, const std::vector<std::string>& sets,
                         double peak_gflops) {
  const BenchmarkResult r = side.run->result(peak_gflops);
  const MedianSpread tps = median_spread(side.round_tokens_per_s);
  return {{"recipe", recipe},
          {"sets", sets},
          {"threads", r.threads},
          {"batch_size", r.batch_size},
          {"seq_len", r.seq_len},
          {"accum_steps", r.accum_steps},
          {"parameters", r.parameters},
          {"active_parameters", r.active_parameters},
          {"flops_per_token", r.flops_per_token},
          {"timed_steps", r.steps},
          {"tokens_per_s_median", tps.median},
          {"tokens_per_s_spread", tps.spread},
          {"tokens_per_s_rounds", side.round_tokens_per_s},
          {"step_s_median", r.step_seconds_median},
          {"mfu", mfu(side, peak_gflops)},
          {"peak_memory_mib", static_cast<double>(side.peak_bytes) / kMiB},
          {"phase_s",
           {{"data", r.phases.data},
            {"forward", r.phases.forward},
            {"backward", r.phases.backward},
            {"optimizer", r.phases.optimizer}}}};
}

nlohmann::json comparison_json(const BenchCompareRequest& request, const Side& a, const Side& b,
                               const Comparison& c) {
  const auto ratios = std::minmax_element(c.round_ratios.begin(), c.round_ratios.end());
  return {{"device", a.run->device().str()},
          {"data", request.data},
          {"precision", request.precision},
          {"rounds", request.rounds},
          {"steps_per_round", request.options.steps},
          {"warmup", request.options.warmup_steps},
          {"order", order_text(c.order)},
          {"gemm_peak",
           {{"median_gflops", c.peak.median},
            {"spread", c.peak.spread},
            {"probes", c.peaks},
            {"size", a.run->result(0).peak_size}}},
          {"a", side_json(a, request.recipe, request.sets, c.peak.median)},
          {"b", side_json(b, request.compare_recipe, request.compare_sets, c.peak.median)},
          {"ratio",
           {{"tokens_per_s", c.ratio},
            {"round_min", *ratios.first},
            {"round_max", *ratios.second},
            {"rounds", c.round_ratios}}},
          {"blas", blas_json()}};
}

void print_side(const Side& side, double peak_gflops) {
  const MedianSpread tps = median_spread(side.round_tokens_per_s);
  const BenchmarkResult r = side.run->result(peak_gflops);
  std::printf("  %-4s %17.0f %8.1f %% %12.1f %8.1f %% %10.1f %11.2f M\n", side.name.c_str(), tps.median,
              100.0 * tps.spread, r.step_seconds_median * 1e3, 100.0 * mfu(side, peak_gflops),
              static_cast<double>(side.peak_bytes) / kMiB, static_cast<double>(r.parameters) / 1e6);
}

void print_table(const BenchCompareRequest& request, const Side& a, const Side& b, const Comparison& c) {
  const BenchmarkResult ra = a.run->result(c.peak.median);
  std::printf("lab bench --compare: %lld rounds of %lld steps, order %s\n",
              static_cast<long long>(request.rounds), static_cast<long long>(request.options.steps),
              order_text(c.order).c_str());
  std::printf("  device %s, %s, %s tokens; %s\n", ra.device.c_str(), request.precision.c_str(),
              request.data.c_str(), describe(blas_info()).c_str());
  std::printf("  A    %s\n  B    %s\n", a.label.c_str(), b.label.c_str());
  std::printf("       %17s %10s %12s %10s %10s %13s\n", "tokens/s median", "spread", "step ms", "MFU",
              "peak MiB", "parameters");
  print_side(a, c.peak.median);
  print_side(b, c.peak.median);
  const auto ratios = std::minmax_element(c.round_ratios.begin(), c.round_ratios.end());
  std::printf("  B/A  %.3f tokens/s (rounds %.3f .. %.3f)\n", c.ratio, *ratios.first, *ratios.second);
  std::printf(
      "  GEMM peak %.1f GFLOP/s, median of %zu probes between rounds, spread %.0f %% (%s %lldx%lld)\n",
      c.peak.median, c.peaks.size(), 100.0 * c.peak.spread,
      request.options.bf16 && a.run->device().is_cuda() ? "bf16" : "fp32",
      static_cast<long long>(ra.peak_size), static_cast<long long>(ra.peak_size));
  std::printf(
      "  peak MiB: tensor memory of one model's training step (weights, gradients, optimizer "
      "state, activations)\n");
}

// The machine's speed moved: the ratio, timed interleaved, still holds; the absolute figures do not.
void warn_if_peak_moved(const Comparison& c, std::FILE* out) {
  if (c.peak.spread <= 0.2) return;
  std::fprintf(out,
               "warning: the GEMM peak moved %.0f%% during the run: the machine's speed changed; quote the "
               "ratio B/A (timed interleaved), not absolute tokens/s\n",
               100.0 * c.peak.spread);
}

}  // namespace

int run_bench_compare(const BenchCompareRequest& request) {
  if (request.rounds < 1) throw InputError("--rounds must be at least 1");
  if (request.options.steps < 1) throw InputError("--steps must be at least 1");
  Side a, b;
  a.name = "A";
  b.name = "B";
  a.label = label_of(request.recipe, request.sets, "--set");
  b.label = label_of(request.compare_recipe, request.compare_sets, "--compare-set");
  resolve_both(request, a, b);

  // Installed before either model exists, so each one's weights and state are counted.
  MemoryMeter meter(pick_device(a.config.train.device));
  build(a, request.options, meter);
  build(b, request.options, meter);
  Side* sides[2] = {&a, &b};
  const Comparison c = measure(request, sides, meter);
  if (request.json) {
    std::cout << comparison_json(request, a, b, c).dump(2) << "\n";
    warn_if_peak_moved(c, stderr);
  } else {
    print_table(request, a, b, c);
    warn_if_peak_moved(c, stdout);
  }
  return 0;
}

}  // namespace lab::app
