#include "compare/comparison.hpp"

#include "util/format.hpp"

#include <lab/error.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <set>

namespace lab {

namespace {

using Metric = std::function<double(const RunRecord&)>;

std::vector<double> values_of(const Comparison& c, const VariantResult& v, const Metric& metric) {
  std::vector<double> out;
  for (size_t i : v.runs) out.push_back(metric(c.records[i]));
  return out;
}

VersusBaseline versus(const std::vector<double>& mine, const std::vector<double>& base) {
  VersusBaseline vs;
  vs.difference = summarize(mine).mean - summarize(base).mean;
  vs.welch = welch_t_test(mine, base);
  vs.cohens_d = cohens_d(mine, base);
  return vs;
}

struct MetricSpec {
  const char* key;    // JSON / CSV name
  const char* title;  // table heading
  const char* format;
  bool lower_is_better;
  Summary VariantResult::*summary;
  std::optional<VersusBaseline> VariantResult::*vs;
};

const std::vector<MetricSpec>& quality_metrics() {
  static const std::vector<MetricSpec> specs = {
      {"val_loss", "val loss", "%.4f", true, &VariantResult::val_loss, &VariantResult::loss_vs_baseline},
      {"val_accuracy", "val accuracy", "%.4f", false, &VariantResult::val_accuracy,
       &VariantResult::accuracy_vs_baseline},
  };
  return specs;
}

// "m ± sd [lo, hi]", or "m (1 seed)" when no spread can be given.
std::string cell(const Summary& s, const char* format) {
  if (s.n == 0) return "n/a";
  if (!s.sd) return fmt(format, s.mean) + " (1 seed)";
  return fmt(format, s.mean) + " ± " + fmt(format, *s.sd) + " [" + fmt(format, s.mean - *s.ci95_half) + ", " +
         fmt(format, s.mean + *s.ci95_half) + "]";
}

// "p [lo, hi]" of a derived perplexity.
std::string cell(const DerivedPerplexity& p) {
  std::string text = fmt("%.2f", p.value);
  if (p.ci95_low && p.ci95_high)
    text += " [" + fmt("%.2f", *p.ci95_low) + ", " + fmt("%.2f", *p.ci95_high) + "]";
  return text;
}

std::string millions(int64_t n) { return fmt("%.3f", n / 1e6); }

std::string verdict(const VersusBaseline& vs, bool lower_is_better, double alpha) {
  if (!vs.welch) return "no test: needs at least 2 seeds on each side with some spread";
  if (vs.welch->p_value >= alpha) return "no significant difference";
  const bool better = lower_is_better ? vs.difference < 0 : vs.difference > 0;
  return std::string(better ? "better" : "worse") + ", significant at " + fmt("%g", alpha * 100) + "%";
}

nlohmann::json summary_json(const Summary& s) {
  nlohmann::json j = {{"n", s.n}, {"mean", s.mean}};
  j["sd"] = s.sd ? nlohmann::json(*s.sd) : nlohmann::json(nullptr);
  if (s.ci95_half)
    j["ci95"] = {s.mean - *s.ci95_half, s.mean + *s.ci95_half};
  else
    j["ci95"] = nullptr;
  return j;
}

nlohmann::json versus_json(const VersusBaseline& vs) {
  nlohmann::json j = {{"difference", vs.difference}};
  if (vs.welch) {
    j["welch_t"] = vs.welch->t;
    j["welch_df"] = vs.welch->df;
    j["p_value"] = vs.welch->p_value;
  } else {
    j["welch_t"] = j["welch_df"] = j["p_value"] = nullptr;
  }
  j["cohens_d"] = vs.cohens_d ? nlohmann::json(*vs.cohens_d) : nlohmann::json(nullptr);
  return j;
}

std::string csv_number(const std::optional<double>& v) { return v ? fmt("%.10g", *v) : ""; }

// Epochs, the worst causality verdict and every reason to distrust a variant, over its seeds.
void summarize_audit(const Comparison& c, VariantResult& v) {
  v.audit = kAuditPass;
  auto note = [&](const std::string& text) {
    if (std::find(v.audit_notes.begin(), v.audit_notes.end(), text) == v.audit_notes.end())
      v.audit_notes.push_back(text);
  };
  for (size_t i : v.runs) {
    const AuditStatus& a = c.records[i].audit;
    v.epochs = std::max(v.epochs, a.epochs);
    v.audit = worse_verdict(v.audit, a.causality);
    for (const auto& f : a.failing) note("causality check failed: " + f);
    for (const auto& w : a.data_warnings) note("data: " + w);
  }
}

std::string epochs_cell(double epochs) { return epochs < 0 ? "n/a" : fmt("%.2f", epochs); }

std::string audit_cell(const VariantResult& v) {
  const bool data_warned = std::any_of(v.audit_notes.begin(), v.audit_notes.end(),
                                       [](const std::string& n) { return n.rfind("data: ", 0) == 0; });
  const std::string verdict = v.audit == kAuditFail ? "**FAIL**" : v.audit;
  return verdict + (data_warned ? ", **data warning**" : "");
}

std::string audit_section(const Comparison& c) {
  std::string md = "\n## Audit\n\n";
  md +=
      "Causality: `pass` = `lab audit causality RUN_DIR` passed its exact probe and learning check; "
      "`pass (exact only)` = the exact probe every training run makes at its start passed; `unaudited` = "
      "no probe recorded (a run from before the audit, or `audit.causality = false`); `FAIL` = positions "
      "see later tokens, so the variant's figures are not a causal language model's. Epochs = passes over "
      "the training tokens; more than 5, validation text found in training or duplicate documents are "
      "data warnings. See docs/audit.md.\n\n";
  bool any = false;
  for (const auto& v : c.variants) {
    if (!v.flagged()) continue;
    any = true;
    md += "- **" + v.name + "** (" + v.audit + ")";
    for (const auto& n : v.audit_notes) md += "; " + n;
    md += "\n";
  }
  if (!any) md += "No variant is flagged.\n";
  return md;
}

}  // namespace

DerivedPerplexity perplexity_of(const Summary& val_loss) {
  DerivedPerplexity p;
  p.value = std::exp(val_loss.mean);
  if (val_loss.ci95_half) {
    p.ci95_low = std::exp(val_loss.mean - *val_loss.ci95_half);
    p.ci95_high = std::exp(val_loss.mean + *val_loss.ci95_half);
  }
  return p;
}

Comparison compare_runs(std::vector<RunRecord> records, const std::string& baseline) {
  Comparison c;
  c.records = std::move(records);
  std::set<std::string> experiments;
  for (const auto& r : c.records) experiments.insert(r.experiment);
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < c.records.size(); ++i) {
    const RunRecord& r = c.records[i];
    const std::string name = experiments.size() > 1 ? r.experiment + "/" + r.variant : r.variant;
    auto [it, fresh] = index.emplace(name, c.variants.size());
    if (fresh) c.variants.push_back(VariantResult{name});
    VariantResult& v = c.variants[it->second];
    v.runs.push_back(i);
    v.seeds.push_back(r.seed);
  }
  if (c.variants.empty()) throw InputError("compare: no finished runs");

