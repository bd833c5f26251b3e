#include "audit/run_audit.hpp"

#include "util/format.hpp"

#include "audit/causality.hpp"
#include "audit/data_audit.hpp"
#include "audit/probe_config.hpp"
#include "recipe/config.hpp"

#include <cstdio>

namespace lab {

RunAudit audit_run(const Config& config, const Corpus& corpus) {
  RunAudit run;
  const DataAudit data = audit_data(corpus, config);
  run.json["data"] = data_audit_json(data);
  for (const auto& w : data.warnings) run.warnings.push_back("data audit: " + w);
  run.line = "audit: " + fmt("%.2f", data.epochs) + " epochs, " +
             fmt("%.1f%%", 100.0 * data.overlaps.back().val_in_train) + " of validation " +
             std::to_string(data.overlaps.back().n) + "-grams in training, " +
             std::to_string(data.duplicate_val_documents) + " duplicate documents";
  if (!config.audit_causality) {
    run.json["causality"] = {
        {"exact", "not run"}, {"learning", "not run"}, {"failing", nlohmann::json::array()}};
    run.line += " | causality probe off (audit.causality = false)";
    return run;
  }
  Config probe = config;
  CausalityAudit audit;
  audit.shape = shape_lines(shrink_for_probe(probe));
  audit.exact = exact_checks(probe, ProbePlan::quick(probe.dims.seq_len, probe.init_std));
  run.json["causality"] = causality_status(audit);
  run.json["causality"]["probes"] = audit.exact.empty() ? 0 : audit.exact.front().log.probes();
  run.json["causality"]["shape"] = audit.shape;
  if (audit.exact_passed()) {
    run.line += " | causality: exact check passed";
  } else {
    std::string failing;
    for (const auto& name : run.json["causality"]["failing"])
      failing += (failing.empty() ? "" : ", ") + name.get<std::string>();
    run.line += " | causality: exact check FAILED";
    run.warnings.push_back("causality probe FAILED (" + failing +
                           "): positions see later tokens, so this run's validation figures are not a "
                           "causal model's; run lab audit causality for the evidence");
  }
  return run;
}

}  // namespace lab
