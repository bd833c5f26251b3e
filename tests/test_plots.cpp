#include "run/plots.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class Plots : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lab-plots-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Training lines every 10 steps, validation every 50, with nested fields the plot ignores.
  void write_metrics(const fs::path& file, const std::string& extra_line = "") {
    std::ofstream out(file);
    for (int step = 10; step <= 200; step += 10) {
      out << "{\"step\": " << step << ", \"tokens\": " << step * 4096 << ", \"wall_s\": " << step * 0.37
          << ", \"lr\": 0.001, \"train_loss\": " << 8.0 / (1.0 + step / 50.0)
          << ", \"tokens_per_s\": 11000.5, \"peak_memory_mb\": 512.0, \"extra\": {\"aux_loss\": 0.01}";
      if (step % 50 == 0) {
        const double val = 8.2 / (1.0 + step / 50.0);
        out << ", \"val_loss\": " << val << ", \"val_accuracy\": " << 0.05 * step / 50.0
            << ", \"val_perplexity\": " << std::exp(val);
      }
      out << "}\n";
      if (step == 100 && !extra_line.empty()) out << extra_line << "\n";
    }
  }

  static bool is_png(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    char magic[8] = {};
    in.read(magic, 8);
    return in.gcount() == 8 && std::string(magic, 8) == std::string("\x89PNG\r\n\x1a\n", 8);
  }

  fs::path dir_;
};

}  // namespace

TEST_F(Plots, GnuplotWithPngcairoIsInstalled) {
  // gnuplot is a declared dependency; a missing one must fail here rather than skip the plots.
  ASSERT_TRUE(lab::gnuplot_available()) << "gnuplot with the pngcairo terminal is required";
}

TEST_F(Plots, MetricsProduceAPngWithItsDataAndScript) {
  ASSERT_TRUE(lab::gnuplot_available());
  const fs::path metrics = dir_ / "metrics.jsonl";
  write_metrics(metrics);
  const fs::path png = dir_ / "training_curves.png";
  ASSERT_TRUE(lab::plot_training_curves(metrics, png));
  ASSERT_TRUE(fs::exists(png));
  EXPECT_GT(fs::file_size(png), 1000u);
  EXPECT_TRUE(is_png(png));
  EXPECT_TRUE(fs::exists(dir_ / "training_curves.dat"));
  EXPECT_TRUE(fs::exists(dir_ / "training_curves.gp"));
}

TEST_F(Plots, MalformedLineWarnsWithPositionButGoodLinesStillPlot) {
  ASSERT_TRUE(lab::gnuplot_available());
  const fs::path metrics = dir_ / "metrics.jsonl";
  write_metrics(metrics, "{\"step\": 105, \"train_loss\": ");  // truncated, lands on line 11
  const fs::path png = dir_ / "curves.png";
  ::testing::internal::CaptureStderr();
  const bool ok = lab::plot_training_curves(metrics, png);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(ok) << err;
  EXPECT_NE(err.find(metrics.string() + ":11"), std::string::npos) << err;
  EXPECT_TRUE(is_png(png));
  // All twenty good training lines reach the data file.
  std::ifstream data(dir_ / "curves.dat");
  int train_rows = 0;
  for (std::string line; std::getline(data, line) && !line.empty();) {
    if (line[0] != '#') ++train_rows;
  }
  EXPECT_EQ(train_rows, 20);
}

TEST_F(Plots, RunWithoutValidationStillPlots) {
  ASSERT_TRUE(lab::gnuplot_available());
  const fs::path metrics = dir_ / "metrics.jsonl";
  {
    std::ofstream out(metrics);
    out << "{\"step\": 1, \"wall_s\": 0.5, \"train_loss\": 9.1}\n{\"step\": 2, \"wall_s\": 1.0, "
           "\"train_loss\": 8.7}\n";
  }
  const fs::path png = dir_ / "curves.png";
  EXPECT_TRUE(lab::plot_training_curves(metrics, png));
  EXPECT_TRUE(is_png(png));
}

TEST_F(Plots, PathsWithSpacesAndQuotesWork) {
  ASSERT_TRUE(lab::gnuplot_available());
  const fs::path sub = dir_ / "run 'one' $HOME";
  fs::create_directories(sub);
  write_metrics(sub / "metrics.jsonl");
  const fs::path png = sub / "training_curves.png";
  EXPECT_TRUE(lab::plot_training_curves(sub / "metrics.jsonl", png));
  EXPECT_TRUE(is_png(png));
}

TEST_F(Plots, MissingFileReturnsFalseWithoutThrowing) {
  ::testing::internal::CaptureStderr();
  bool ok = true;
  EXPECT_NO_THROW(ok = lab::plot_training_curves(dir_ / "absent.jsonl", dir_ / "out.png"));
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_FALSE(ok);
  EXPECT_NE(err.find("warning"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir_ / "out.png"));
}
