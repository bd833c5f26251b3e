#include "train/adamw.hpp"
#include "train/muon.hpp"
#include "train/optimizer.hpp"

#include <lab/error.hpp>

namespace lab {

std::unique_ptr<Optimizer> make_optimizer(const OptimizerSettings& settings,
                                          const std::vector<NamedParameter>& parameters) {
  if (settings.name == "adamw") return std::make_unique<AdamWOptimizer>(settings, settings.lr, parameters);
  if (settings.name == "muon") return std::make_unique<MuonOptimizer>(settings, parameters);
  throw InputError("unknown optimizer '" + settings.name + "' (valid choices: adamw, muon)");
}

}  // namespace lab