  for (auto& v : c.variants) {
    v.val_loss = summarize(values_of(c, v, [](const RunRecord& r) { return r.val_loss; }));
    v.val_accuracy = summarize(values_of(c, v, [](const RunRecord& r) { return r.val_accuracy; }));
    v.val_perplexity = perplexity_of(v.val_loss);
    v.tokens_per_s = summarize(values_of(c, v, [](const RunRecord& r) { return r.tokens_per_s; }));
    v.wall_seconds = summarize(values_of(c, v, [](const RunRecord& r) { return r.wall_seconds; }));
    v.peak_memory_mb = summarize(values_of(c, v, [](const RunRecord& r) { return r.peak_memory_mb; }));
    v.params_total = c.records[v.runs.front()].params_total;
    v.params_active = c.records[v.runs.front()].params_active;
    summarize_audit(c, v);
  }

  auto named = [&](const std::string& name) {
    return std::find_if(c.variants.begin(), c.variants.end(), [&](const VariantResult& v) {
      return v.name == name ||
             (v.name.size() > name.size() &&
              v.name.compare(v.name.size() - name.size() - 1, std::string::npos, "/" + name) == 0);
    });
  };
  auto base = c.variants.begin();
  if (!baseline.empty()) {
    base = named(baseline);
    if (base == c.variants.end()) {
      std::string names;
      for (const auto& v : c.variants) names += (names.empty() ? "" : ", ") + v.name;
      throw InputError("--baseline " + baseline + ": no such variant (variants: " + names + ")");
    }
  } else if (named("baseline") != c.variants.end()) {
    base = named("baseline");
  }
  c.baseline = base->name;
  const VariantResult& b = *base;
  const std::vector<Metric> metrics = {[](const RunRecord& r) { return r.val_loss; },
                                       [](const RunRecord& r) { return r.val_accuracy; }};
  for (auto& v : c.variants) {
    if (v.name == c.baseline) continue;
    for (size_t m = 0; m < metrics.size(); ++m)
      v.*(quality_metrics()[m].vs) = versus(values_of(c, v, metrics[m]), values_of(c, b, metrics[m]));
  }
  c.best = std::min_element(c.variants.begin(), c.variants.end(), [](const auto& x, const auto& y) {
             return x.val_loss.mean < y.val_loss.mean;
           })->name;
  return c;
}

