// lab runs on the OpenBLAS kernels its processor allows, and never overrides OPENBLAS_CORETYPE.
#include "test_support.hpp"
#include "util/blas_core.hpp"

#include <gtest/gtest.h>

#include <regex>

namespace {

struct Reported {
  std::string core, processor;
};

// What `lab --version` says of the BLAS it ended up on.
Reported reported_by(const std::string& output) {
  std::smatch m;
  static const std::regex line("OpenBLAS core (\\S+) \\(processor: (\\w+)");
  if (!std::regex_search(output, m, line)) return {};
  return {m[1], m[2]};
}

}  // namespace

TEST(BlasCore, RanksOpenBlasCoresByTheirInstructionSets) {
  EXPECT_LT(lab::core_rank("Prescott"), lab::core_rank("Sandybridge"));
  EXPECT_LT(lab::core_rank("Sandybridge"), lab::core_rank("Haswell"));
  EXPECT_LT(lab::core_rank("Haswell"), lab::core_rank("SkylakeX"));
  EXPECT_LT(lab::core_rank("SkylakeX"), lab::core_rank("Cooperlake"));
  EXPECT_EQ(lab::core_rank("cooperlake"), lab::core_rank("COOPERLAKE"));
  EXPECT_EQ(lab::core_rank("Zen"), lab::core_rank("Haswell"));
  EXPECT_EQ(lab::core_rank("NoSuchCore"), -1);
  const std::string processor = lab::processor_core();
  if (!processor.empty()) EXPECT_GE(lab::core_rank(processor), 1) << processor;
}

TEST(BlasCore, LabEndsUpOnACoreNoOlderThanTheProcessorAllows) {
  auto o = lab::test::run_command("env -u OPENBLAS_CORETYPE " + std::string(LAB_PROGRAM) + " --version 2>&1");
  ASSERT_EQ(o.code, 0) << o.output;
  const Reported r = reported_by(o.output);
  if (r.core.empty()) GTEST_SKIP() << "the BLAS is not OpenBLAS: " << o.output;
  ASSERT_GE(lab::core_rank(r.processor), 0) << o.output;
  EXPECT_GE(lab::core_rank(r.core), lab::core_rank(r.processor)) << o.output;
  // A restart says so in one line, and lands where it said.
  const auto at = o.output.find("restarting with OPENBLAS_CORETYPE=");
  if (at != std::string::npos) EXPECT_NE(o.output.find("OPENBLAS_CORETYPE=" + r.core), std::string::npos);
}

TEST(BlasCore, NeverOverridesACoreSomeoneChose) {
  auto o =
      lab::test::run_command("OPENBLAS_CORETYPE=Prescott " + std::string(LAB_PROGRAM) + " --version 2>&1");
  ASSERT_EQ(o.code, 0) << o.output;
  const Reported r = reported_by(o.output);
  if (r.core.empty()) GTEST_SKIP() << "the BLAS is not OpenBLAS: " << o.output;
  EXPECT_EQ(lab::core_rank(r.core), lab::core_rank("Prescott")) << o.output;
  EXPECT_EQ(o.output.find("restarting"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("OPENBLAS_CORETYPE=Prescott"), std::string::npos) << o.output;
}
