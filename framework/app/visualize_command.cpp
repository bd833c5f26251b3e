// lab visualize: the sparse slot's view of one validation window of a trained run, drawn as pictures.
#include "command_line.hpp"
#include "commands.hpp"
#include "run/files.hpp"
#include "run/load_run.hpp"
#include "run/plots.hpp"

#include <lab/error.hpp>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <iostream>

namespace po = boost::program_options;

namespace lab::app {

namespace {

// A [T, S] tensor as a heatmap; -inf (masked) cells become blank.
Heatmap heatmap(const torch::Tensor& grid, const std::string& title) {
  auto g = grid.to(torch::kFloat64).contiguous();
  Heatmap map{title, "key position", "query position", g.size(0), g.size(1), {}};
  map.values.assign(g.data_ptr<double>(), g.data_ptr<double>() + g.numel());
  return map;
}

torch::Tensor need(const std::map<std::string, torch::Tensor>& inspected, const std::string& key,
                   const std::string& plugin) {
  auto it = inspected.find(key);
  if (it == inspected.end())
    throw InputError("sparse plugin '" + plugin + "' does not show '" + key +
                     "' (lab visualize needs scores, " + "head_scores, selected and weights)");
  return it->second;
}

}  // namespace

int run_visualize(int argc, char** argv) {
  po::options_description opts("lab visualize RUN_DIR [options]");
  opts.add_options()("help,h", "show this help")("run", po::value<std::string>(), "run folder")(
      "layer,l", po::value<int64_t>()->default_value(0), "block to draw")(
      "seq-len,n", po::value<int64_t>()->default_value(128), "window length (at most the run's seq_len)")(
      "window,w", po::value<int64_t>()->default_value(0), "which validation window")(
      "plugin-path,P", po::value<std::vector<std::string>>()->composing(),
      "extra plugin folder (repeatable)");
  po::positional_options_description positional;
  positional.add("run", 1);
  auto vm = parse_command_line(argc, argv, opts, positional, "lab visualize");
  if (vm.count("help")) {
    std::cout << opts
              << "\nDraws, for one validation window: raw indexer scores | top-k selection | weighted sparse "
                 "attention, each indexer head's scores, and the attention distance; writes them to "
                 "RUN_DIR/plots/ with their statistics as JSON.\n";
    return 0;
  }
  if (!vm.count("run")) throw InputError("lab visualize needs a RUN_DIR (see lab visualize --help)");
  LoadedRun run = load_run(vm["run"].as<std::string>(), {{}, strings_of(vm, "plugin-path")});
  const Config& c = run.config;
  if (!c.sparse.descriptor)
    throw InputError(run.dir.string() +
                     ": the run has no sparse plugin (sparse.plugin = none): nothing to draw");
  const int64_t layer = vm["layer"].as<int64_t>();
  if (layer < 0 || layer >= c.dims.n_layers)
    throw InputError("--layer " + std::to_string(layer) + ": the model has layers 0 to " +
                     std::to_string(c.dims.n_layers - 1));
  const int64_t n = vm["seq-len"].as<int64_t>(), window = vm["window"].as<int64_t>();
  if (n < 2 || n > c.dims.seq_len)
    throw InputError("--seq-len " + std::to_string(n) + ": must be between 2 and the run's seq_len " +
                     std::to_string(c.dims.seq_len));
  Corpus corpus = load_run_corpus(run);
  if (window < 0 || static_cast<int64_t>(corpus.val_tokens.size()) < (window + 1) * n)
    throw InputError("--window " + std::to_string(window) + ": the validation split has " +
                     std::to_string(corpus.val_tokens.size()) + " tokens");
  auto tokens =
      torch::from_blob(corpus.val_tokens.data() + window * n, {1, n}, torch::kInt32).to(torch::kInt64);

  ForwardState state;
  state.inspect_layer = layer;
  {
    torch::NoGradGuard no_grad;
    run.model->forward(tokens, state);
  }
  const std::string plugin = c.sparse.plugin;
  auto scores = need(state.inspected, "scores", plugin)[0];
  auto heads = need(state.inspected, "head_scores", plugin)[0];
  auto selected = need(state.inspected, "selected", plugin)[0];
  auto weights = need(state.inspected, "weights", plugin)[0];

  // Selection as a [T, S] 0/1 grid (causally invisible cells blank); -1 pads rows with fewer keys.
  auto chosen = torch::zeros({n, n}, torch::kFloat64);
  chosen.scatter_(1, selected.clamp_min(0), selected.ge(0).to(torch::kFloat64));
  auto visible = torch::ones({n, n}, torch::kBool).tril();
  auto blank = torch::full({n, n}, std::nan(""), torch::kFloat64);
  auto selection_grid = torch::where(visible, chosen, blank);
  auto weight_grid = torch::where(chosen.gt(0), weights.to(torch::kFloat64), blank);

  const std::string suffix = "_layer" + std::to_string(layer) + ".png";
  const auto plots = run.dir / "plots";
  std::filesystem::create_directories(plots);
  const std::string heading = c.experiment + "/" + c.variant + ", layer " + std::to_string(layer) + ", " +
                              std::to_string(n) + " validation tokens";
  plot_heatmaps({heatmap(scores, "raw indexer scores"), heatmap(selection_grid, "top-k selection"),
                 heatmap(weight_grid, "weighted sparse attention (head mean)")},
                heading, plots / ("attention" + suffix));
  std::vector<Heatmap> head_maps;
  for (int64_t h = 0; h < heads.size(0); ++h)
    head_maps.push_back(heatmap(heads[h], "indexer head " + std::to_string(h)));
  plot_heatmaps(head_maps, heading + ": each indexer head", plots / ("indexer_heads" + suffix), 4);

  // Sparsity and attention distance (query position minus key position, weighted by attention).
  auto dist = (torch::arange(n).unsqueeze(1) - torch::arange(n).unsqueeze(0)).to(torch::kFloat64);
  auto w = weight_grid.nan_to_num(0.0);
  const double mass = w.sum().item<double>();
  const double mean = (w * dist).sum().item<double>() / mass;
  const double spread = std::sqrt(((w * (dist - mean).pow(2)).sum().item<double>()) / mass);
  const double kept = chosen.sum().item<double>(), causal_pairs = static_cast<double>(n * (n + 1) / 2);
  auto by_distance = torch::zeros({n}, torch::kFloat64)
                         .index_add_(0, dist.clamp_min(0).to(torch::kInt64).view({-1}), w.view({-1})) /
                     mass;
  PlotSeries series{"attention mass", {}, {}};
  for (int64_t d = 0; d < n; ++d) {
    series.x.push_back(static_cast<double>(d));
    series.y.push_back(by_distance[d].item<double>());
  }
  plot_panels({PlotPanel{"share of attention by distance",
                         "query - key distance (tokens)",
                         "share",
                         false,
                         false,
                         {series}}},
              heading, plots / ("attention_distance" + suffix));
  nlohmann::json stats = {{"layer", layer},        {"seq_len", n},
                          {"window", window},      {"sparsity", 1.0 - kept / causal_pairs},
                          {"selected_keys", kept}, {"causal_pairs", causal_pairs},
                          {"distance_mean", mean}, {"distance_std", spread}};
  // A reduced-precision indexer also reports the keys it shares with the fp32 selection.
  if (auto it = state.inspected.find("selected_fp32"); it != state.inspected.end()) {
    auto exact = it->second[0];
    auto kept_too = chosen.gt(0).gather(1, exact.clamp_min(0)).logical_and(exact.ge(0));
    const double recall = kept_too.sum().item<double>() / exact.ge(0).sum().item<double>();
    stats["index_recall"] = recall;
    std::printf("layer %lld: reduced-precision selection keeps %.4f of the fp32 selection's keys\n",
                static_cast<long long>(layer), recall);
  }
  write_file_atomic(plots / ("attention_layer" + std::to_string(layer) + ".json"), stats.dump(2) + "\n");
  std::printf(
      "layer %lld: sparsity %.3f (%g of %g causal pairs kept), attention distance %.1f +- %.1f tokens\n",
      static_cast<long long>(layer), 1.0 - kept / causal_pairs, kept, causal_pairs, mean, spread);
  std::printf("written to %s: attention%s, indexer_heads%s, attention_distance%s\n", plots.string().c_str(),
              suffix.c_str(), suffix.c_str(), suffix.c_str());
  return 0;
}

}  // namespace lab::app
