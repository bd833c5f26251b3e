#include "command_line.hpp"
#include "commands.hpp"
#include "eval/length_eval.hpp"

#include <lab/error.hpp>

#include <boost/algorithm/string.hpp>

#include <cstdio>
#include <iostream>

namespace po = boost::program_options;

namespace lab::app {

namespace {

constexpr int64_t kMaxEvalLength = int64_t{1} << 20;

std::vector<int64_t> parse_lengths(const std::string& text) {
  std::vector<std::string> parts;
  boost::split(parts, text, boost::is_any_of(","));
  std::vector<int64_t> lengths;
  for (const auto& part : parts) {
    try {
      size_t used = 0;
      lengths.push_back(std::stoll(part, &used));
      if (used != part.size()) throw std::invalid_argument(part);
    } catch (const std::exception&) {
      throw InputError("--seq-len '" + text + "': '" + part + "' is not a whole number");
    }
    if (lengths.back() < 2 || lengths.back() > kMaxEvalLength)
      throw InputError("--seq-len '" + text + "': " + part + " is outside 2.." +
                       std::to_string(kMaxEvalLength));
  }
  return lengths;
}

}  // namespace

int run_eval(int argc, char** argv) {
  po::options_description opts("lab eval RUN_DIR [options]");
  opts.add_options()("help,h", "show this help")("run", po::value<std::string>(), "run folder")(
      "seq-len,n", po::value<std::string>(),
      "evaluation lengths, comma-separated (default: the training length)")(
      "batch-size", po::value<int64_t>()->default_value(0),
      "windows per batch (0: the run's eval.batch_size)")("max-batches",
                                                          po::value<int64_t>()->default_value(0),
                                                          "batches at most (0: the run's eval.max_batches)")(
      "plugin-path,P", po::value<std::vector<std::string>>()->composing(),
      "extra plugin folder (repeatable)");
  po::positional_options_description positional;
  positional.add("run", 1);
  auto vm = parse_command_line(argc, argv, opts, positional, "lab eval");
  if (vm.count("help")) {
    std::cout << opts << "\nWrites RUN_DIR/eval/seq_len-N.json for each length.\n";
    return 0;
  }
  if (!vm.count("run")) throw InputError("lab eval needs a RUN_DIR (see lab eval --help)");
  if (vm["batch-size"].as<int64_t>() < 0)
    throw InputError("--batch-size must not be negative (0: the run's)");
  if (vm["max-batches"].as<int64_t>() < 0)
    throw InputError("--max-batches must not be negative (0: the run's)");
  LoadedRun run = load_run(vm["run"].as<std::string>(), {{}, strings_of(vm, "plugin-path")});
  std::vector<int64_t> lengths = {run.config.dims.seq_len};
  if (vm.count("seq-len")) lengths = parse_lengths(vm["seq-len"].as<std::string>());
  auto results =
      evaluate_at_lengths(run, lengths, vm["batch-size"].as<int64_t>(), vm["max-batches"].as<int64_t>());
  std::printf("%s (trained at seq_len %lld, attention %s, rope %s)\n", run.dir.string().c_str(),
              static_cast<long long>(run.config.dims.seq_len), run.config.attention.plugin.c_str(),
              run.config.rope.plugin.c_str());
  std::printf("%8s  %9s  %9s  %11s  %10s\n", "seq_len", "val_loss", "accuracy", "perplexity", "tokens");
  for (const auto& e : results)
    std::printf("%8lld  %9.4f  %9.4f  %11.2f  %10lld\n", static_cast<long long>(e.seq_len), e.result.loss,
                e.result.accuracy, e.result.perplexity, static_cast<long long>(e.result.tokens));
  std::printf("written to %s\n", (run.dir / "eval").string().c_str());
  return 0;
}

}  // namespace lab::app
