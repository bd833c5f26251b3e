#include "compare/audit_status.hpp"

#include "run/files.hpp"

#include <algorithm>
#include <array>

namespace lab {

namespace fs = std::filesystem;

namespace {

int rank(const std::string& verdict) {
  static const std::array<const char*, 4> order = {kAuditPass, kAuditExactPass, kAuditUnaudited, kAuditFail};
  for (size_t n = 0; n < order.size(); ++n)
    if (verdict == order[n]) return static_cast<int>(n);
  return 2;
}

// {"exact": ..., "learning": ..., "failing": [...]} -> a verdict.
std::string verdict_of(const nlohmann::json& status, std::vector<std::string>& failing) {
  const std::string exact = status.value("exact", "not run"), learning = status.value("learning", "not run");
  if (status.contains("failing"))
    for (const auto& f : status["failing"]) failing.push_back(f.get<std::string>());
  if (exact == "fail" || learning == "fail") {
    if (learning == "fail") failing.push_back("learning check");
    return kAuditFail;
  }
  if (exact != "pass") return kAuditUnaudited;
  return learning == "pass" ? kAuditPass : kAuditExactPass;
}

}  // namespace

AuditStatus read_audit_status(const nlohmann::json& summary, const fs::path& run_dir) {
  AuditStatus s;
  const nlohmann::json audit = summary.value("audit", nlohmann::json::object());
  if (audit.contains("data")) {
    s.epochs = audit["data"].value("epochs", -1.0);
    for (const auto& w : audit["data"].value("warnings", nlohmann::json::array()))
      s.data_warnings.push_back(w.get<std::string>());
  }
  if (audit.contains("causality")) s.causality = verdict_of(audit["causality"], s.failing);
  // A full audit of the run folder replaces the quick probe's verdict.
  if (fs::exists(run_dir / "audit.json")) {
    const nlohmann::json full = read_json(run_dir / "audit.json");
    if (full.contains("causality") && full["causality"].contains("status")) {
      s.failing.clear();
      s.causality = verdict_of(full["causality"]["status"], s.failing);
    }
  }
  return s;
}

std::string worse_verdict(const std::string& a, const std::string& b) { return rank(a) >= rank(b) ? a : b; }

}  // namespace lab
