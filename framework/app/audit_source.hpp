// What `lab audit` reads: a recipe (--recipe FILE or a positional FILE) or a run folder (RUN_DIR).
#pragma once

#include "recipe/recipe.hpp"

#include <boost/program_options.hpp>

#include <filesystem>
#include <string>

namespace lab::app {

struct AuditSource {
  Recipe recipe = Recipe::empty();
  std::filesystem::path run_dir;  // empty for a recipe
  bool is_run() const { return !run_dir.empty(); }
};

// The options every audit command shares: --recipe, a positional source, --set, --plugin-path, --json.
void add_source_options(boost::program_options::options_description& opts,
                        boost::program_options::positional_options_description& positional);

// A run folder is one holding recipe.resolved.toml; --set overrides apply to either.
AuditSource audit_source(const boost::program_options::variables_map& vm, const std::string& command);

}  // namespace lab::app
