// The flash2 CUDA kernels compile with nvcc on machines without a GPU (skipped when nvcc is absent).
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace {

namespace fs = std::filesystem;

std::string find_nvcc() {
  if (const char* home = std::getenv("CUDA_HOME"); home && fs::exists(fs::path(home) / "bin/nvcc"))
    return (fs::path(home) / "bin/nvcc").string();
  if (std::system("command -v nvcc >/dev/null 2>&1") == 0) return "nvcc";
  if (fs::exists("/usr/local/cuda/bin/nvcc")) return "/usr/local/cuda/bin/nvcc";
  return "";
}

}  // namespace

TEST(Flash2Cuda, KernelSourcesCompileWithNvcc) {
  const std::string nvcc = find_nvcc();
  if (nvcc.empty()) GTEST_SKIP() << "nvcc not found (set CUDA_HOME or put nvcc on PATH)";
  const fs::path source =
      fs::path(LAB_TEST_DATA_DIR).parent_path().parent_path() / "plugins/flash2/cuda/flash2_kernels.cu";
  ASSERT_TRUE(fs::exists(source)) << source;
  const fs::path object = lab::test::temp_dir("nvcc") / "flash2_kernels.o";
  const std::string command =
      nvcc + " -std=c++17 -arch=sm_80 -O2 -c '" + source.string() + "' -o '" + object.string() + "' 2>&1";
  const auto run = lab::test::run_command(command);
  EXPECT_EQ(run.code, 0) << run.output;
  EXPECT_TRUE(fs::exists(object) && fs::file_size(object) > 0) << run.output;
  fs::remove_all(object.parent_path());
}