std::string comparison_markdown(const Comparison& c) {
  std::set<std::string> experiments;
  for (const auto& r : c.records) experiments.insert(r.experiment);
  std::string names;
  for (const auto& e : experiments) names += (names.empty() ? "" : ", ") + e;
  bool single_seed = false;
  for (const auto& v : c.variants) single_seed |= v.runs.size() < 2;

  std::string md = "# Comparison: " + names + "\n\n";
  md += std::to_string(c.records.size()) + " finished runs, " + std::to_string(c.variants.size()) +
        " variants. Cells read mean ± standard deviation over seeds [95% confidence interval of the mean, "
        "Student t]. Baseline: `" +
        c.baseline + "`.\n\n";
  if (single_seed)
    md +=
        "Variants marked (1 seed) ran one seed: no standard deviation, interval or test can be given "
        "for them. List more seeds in the recipe (`seeds = [1, 2, 3]`) and run `lab sweep` again.\n\n";

  md += "## Final validation metrics\n\n";
  md +=
      "| variant | seeds | val loss | val accuracy | val perplexity = exp(mean loss) | epochs | audit "
      "|\n|---|---|---|---|---|---|---|\n";
  for (const auto& v : c.variants) {
    std::string seeds;
    for (auto s : v.seeds) seeds += (seeds.empty() ? "" : ", ") + std::to_string(s);
    md += "| " + v.name + " | " + seeds + " | " + cell(v.val_loss, "%.4f") + " | " +
          cell(v.val_accuracy, "%.4f") + " | " + cell(v.val_perplexity) + " | " + epochs_cell(v.epochs) +
          " | " + audit_cell(v) + " |\n";
  }
  md += audit_section(c);
  md += "\n## Cost\n\n";
  md +=
      "| variant | params total (M) | params active (M) | tokens/s | wall time (s) | peak memory (MB) |\n"
      "|---|---|---|---|---|---|\n";
  for (const auto& v : c.variants)
    md += "| " + v.name + " | " + millions(v.params_total) + " | " + millions(v.params_active) + " | " +
          cell(v.tokens_per_s, "%.0f") + " | " + cell(v.wall_seconds, "%.1f") + " | " +
          cell(v.peak_memory_mb, "%.0f") + " |\n";

  md += "\n## Against the baseline (`" + c.baseline + "`)\n\n";
  md +=
      "Difference = variant mean - baseline mean; Welch's t-test (two-sided); Cohen's d with the pooled "
      "standard deviation. Perplexity is exp(loss), so the loss's test is its test too.\n\n";
  md +=
      "| variant | metric | difference | Welch t | df | p | Cohen's d | verdict (5%) |\n"
      "|---|---|---|---|---|---|---|---|\n";
  for (const auto& v : c.variants) {
    if (v.name == c.baseline) continue;
    for (const auto& m : quality_metrics()) {
      const VersusBaseline& vs = *(v.*(m.vs));
      md += "| " + v.name + " | " + m.title + " | " + fmt("%+.4f", vs.difference) + " | " +
            (vs.welch ? fmt("%.3f", vs.welch->t) + " | " + fmt("%.1f", vs.welch->df) + " | " +
                            fmt("%.3g", vs.welch->p_value)
                      : std::string("n/a | n/a | n/a")) +
            " | " + (vs.cohens_d ? fmt("%+.2f", *vs.cohens_d) : std::string("n/a")) + " | " +
            verdict(vs, m.lower_is_better, c.alpha) + " |\n";
    }
  }
  if (c.variants.size() < 2) md += "| (only one variant) | | | | | | | |\n";

  md += "\n## Best configuration\n\n";
  const auto best =
      std::find_if(c.variants.begin(), c.variants.end(), [&](const auto& v) { return v.name == c.best; });
  md += "Lowest mean validation loss: `" + c.best + "` (" + cell(best->val_loss, "%.4f") + "). ";
  if (c.best == c.baseline) {
    md += "That is the baseline itself.\n";
  } else {
    md += "Against the baseline: " + verdict(*best->loss_vs_baseline, true, c.alpha) + ".\n";
  }

  md += "\n## Parameter efficiency\n\n";
  md +=
      "Validation loss against active parameters per token (experts counted at top_k / experts); "
      "see parameter_efficiency.png.\n\n";
  md +=
      "| variant | params active (M) | val loss | loss change vs baseline | active params vs baseline |\n"
      "|---|---|---|---|---|\n";
  std::vector<const VariantResult*> by_size;
  for (const auto& v : c.variants) by_size.push_back(&v);
  std::stable_sort(by_size.begin(), by_size.end(),
                   [](auto* x, auto* y) { return x->params_active < y->params_active; });
  const auto base =
      std::find_if(c.variants.begin(), c.variants.end(), [&](const auto& v) { return v.name == c.baseline; });
  for (const auto* v : by_size)
    md += "| " + v->name + " | " + millions(v->params_active) + " | " + fmt("%.4f", v->val_loss.mean) +
          " | " + fmt("%+.4f", v->val_loss.mean - base->val_loss.mean) + " | " +
          fmt("%+.1f%%", 100.0 * (static_cast<double>(v->params_active) / base->params_active - 1)) + " |\n";
  return md;
}

