#include "command_line.hpp"
#include "commands.hpp"
#include "model/model.hpp"
#include "recipe/config.hpp"
#include "recipe/recipe.hpp"
#include "registry/registry.hpp"

#include <lab/error.hpp>

#include <torch/torch.h>

#include <cstdio>
#include <iostream>

namespace po = boost::program_options;

namespace lab::app {

int run_params(int argc, char** argv) {
  po::options_description opts("lab params --recipe FILE [options]");
  opts.add_options()("help,h", "show this help")("recipe,r", po::value<std::string>(), "TOML recipe")(
      "set,s", po::value<std::vector<std::string>>()->composing(),
      "override a key: section.key=value (repeatable)")("plugin-path,P",
                                                        po::value<std::vector<std::string>>()->composing(),
                                                        "extra plugin folder (repeatable)");
  po::positional_options_description positional;
  positional.add("recipe", 1);
  auto vm = parse_command_line(argc, argv, opts, positional, "lab params");
  if (vm.count("help")) {
    std::cout << opts
              << "\nBuilds the recipe's model (no data, no training) and prints its parameter counts.\n";
    return 0;
  }
  if (!vm.count("recipe")) throw InputError("lab params needs a recipe (see lab params --help)");
  const Recipe recipe = recipe_of(vm);
  PluginRegistry registry;
  Config config = resolve_config(recipe, strings_of(vm, "plugin-path"), registry);
  torch::NoGradGuard no_grad;
  LanguageModel model(config);
  ParameterCounts counts = count_parameters(*model, config.dims.n_experts, config.dims.top_k);
  std::printf("%s: attention %s, rope %s, %lld layers, d_model %lld, %lld heads, vocabulary %lld\n",
              recipe.file().string().c_str(), config.attention.plugin.c_str(), config.rope.plugin.c_str(),
              static_cast<long long>(config.dims.n_layers), static_cast<long long>(config.dims.d_model),
              static_cast<long long>(config.dims.n_heads), static_cast<long long>(config.dims.vocab_size));
  auto row = [](const std::string& name, int64_t n) {
    std::printf("  %-28s %14lld\n", name.c_str(), static_cast<long long>(n));
  };
  row("total", counts.total);
  row("active per token", counts.active);
  std::printf("by component:\n");
  for (const auto& [name, n] : counts.by_component) row(name, n);
  std::printf("attention by role (all layers):\n");
  for (const auto& [name, n] : counts.attention_parts) row(name, n);
  return 0;
}

}  // namespace lab::app
