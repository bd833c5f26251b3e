#include "audit/causality.hpp"

#include "util/format.hpp"

#include "audit/slot_probes.hpp"
#include "recipe/config.hpp"

#include <algorithm>
#include <cstdio>

namespace lab {

namespace {

SlotVerdict verdict(const std::string& slot, const std::string& plugin, const std::string& mode,
                    ChangeLog log) {
  return SlotVerdict{slot, plugin, mode, std::move(log)};
}

nlohmann::json measurement_json(const Measurement& m) {
  return {{"what", m.what},
          {"where", m.where},
          {"change", m.change},
          {"tolerance", m.tolerance},
          {"must_be_zero", m.must_be_zero}};
}

std::string label(const SlotVerdict& v) { return v.mode.empty() ? v.plugin : v.plugin + " [" + v.mode + "]"; }

std::string exact_line(const SlotVerdict& v) {
  char head[96];
  std::snprintf(head, sizeof head, "  %-10s %-24s ", v.slot.c_str(), label(v).c_str());
  const std::string probes = std::to_string(v.log.probes()) + " probes";
  if (v.passed()) {
    const Measurement& w = v.log.worst();
    return std::string(head) + "PASS  max change before j " + fmt("%.3g", w.change) + " (" + w.what +
           ", tolerance " + fmt("%.2g", w.tolerance) + "), " + probes + "\n";
  }
  std::string text = std::string(head) + "FAIL  " + probes + "\n";
  for (const auto& f : v.log.failures())
    text += "             " + f.what + (f.must_be_zero ? " is " : " changed by ") + fmt("%.3g", f.change) +
            (f.must_be_zero ? ", must be 0" : "") + " (tolerance " + fmt("%.2g", f.tolerance) + ") at " +
            f.where + "\n";
  return text;
}

std::string learning_line(const LearningResult& r) {
  char head[96];
  std::snprintf(head, sizeof head, "  %-10s %-24s ", "model",
                (r.mode.empty() ? std::string("all plugins") : "all plugins [" + r.mode + "]").c_str());
  return std::string(head) + (r.passed() ? "PASS" : "FAIL") + "  val loss " + fmt("%.4f", r.val_loss) +
         " ± " + fmt("%.4f", r.val_loss_se) + " vs ln V = " + fmt("%.4f", r.uniform) + " (fail below " +
         fmt("%.4f", r.uniform - kLearningMargin) + "), accuracy " + fmt("%.3f", r.accuracy) +
         " vs 1/V = " + fmt("%.3f", 1.0 / static_cast<double>(r.vocab)) + ", " + std::to_string(r.steps) +
         " steps, " + std::to_string(r.val_tokens) + " validation tokens\n";
}

}  // namespace

bool CausalityAudit::exact_passed() const {
  return std::all_of(exact.begin(), exact.end(), [](const SlotVerdict& v) { return v.passed(); });
}

bool CausalityAudit::learning_passed() const {
  return std::all_of(learning.begin(), learning.end(), [](const LearningResult& r) { return r.passed(); });
}

std::vector<std::string> sparse_modes(const Config& config) {
  std::vector<std::string> modes;
  if (config.sparse.descriptor)
    for (const auto& stage : config.train.stages)
      if (std::find(modes.begin(), modes.end(), stage.mode) == modes.end()) modes.push_back(stage.mode);
  if (modes.empty()) modes.push_back("");
  return modes;
}

std::vector<SlotVerdict> exact_checks(const Config& config, const ProbePlan& plan,
                                      const ModelFactory& trained) {
  OneThread one_thread;
  std::vector<SlotVerdict> out;
  out.push_back(verdict("attention", config.attention.plugin, "", probe_attention(config, plan)));
  out.push_back(verdict("kernel", config.kernel.plugin, "", probe_kernel(config, plan)));
  out.push_back(verdict("rope", config.rope.plugin, "", probe_rope(config, plan)));
  out.push_back(verdict("router", config.router.plugin, "", probe_router(config, plan)));
  const auto modes = sparse_modes(config);
  if (config.sparse.descriptor)
    for (const auto& mode : modes)
      out.push_back(verdict("sparse", config.sparse.plugin, mode, probe_sparse(config, mode, plan)));
  const ModelFactory fresh = [&](size_t init) {
    seed_probe(init, 98);
    LanguageModel model(config);
    model->initialize(plan.init_stds[init]);
    return model;
  };
  for (const auto& mode : modes)
    out.push_back(verdict("model", "all plugins", mode,
                          probe_model(fresh, config.dims.vocab_size, config.dims.seq_len, mode, plan)));
  if (trained) {
    ProbePlan once = plan;
    once.init_stds.resize(1);
    for (const auto& mode : modes)
      out.push_back(verdict("trained", "run weights", mode,
                            probe_model(trained, config.dims.vocab_size, config.dims.seq_len, mode, once)));
  }
  return out;
}

std::vector<std::string> shape_lines(const ProbeShape& shape) {
  std::vector<std::string> lines;
  for (const auto& change : shape.changes) lines.push_back(change + " (smaller probe)");
  for (const auto& kept : shape.kept) lines.push_back(kept + " kept (the plugins refuse less)");
  return lines;
}

nlohmann::json causality_json(const CausalityAudit& a) {
  nlohmann::json exact = nlohmann::json::array();
  for (const auto& v : a.exact) {
    nlohmann::json failures = nlohmann::json::array(), notes = nlohmann::json::array();
    for (const auto& f : v.log.failures()) failures.push_back(measurement_json(f));
    for (const auto& n : v.log.notes())
      notes.push_back({{"what", n.what}, {"where", n.where}, {"change", n.change}});
    exact.push_back({{"slot", v.slot},
                     {"plugin", v.plugin},
                     {"mode", v.mode},
                     {"passed", v.passed()},
                     {"probes", v.log.probes()},
                     {"worst", measurement_json(v.log.worst())},
                     {"failures", failures},
                     {"notes", notes}});
  }
  nlohmann::json learning = nlohmann::json::array();
  for (const auto& r : a.learning) learning.push_back(learning_json(r));
  return {{"passed", a.passed()},
          {"shape", a.shape},
          {"exact", exact},
          {"learning", learning},
          {"status", causality_status(a)}};
}

std::string causality_text(const CausalityAudit& a) {
  std::string text;
  for (const auto& s : a.shape) text += "shape: " + s + "\n";
  text += "exact check (a): change the input at position j; nothing before j may move\n";
  for (const auto& v : a.exact) text += exact_line(v);
  for (const auto& v : a.exact)
    for (const auto& n : v.log.notes())
      text += "  note: " + v.slot + " " + label(v) + ": " + n.what + " changed by up to " +
              fmt("%.3g", n.change) + " (not judged)\n";
  if (!a.learning.empty()) {
    text += "learning check (b): train on independent uniform tokens; no causal model beats ln V\n";
    for (const auto& r : a.learning) text += learning_line(r);
  }
  text += std::string("causality: ") + (a.passed() ? "PASS" : "FAIL") + "\n";
  return text;
}

nlohmann::json causality_status(const CausalityAudit& a) {
  nlohmann::json failing = nlohmann::json::array();
  for (const auto& v : a.exact)
    if (!v.passed()) failing.push_back(v.slot + " " + label(v));
  return {{"exact", a.exact_passed() ? "pass" : "fail"},
          {"learning", a.learning.empty() ? "not run" : (a.learning_passed() ? "pass" : "fail")},
          {"failing", failing}};
}

}  // namespace lab