std::string comparison_csv(const Comparison& c) {
  std::string csv = "variant,seeds";
  auto summary_heads = [&](const std::string& k) {
    csv += "," + k + "_mean," + k + "_sd," + k + "_ci95_low," + k + "_ci95_high";
  };
  for (const auto& m : quality_metrics()) summary_heads(m.key);
  csv += ",val_perplexity,val_perplexity_ci95_low,val_perplexity_ci95_high";
  csv += ",params_total,params_active";
  for (const char* k : {"tokens_per_s", "wall_seconds", "peak_memory_mb"}) summary_heads(k);
  for (const auto& m : quality_metrics())
    csv += std::string(",") + m.key + "_diff," + m.key + "_welch_t," + m.key + "_welch_df," + m.key + "_p," +
           m.key + "_cohens_d";
  csv += ",baseline,best,epochs,audit,audit_notes\n";
  auto summary_cells = [&](const Summary& s) {
    csv += "," + fmt("%.10g", s.mean) + "," + csv_number(s.sd) + "," +
           csv_number(s.ci95_half ? std::optional<double>(s.mean - *s.ci95_half) : std::nullopt) + "," +
           csv_number(s.ci95_half ? std::optional<double>(s.mean + *s.ci95_half) : std::nullopt);
  };
  for (const auto& v : c.variants) {
    csv += "\"" + v.name + "\"," + std::to_string(v.runs.size());
    for (const auto& m : quality_metrics()) summary_cells(v.*(m.summary));
    csv += "," + fmt("%.10g", v.val_perplexity.value) + "," + csv_number(v.val_perplexity.ci95_low) + "," +
           csv_number(v.val_perplexity.ci95_high);
    csv += "," + std::to_string(v.params_total) + "," + std::to_string(v.params_active);
    for (const Summary* s : {&v.tokens_per_s, &v.wall_seconds, &v.peak_memory_mb}) summary_cells(*s);
    for (const auto& m : quality_metrics()) {
      const auto& vs = v.*(m.vs);
      if (!vs) {
        csv += ",,,,,";
        continue;
      }
      csv += "," + fmt("%.10g", vs->difference);
      csv += "," + csv_number(vs->welch ? std::optional<double>(vs->welch->t) : std::nullopt);
      csv += "," + csv_number(vs->welch ? std::optional<double>(vs->welch->df) : std::nullopt);
      csv += "," + csv_number(vs->welch ? std::optional<double>(vs->welch->p_value) : std::nullopt);
      csv += "," + csv_number(vs->cohens_d);
    }
    std::string notes;
    for (const auto& n : v.audit_notes) notes += (notes.empty() ? "" : "; ") + n;
    std::replace(notes.begin(), notes.end(), '"', '\'');
    csv += std::string(",") + (v.name == c.baseline ? "true" : "false") + "," +
           (v.name == c.best ? "true" : "false") + "," + (v.epochs < 0 ? "" : fmt("%.10g", v.epochs)) + "," +
           v.audit + ",\"" + notes + "\"\n";
  }
  return csv;
}

