// lab audit data: split sizes, validation text found in training, duplicates and epochs of a recipe.
#include "audit_source.hpp"
#include "command_line.hpp"
#include "commands.hpp"

#include "audit/data_audit.hpp"
#include "data/corpus.hpp"
#include "registry/registry.hpp"
#include "run/load_run.hpp"

#include <lab/error.hpp>

#include <iostream>

namespace po = boost::program_options;

namespace lab::app {

namespace {

const char* kDataHelp =
    "\nBuilds the recipe's corpus as training does (split, tokenizer) and reports the documents and\n"
    "tokens on each side, the share of validation 8- and 13-grams that occur in training (beside the\n"
    "share between two halves of the training documents, the corpus's own repetition), validation\n"
    "documents that are exact copies of training documents, and the passes over the training tokens\n"
    "the recipe makes. Warns (exit status 1) on any copy, an overlap more than 5 points above the\n"
    "corpus's own, or more than 5 epochs. See docs/audit.md.\n";

}  // namespace

int run_audit_data(int argc, char** argv) {
  po::options_description opts("lab audit data (--recipe FILE | RUN_DIR) [options]");
  po::positional_options_description positional;
  add_source_options(opts, positional);
  auto vm = parse_command_line(argc, argv, opts, positional, "lab audit data");
  if (vm.count("help")) {
    std::cout << opts << kDataHelp;
    return 0;
  }
  const AuditSource source = audit_source(vm, "lab audit data");
  PluginRegistry registry;
  Config config = resolve_config(source.recipe, strings_of(vm, "plugin-path"), registry);
  // A run's data paths were relative to the recipe it was trained from, which its summary names.
  if (source.is_run()) config.recipe_file = run_recipe_file(source.run_dir, config.recipe_file);
  auto dataset = config.dataset.descriptor->make_dataset(config.dataset.options,
                                                         DatasetContext{config.recipe_file.parent_path()});
  const Corpus corpus = prepare_corpus(*dataset, config.data, default_cache_dir(config.data.tokenizer_cache));
  const DataAudit audit = audit_data(corpus, config);
  if (vm.count("json"))
    std::cout << data_audit_json(audit).dump(2) << "\n";
  else
    std::cout << "lab audit data: " << dataset->describe() << "\n" << data_audit_text(audit);
  return audit.passed() ? 0 : 1;
}

}  // namespace lab::app
