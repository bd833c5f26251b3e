// lab report / lab compare's report.html, loaded from file:// by headless Chromium: every table, chart
// and picture is in the rendered page with the expected numbers; without uPlot the page says so.
#include "report/html.hpp"
#include "run/plots.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <regex>

using namespace lab;
namespace fs = std::filesystem;

namespace {

// A finished run with the files the report reads; losses fall by 1 per evaluation to `final_loss`.
void fake_run(const fs::path& exp, const std::string& variant, int64_t seed, double final_loss) {
  const fs::path dir = exp / variant / ("seed-" + std::to_string(seed));
  fs::create_directories(dir);
  nlohmann::json summary = {{"experiment", "exp"},
                            {"variant", variant},
                            {"seed", seed},
                            {"final",
                             {{"val_loss", final_loss},
                              {"val_accuracy", 0.5 - final_loss / 20},
                              {"val_perplexity", std::exp(final_loss)}}},
                            {"parameters", {{"total", 123456}, {"active_per_token", 65432}}},
                            {"tokens_per_s", 1000.0 * seed},
                            {"wall_seconds", 10.0 + seed},
                            {"peak_memory_mb", 300.0}};
  std::ofstream(dir / "summary.json") << summary.dump();
  std::ofstream(dir / "recipe.resolved.toml")
      << "[model]\nd_model = 64\n[experiment]\nvariant = \"" << variant << "\"\n";
  std::ofstream metrics(dir / "metrics.jsonl");
  for (int step = 10; step <= 30; step += 10) {
    const double loss = final_loss + (30 - step) / 10.0;
    metrics << nlohmann::json{{"step", step},
                              {"wall_s", step * 0.5},
                              {"train_loss", loss + 0.25},
                              {"val_loss", loss},
                              {"val_accuracy", 0.5 - loss / 20}}
                   .dump()
            << "\n";
  }
  metrics.close();
  if (gnuplot_available()) {
    fs::create_directories(dir / "plots");
    plot_training_curves(dir / "metrics.jsonl", dir / "plots" / "training_curves.png");
  }
}

std::string chromium() {
  for (const char* name : {"chromium", "chromium-headless-shell", "chromium-browser"})
    if (test::run_command(std::string("command -v ") + name + " >/dev/null 2>&1").code == 0) return name;
  return "";
}

std::string browser(const std::string& program, const fs::path& profile, const std::string& what) {
  return program +
         " --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update"
         " --disable-sync --no-first-run --user-data-dir='" +
         profile.string() + "' " + what;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST(Report, Base64AndEscaping) {
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(base64("f"), "Zg==");
  EXPECT_EQ(base64("fo"), "Zm8=");
  EXPECT_EQ(base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(html_escape("<a href=\"x\">&</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;");
  EXPECT_EQ(script_safe("x</script>"), "x<\\/script>");
  EXPECT_NE(markdown_to_html("| a | b |\n|---|---|\n| 1 | 2 |\n").find("<td>2</td>"), std::string::npos);
}

TEST(Report, ChromiumShowsEveryTableChartAndPicture) {
  const std::string program = chromium();
  if (program.empty()) GTEST_SKIP() << "chromium is not installed (scripts/setup.sh installs it)";
  const fs::path root = test::temp_dir("report");
  fake_run(root / "exp", "baseline", 1, 2.5);
  fake_run(root / "exp", "baseline", 2, 3.5);
  fake_run(root / "exp", "wide", 1, 2.0);
  fake_run(root / "exp", "wide", 2, 2.2);
  auto compared = test::run_lab("compare " + (root / "exp").string());
  ASSERT_EQ(compared.code, 0) << compared.output;
  const fs::path page = root / "exp" / "comparison" / "report.html";
  ASSERT_TRUE(fs::exists(page));
  const std::string html = read_file(page);
  EXPECT_EQ(html.find("src=\"http"), std::string::npos);  // nothing to fetch: it opens offline
  EXPECT_EQ(html.find("href=\"http"), std::string::npos);

  auto dom = test::run_command(
      browser(program, root / "profile", "--dump-dom 'file://" + page.string() + "'") + " 2>/dev/null");
  ASSERT_EQ(dom.code, 0);
  const std::string& d = dom.output;
  // Three charts drawn by uPlot, each with its variants' final means and the seeds' range.
  EXPECT_NE(d.find("id=\"charts\" data-rendered=\"3\""), std::string::npos) << d.substr(0, 3000);
  EXPECT_EQ(count(d, "class=\"chart\""), 3u);
  EXPECT_GE(count(d, "<canvas"), 3u);
  EXPECT_GE(count(d, "class=\"uplot"), 3u);
  EXPECT_NE(
      d.find("final validation loss: baseline 3.0000 [2.5000, 3.5000] over 2 seeds at step 30; wide 2.1000 "
             "[2.0000, 2.2000] over 2 seeds at step 30"),
      std::string::npos);
  EXPECT_NE(d.find("baseline 3.2500 [2.7500, 3.7500] over 2 seeds"), std::string::npos);  // training loss
  // The comparison's tables (final metrics, cost, tests, efficiency) and the runs table.
  EXPECT_GE(count(d, "<table"), 5u);
  EXPECT_NE(d.find("3.0000 ± 0.7071"), std::string::npos);
  EXPECT_NE(d.find("Welch"), std::string::npos);
  EXPECT_NE(d.find("<td>wide</td><td>2</td><td>2.2000</td>"), std::string::npos);
  EXPECT_NE(d.find("<td>123456</td><td>65432</td>"), std::string::npos);
  EXPECT_EQ(count(d, "<details class=\"recipe\">"), 4u);
  EXPECT_NE(d.find("d_model = 64"), std::string::npos);
  if (gnuplot_available()) EXPECT_GE(count(d, "src=\"data:image/png;base64,"), 5u);  // 4 runs + comparison

  const fs::path shot = root / "report.png";
  auto taken = test::run_command(
      browser(program, root / "profile2",
              "--screenshot='" + shot.string() + "' --window-size=1280,2000 'file://" + page.string() + "'") +
      " >/dev/null 2>&1");
  EXPECT_EQ(taken.code, 0);
  ASSERT_TRUE(fs::exists(shot));
  EXPECT_GT(fs::file_size(shot), 20000u);
  std::printf("report screenshot: %s\n", shot.string().c_str());
}

TEST(Report, OneRunAndAPageWithoutTheChartLibrary) {
  const fs::path root = test::temp_dir("report-plain");
  fake_run(root / "exp", "baseline", 1, 2.5);
  const fs::path run = root / "exp" / "baseline" / "seed-1";
  auto o = test::run_lab("report " + run.string());
  ASSERT_EQ(o.code, 0) << o.output;
  EXPECT_NE(read_file(run / "report.html").find("<div id=\"charts\">"), std::string::npos);
  auto plain =
      test::run_command("LAB_UPLOT_DIR=" + (root / "none").string() + " " + LAB_PROGRAM + " report " +
                        run.string() + " --out " + (root / "plain.html").string() + " 2>&1");
  ASSERT_EQ(plain.code, 0) << plain.output;
  EXPECT_NE(plain.output.find("lab: warning: uPlot not found"), std::string::npos) << plain.output;
  const std::string html = read_file(root / "plain.html");
  EXPECT_NE(html.find("class=\"no-charts\">Charts unavailable"), std::string::npos);
  EXPECT_EQ(html.find("id=\"charts\""), std::string::npos);
  EXPECT_NE(html.find("<table id=\"runs\">"), std::string::npos);
  EXPECT_EQ(test::run_lab("report " + (root / "missing").string()).code, 2);
}
