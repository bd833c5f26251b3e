// What a run's audit says, for lab compare: epochs and data warnings from summary.json, the causality
// verdict from summary.json (the exact probe at the start of training) or, when present, audit.json
// (lab audit causality RUN_DIR: exact probe and learning check).
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace lab {

// Causality verdicts, best to worst.
constexpr const char* kAuditPass = "pass";                    // exact probe and learning check passed
constexpr const char* kAuditExactPass = "pass (exact only)";  // the exact probe passed; no learning check
constexpr const char* kAuditUnaudited = "unaudited";          // no causality probe recorded
constexpr const char* kAuditFail = "FAIL";                    // a causality check failed

struct AuditStatus {
  double epochs = -1;  // passes over the training tokens; -1 when the run did not record them
  std::vector<std::string> data_warnings;
  std::string causality = kAuditUnaudited;
  std::vector<std::string> failing;  // what failed the causality checks
};

AuditStatus read_audit_status(const nlohmann::json& summary, const std::filesystem::path& run_dir);

// The worse of two causality verdicts.
std::string worse_verdict(const std::string& a, const std::string& b);

}  // namespace lab
