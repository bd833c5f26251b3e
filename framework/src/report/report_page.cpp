#include "report/report_page.hpp"

#include "util/format.hpp"

#include "report/chart_script.hpp"
#include "report/curves.hpp"
#include "report/html.hpp"
#include "run/files.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

namespace lab {

namespace fs = std::filesystem;

namespace {

const char* kStyle = R"css(
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .6em 0; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .5em; text-align: left; }
th { background: #f2f2f2; } tr:nth-child(even) td { background: #fafafa; }
pre { background: #f6f6f6; padding: .6em; overflow-x: auto; font-size: .85em; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
.chart { margin: 1em 0; } .chart-final { font-size: .85em; color: #444; }
.no-charts { background: #fff3cd; border: 1px solid #e0c060; padding: .6em; }
.meta { color: #555; }
)css";

std::string now_text() {
  const std::time_t t = std::time(nullptr);
  char text[64];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S %Z", std::localtime(&t));
  return text;
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string cell(const std::string& text) { return "<td>" + html_escape(text) + "</td>"; }

std::string runs_table(const Comparison& c) {
  std::string html =
      "<table id=\"runs\"><thead><tr><th>experiment</th><th>variant</th><th>seed</th><th>val loss</th>"
      "<th>val accuracy</th><th>val perplexity</th><th>params total</th><th>params active</th>"
      "<th>tokens/s</th><th>wall time (s)</th><th>peak memory (MB)</th><th>folder</th></tr></thead><tbody>\n";
  for (const auto& r : c.records)
    html += "<tr>" + cell(r.experiment) + cell(r.variant) + cell(std::to_string(r.seed)) +
            cell(fmt("%.4f", r.val_loss)) + cell(fmt("%.4f", r.val_accuracy)) +
            cell(fmt("%.2f", r.val_perplexity)) + cell(std::to_string(r.params_total)) +
            cell(std::to_string(r.params_active)) + cell(fmt("%.0f", r.tokens_per_s)) +
            cell(fmt("%.1f", r.wall_seconds)) + cell(fmt("%.0f", r.peak_memory_mb)) + cell(r.dir.string()) +
            "</tr>\n";
  return html + "</tbody></table>\n";
}

std::string recipes(const Comparison& c) {
  std::string html;
  for (const auto& r : c.records) {
    const fs::path file = r.dir / "recipe.resolved.toml";
    if (!fs::exists(file)) continue;
    html += "<details class=\"recipe\"><summary>" +
            html_escape(r.variant + " seed " + std::to_string(r.seed)) + "</summary><pre>" +
            html_escape(read_text(file)) + "</pre></details>\n";
  }
  return html.empty() ? "<p>No resolved recipes were found.</p>\n" : html;
}

std::string pictures(const ReportInputs& in) {
  std::string html;
  for (const auto& png : in.pictures) {
    const std::string caption = fs::relative(png, in.base).string();
    html += "<figure><img alt=\"" + html_escape(caption) + "\" src=\"" + png_data_url(png) +
            "\"><figcaption>" + html_escape(caption) + "</figcaption></figure>\n";
  }
  return html.empty() ? "<p>No pictures were found.</p>\n" : html;
}

std::string charts(const Comparison& c, const ReportInputs& in) {
  if (!in.charts) {
    std::string looked;
    for (const auto& d : in.looked) looked += (looked.empty() ? "" : ", ") + d.string();
    return "<p class=\"no-charts\">Charts unavailable: the uPlot library was not found (looked in " +
           html_escape(looked) +
           "; scripts/setup.sh installs it). The tables and pictures below are complete.</p>\n";
  }
  return "<div id=\"charts\"></div>\n<script id=\"lab-charts\" type=\"application/json\">" +
         script_safe(curve_charts(c).dump()) + "</script>\n<script>" + in.charts->js + "</script>\n<script>" +
         kChartScript + "</script>\n";
}

// comparison.md without its title: the page has its own.
std::string comparison_tables(const Comparison& c) {
  std::string md = comparison_markdown(c);
  if (md.rfind("# ", 0) == 0) md = md.substr(md.find('\n') + 1);
  return markdown_to_html(md);
}

}  // namespace

std::string report_page(const Comparison& c, const ReportInputs& in) {
  std::set<std::string> experiments;
  for (const auto& r : c.records) experiments.insert(r.experiment);
  std::string names;
  for (const auto& e : experiments) names += (names.empty() ? "" : ", ") + e;
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>lab report: " +
                     html_escape(names) + "</title>\n<style>" + (in.charts ? in.charts->css : "") + kStyle +
                     "</style></head><body>\n";
  html += "<h1>lab report: " + html_escape(names) + "</h1>\n<p class=\"meta\">" +
          std::to_string(c.records.size()) + " finished runs, " + std::to_string(c.variants.size()) +
          " variants, baseline <code>" + html_escape(c.baseline) + "</code>; generated " + now_text() +
          ".</p>\n";
  html +=
      "<section id=\"curves\"><h2>Training curves</h2>\n<p>Lines: the mean over seeds; dashed lines and "
      "band: the seeds' minimum and maximum.</p>\n" +
      charts(c, in) + "</section>\n";
  html += "<section id=\"comparison\"><h2>Comparison</h2>\n" + comparison_tables(c) + "</section>\n";
  html += "<section id=\"runs-section\"><h2>Runs</h2>\n" + runs_table(c) + "</section>\n";
  html += "<section id=\"pictures\"><h2>Pictures</h2>\n" + pictures(in) + "</section>\n";
  html += "<section id=\"recipes\"><h2>Resolved recipes</h2>\n" + recipes(c) + "</section>\n";
  return html + "</body></html>\n";
}

std::vector<fs::path> find_pictures(const std::vector<fs::path>& roots) {
  std::set<fs::path> found;
  for (const auto& root : roots) {
    if (!fs::is_directory(root)) continue;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
      const std::string name = it->path().filename().string();
      if (it->is_directory() && (name == "checkpoint" || name == "tb")) {
        it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file() && it->path().extension() == ".png")
        found.insert(fs::weakly_canonical(it->path()));
    }
  }
  return {found.begin(), found.end()};
}

void write_report(const Comparison& c, const std::vector<fs::path>& roots, const fs::path& out_file) {
  ReportInputs in;
  std::vector<fs::path> picture_roots = roots;
  const fs::path out_dir = fs::absolute(out_file).parent_path();
  picture_roots.push_back(out_dir);
  in.pictures = find_pictures(picture_roots);
  in.base = fs::weakly_canonical(out_dir);
  in.charts = find_chart_library();
  in.looked = chart_library_dirs();
  if (!in.charts)
    std::cerr << "lab: warning: uPlot not found; " << out_file.string()
              << " has no charts (scripts/setup.sh installs it; LAB_UPLOT_DIR names its folder)\n";
  fs::create_directories(out_dir);
  write_file_atomic(out_file, report_page(c, in));
}

}  // namespace lab