nlohmann::json comparison_json(const Comparison& c) {
  nlohmann::json j = {{"baseline", c.baseline}, {"best", c.best}, {"alpha", c.alpha}, {"confidence", 0.95}};
  nlohmann::json variants = nlohmann::json::array();
  for (const auto& v : c.variants) {
    nlohmann::json runs = nlohmann::json::array();
    for (size_t i : v.runs) runs.push_back(c.records[i].dir.string());
    nlohmann::json item = {{"name", v.name},
                           {"seeds", v.seeds},
                           {"runs", runs},
                           {"params_total", v.params_total},
                           {"params_active", v.params_active},
                           {"tokens_per_s", summary_json(v.tokens_per_s)},
                           {"wall_seconds", summary_json(v.wall_seconds)},
                           {"peak_memory_mb", summary_json(v.peak_memory_mb)},
                           {"epochs", v.epochs < 0 ? nlohmann::json(nullptr) : nlohmann::json(v.epochs)},
                           {"audit", v.audit},
                           {"audit_notes", v.audit_notes},
                           {"flagged", v.flagged()}};
    nlohmann::json ppl = {{"value", v.val_perplexity.value}, {"derived_from", "val_loss"}};
    if (v.val_perplexity.ci95_low)
      ppl["ci95"] = {*v.val_perplexity.ci95_low, *v.val_perplexity.ci95_high};
    else
      ppl["ci95"] = nullptr;
    item["val_perplexity"] = ppl;
    for (const auto& m : quality_metrics()) {
      item[m.key] = summary_json(v.*(m.summary));
      if (v.*(m.vs)) item["vs_baseline"][m.key] = versus_json(*(v.*(m.vs)));
    }
    variants.push_back(item);
  }
  j["variants"] = variants;
  return j;
}

}  // namespace lab
