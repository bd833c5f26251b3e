// lab generate RUN_DIR --prompt TEXT: samples a continuation from a trained run.
#include "command_line.hpp"
#include "commands.hpp"

#include "data/tokenizer.hpp"
#include "run/generate.hpp"
#include "run/load_run.hpp"

#include <lab/error.hpp>

#include <boost/program_options.hpp>

#include <cmath>
#include <iostream>

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace lab::app {

namespace {
// Each new token runs the model once: past this a typo would sample for hours.
constexpr int64_t kMaxNewTokens = 65536;
}  // namespace

int run_generate(int argc, char** argv) {
  po::options_description opts("lab generate RUN_DIR --prompt TEXT [options]");
  opts.add_options()("help,h", "show this help")("run", po::value<std::string>(), "trained run folder")(
      "prompt,p", po::value<std::string>(), "text to continue")(
      "temperature,t", po::value<double>()->default_value(0.8), "softmax temperature; 0: greedy")(
      "top-k,k", po::value<int64_t>()->default_value(50), "sample among the k most likely tokens; 0: all")(
      "max-tokens,n", po::value<int64_t>()->default_value(100), "new tokens at most")(
      "seed", po::value<int64_t>()->default_value(0), "sampling seed (the same seed gives the same text)")(
      "plugin-path,P", po::value<std::vector<std::string>>()->composing(),
      "extra plugin folder (repeatable)");
  po::positional_options_description positional;
  positional.add("run", 1);
  auto vm = parse_command_line(argc, argv, opts, positional, "lab generate");
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  if (!vm.count("run")) throw InputError("lab generate: a run folder is required (see lab generate --help)");
  if (!vm.count("prompt")) throw InputError("lab generate: --prompt TEXT is required");
  SampleOptions sample;
  sample.temperature = vm["temperature"].as<double>();
  sample.top_k = vm["top-k"].as<int64_t>();
  sample.max_tokens = vm["max-tokens"].as<int64_t>();
  // Read signed: an unsigned option would take "-1" as 2^64 - 1.
  if (vm["seed"].as<int64_t>() < 0) throw InputError("--seed must not be negative");
  sample.seed = static_cast<uint64_t>(vm["seed"].as<int64_t>());
  if (!(sample.temperature >= 0) || !std::isfinite(sample.temperature))
    throw InputError("--temperature must be a finite number, not negative");
  if (sample.top_k < 0) throw InputError("--top-k must not be negative");
  if (sample.max_tokens < 1 || sample.max_tokens > kMaxNewTokens)
    throw InputError("--max-tokens must be between 1 and " + std::to_string(kMaxNewTokens));

  LoadRunOptions load;
  if (vm.count("plugin-path")) load.plugin_paths = vm["plugin-path"].as<std::vector<std::string>>();
  LoadedRun run = load_run(vm["run"].as<std::string>(), load);
  // Runs keep their tokenizer; older ones get it back by rebuilding the corpus (slower).
  const fs::path tokenizer_file = run.dir / "tokenizer.model";
  Tokenizer tokenizer =
      fs::exists(tokenizer_file) ? Tokenizer::load(tokenizer_file) : load_run_corpus(run).tokenizer;
  sample.stop_token = tokenizer.eos_id();
  const std::string prompt = vm["prompt"].as<std::string>();
  std::vector<int32_t> ids = tokenizer.encode(prompt);
  std::vector<int32_t> continuation = sample_tokens(run.model, ids, run.config.dims.seq_len, sample);
  if (!continuation.empty() && continuation.back() == sample.stop_token) continuation.pop_back();
  // Decoded together, so the word boundary between prompt and continuation survives.
  ids.insert(ids.end(), continuation.begin(), continuation.end());
  std::cout << tokenizer.decode(ids) << "\n";
  return 0;
}

}  // namespace lab::app
