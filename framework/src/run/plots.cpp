#include "run/plots.hpp"

#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <locale>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

namespace lab {

namespace {

namespace fs = std::filesystem;

struct MetricsRow {
  std::optional<double> step, wall_s, train_loss, val_loss, val_accuracy, val_perplexity;
};

void warn(const std::string& message) { std::cerr << "warning: " << message << "\n"; }

std::optional<double> number_field(const nlohmann::json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_number()) return std::nullopt;
  const double value = it->get<double>();
  if (!std::isfinite(value)) return std::nullopt;
  return value;
}

// Reads every well-formed line; a malformed one is reported with its position and skipped.
std::optional<std::vector<MetricsRow>> read_metrics(const fs::path& file) {
  std::ifstream in(file);
  if (!in) {
    warn("cannot plot: cannot read " + file.string());
    return std::nullopt;
  }
  std::vector<MetricsRow> rows;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded() || !json.is_object()) {
      warn(file.string() + ":" + std::to_string(number) + ": not a JSON object; line skipped");
      continue;
    }
    MetricsRow row;
    row.step = number_field(json, "step");
    if (!row.step) {
      warn(file.string() + ":" + std::to_string(number) + ": no numeric 'step'; line skipped");
      continue;
    }
    row.wall_s = number_field(json, "wall_s");
    row.train_loss = number_field(json, "train_loss");
    row.val_loss = number_field(json, "val_loss");
    row.val_accuracy = number_field(json, "val_accuracy");
    row.val_perplexity = number_field(json, "val_perplexity");
    rows.push_back(row);
  }
  return rows;
}

// Column numbers of the data file's two blocks (gnuplot counts from 1).
enum Column { kStep = 1, kWall = 2, kValue = 3, kValAccuracy = 4, kValPerplexity = 5 };
enum Block { kTrainBlock = 0, kValBlock = 1 };

struct Range {
  double lo = 0, hi = 0;
  bool any = false;
  void add(const std::optional<double>& v) {
    if (!v) return;
    lo = any ? std::min(lo, *v) : *v;
    hi = any ? std::max(hi, *v) : *v;
    any = true;
  }
};

struct Counts {
  size_t train_loss = 0, val_loss = 0, val_accuracy = 0, val_perplexity = 0;
  size_t train_wall = 0, val_wall = 0;  // rows whose wall-clock time is known
  Range steps, wall;                    // shared x ranges, so panels in a row line up
};

// Block 0: step wall_s train_loss; block 1: step wall_s val_loss val_accuracy val_perplexity.
// Validation runs only now and then, so separate blocks keep its lines unbroken.
Counts write_data(const std::vector<MetricsRow>& rows, std::ostream& out) {
  Counts counts;
  for (const auto& r : rows) {
    counts.steps.add(r.step);
    counts.wall.add(r.wall_s);
  }
  auto cell = [&](const std::optional<double>& v) {
    if (v) {
      out << ' ' << *v;
    } else {
      out << " ?";
    }
  };
  out << "# step wall_s train_loss\n";
  for (const auto& r : rows) {
    if (!r.train_loss) continue;
    out << *r.step;
    cell(r.wall_s);
    cell(r.train_loss);
    out << '\n';
    ++counts.train_loss;
    if (r.wall_s) ++counts.train_wall;
  }
  out << "\n\n# step wall_s val_loss val_accuracy val_perplexity\n";
  for (const auto& r : rows) {
    const bool positive_ppl = r.val_perplexity && *r.val_perplexity > 0;  // log axis
    if (!r.val_loss && !r.val_accuracy && !positive_ppl) continue;
    out << *r.step;
    cell(r.wall_s);
    cell(r.val_loss);
    cell(r.val_accuracy);
    cell(positive_ppl ? r.val_perplexity : std::nullopt);
    out << '\n';
    counts.val_loss += r.val_loss ? 1 : 0;
    counts.val_accuracy += r.val_accuracy ? 1 : 0;
    counts.val_perplexity += positive_ppl ? 1 : 0;
    if (r.wall_s) ++counts.val_wall;
  }
  return counts;
}

// A string literal for a gnuplot script: single quotes, with '' standing for a quote.
std::string gp_quote(const std::string& s) {
  std::string out = "'";
  for (char ch : s) {
    out += ch;
    if (ch == '\'') out += '\'';
  }
  return out + "'";
}

// A word for /bin/sh: single quotes, with '\'' standing for a quote.
std::string sh_quote(const std::string& s) {
  std::string out = "'";
  for (char ch : s) {
    if (ch == '\'') {
      out += "'\\''";
    } else {
      out += ch;
    }
  }
  return out + "'";
}

struct Series {
  Block block;
  Column column;
  const char* title;
  const char* style;
  size_t points;
};

void write_panel(std::ostream& gp, const std::string& data, const std::string& title, bool by_wall,
                 const Range& x, const std::string& ylabel, bool log_y, const std::vector<Series>& series) {
  gp << "set title " << gp_quote(title) << "\n";
  if (x.any && x.lo < x.hi) {
    gp << "set xrange [" << x.lo << ":" << x.hi << "]\n";
  } else {
    gp << "set autoscale x\n";
  }
  gp << "set xlabel " << gp_quote(by_wall ? "wall-clock time (s)" : "step") << "\n";
  gp << "set ylabel " << gp_quote(ylabel) << "\n";
  gp << (log_y ? "set logscale y\n" : "unset logscale y\n");
  std::vector<std::string> plots;
  for (const auto& s : series) {
    if (s.points == 0) continue;
    std::ostringstream p;
    p << gp_quote(data) << " index " << s.block << " using " << (by_wall ? kWall : kStep) << ':' << s.column
      << " with " << s.style << " title " << gp_quote(s.title);
    plots.push_back(p.str());
  }
  if (plots.empty()) {
    // gnuplot refuses to draw a panel without points; keep the grid position with an empty frame.
    gp << "unset logscale y\nset yrange [0:1]\n"
       << "set label 1 'no data' at graph 0.5, graph 0.5 center\n"
       << "plot 2 notitle\n"
       << "unset label 1\nset autoscale y\n";
    return;
  }
  gp << "plot ";
  for (size_t i = 0; i < plots.size(); ++i) gp << (i ? ", \\\n     " : "") << plots[i];
  gp << "\n";
}

// Files are named relative to the script's directory, so a run directory can be moved and replotted.
void write_script(std::ostream& gp, const std::string& data, const std::string& png, const Counts& c,
                  const std::string& heading) {
  gp << "# Generated from a run's metrics.jsonl; replot from this directory with: gnuplot <this file>\n";
  gp << "set terminal pngcairo size 1500,900 enhanced font ',10'\n";
  gp << "set output " << gp_quote(png) << "\n";
  gp << "set datafile missing '?'\n";
  gp << "set grid\nset key top right\n";
  gp << "set multiplot layout 2,3 title " << gp_quote(heading) << " noenhanced\n";
  const char* train_style = "lines lw 1.5 lc rgb '#1f77b4'";
  const char* val_style = "linespoints lw 1.5 pt 7 ps 0.6 lc rgb '#d62728'";
  for (bool by_wall : {false, true}) {
    const size_t train_points = by_wall ? std::min(c.train_loss, c.train_wall) : c.train_loss;
    auto val_points = [&](size_t n) { return by_wall ? std::min(n, c.val_wall) : n; };
    const std::string against = by_wall ? " vs wall-clock time" : " vs step";
    const Range& x = by_wall ? c.wall : c.steps;
    write_panel(gp, data, "Loss" + against, by_wall, x, "cross-entropy loss", false,
                {{kTrainBlock, kValue, "train", train_style, train_points},
                 {kValBlock, kValue, "validation", val_style, val_points(c.val_loss)}});
    write_panel(gp, data, "Validation accuracy" + against, by_wall, x, "accuracy", false,
                {{kValBlock, kValAccuracy, "validation", val_style, val_points(c.val_accuracy)}});
    write_panel(gp, data, "Validation perplexity" + against, by_wall, x, "perplexity (log scale)", true,
                {{kValBlock, kValPerplexity, "validation", val_style, val_points(c.val_perplexity)}});
  }
  gp << "unset multiplot\nunset output\n";
}

// Exit status of a finished shell command, or -1 when it did not exit normally.
int exit_status(int raw) {
  if (raw == -1 || !WIFEXITED(raw)) return -1;
  return WEXITSTATUS(raw);
}

void write_text(const fs::path& file, const std::string& text) {
  std::ofstream out(file);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

// Runs gnuplot on `script_file` in its folder; false (with a warning) unless `out_png` appears.
bool run_gnuplot(const fs::path& script_file, const fs::path& out_png) {
  // A stale picture must not pass for a fresh one.
  std::error_code ignored;
  fs::remove(out_png, ignored);

  const fs::path directory = out_png.has_parent_path() ? out_png.parent_path() : fs::path(".");
  const std::string command = "cd " + sh_quote(directory.string()) + " && gnuplot " +
                              sh_quote(script_file.filename().string()) + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) {
    warn("cannot plot: cannot start gnuplot");
    return false;
  }
  std::string output;
  char buffer[512];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  const int status = exit_status(pclose(pipe));
  if (status != 0) {
    // gnuplot's last line names the failing command; 127 is the shell's "not found".
    std::string last;
    std::istringstream lines(output);
    for (std::string l; std::getline(lines, l);) {
      if (l.find_first_not_of(" \t^") != std::string::npos) last = l;
    }
    warn("gnuplot failed for " + script_file.string() +
         (status == 127  ? std::string(" (gnuplot not found)")
          : last.empty() ? ""
                         : ": " + last));
    return false;
  }
  if (!fs::exists(out_png, ignored) || fs::file_size(out_png, ignored) == 0) {
    warn("gnuplot wrote no picture to " + out_png.string());
    return false;
  }
  return true;
}

}  // namespace

bool gnuplot_available() {
  const int raw = std::system("gnuplot -e \"set terminal pngcairo\" >/dev/null 2>&1");
  return exit_status(raw) == 0;
}

bool plot_training_curves(const fs::path& metrics_jsonl, const fs::path& out_png) {
  try {
    const auto rows = read_metrics(metrics_jsonl);
    if (!rows) return false;
    if (rows->empty()) {
      warn("cannot plot: no metrics in " + metrics_jsonl.string());
      return false;
    }
    fs::path data_file = out_png;
    data_file.replace_extension(".dat");
    fs::path script_file = out_png;
    script_file.replace_extension(".gp");

    Counts counts;
    {
      std::ofstream data(data_file);
      data.imbue(std::locale::classic());  // '.' decimals whatever the user's locale
      data.precision(17);  // the same digits as the x ranges in the script, so no point falls outside
      counts = write_data(*rows, data);
      if (!data) {
        warn("cannot plot: cannot write " + data_file.string());
        return false;
      }
    }
    {
      std::ofstream gp(script_file);
      gp.imbue(std::locale::classic());
      gp.precision(17);  // x ranges must not round inside the data
      const std::string heading = metrics_jsonl.parent_path().filename().string();
      write_script(gp, data_file.filename().string(), out_png.filename().string(), counts,
                   heading.empty() ? "training curves" : "training curves: " + heading);
      if (!gp) {
        warn("cannot plot: cannot write " + script_file.string());
        return false;
      }
    }

    return run_gnuplot(script_file, out_png);
  } catch (const std::exception& e) {
    warn(std::string("cannot plot training curves: ") + e.what());
    return false;
  }
}

bool plot_panels(const std::vector<PlotPanel>& panels, const std::string& heading, const fs::path& out_png) {
  try {
    fs::path data_file = out_png;
    data_file.replace_extension(".dat");
    fs::path script_file = out_png;
    script_file.replace_extension(".gp");
    // One data block per (panel, series), addressed by gnuplot's `index`.
    std::vector<std::vector<std::pair<int, const PlotSeries*>>> plotted(panels.size());
    {
      std::ofstream data(data_file);
      data.imbue(std::locale::classic());
      data.precision(17);
      int block = 0;
      for (size_t p = 0; p < panels.size(); ++p) {
        for (const auto& series : panels[p].series) {
          std::ostringstream rows;
          rows.imbue(std::locale::classic());
          rows.precision(17);
          size_t points = 0;
          for (size_t i = 0; i < std::min(series.x.size(), series.y.size()); ++i) {
            const double x = series.x[i], y = series.y[i];
            const bool bad_log = (panels[p].log_x && x <= 0) || (panels[p].log_y && y <= 0);
            if (!std::isfinite(x) || !std::isfinite(y) || bad_log) continue;
            rows << x << ' ' << y << '\n';
            ++points;
          }
          if (points == 0) continue;
          data << "# " << panels[p].title << ": " << series.title << "\n" << rows.str() << "\n\n";
          plotted[p].emplace_back(block++, &series);
        }
      }
      if (!data) {
        warn("cannot plot: cannot write " + data_file.string());
        return false;
      }
    }
    {
      std::ofstream gp(script_file);
      gp.imbue(std::locale::classic());
      const std::string data = data_file.filename().string();
      gp << "# Replot from this directory with: gnuplot <this file>\n";
      gp << "set terminal pngcairo size " << 500 * std::max<size_t>(1, panels.size())
         << ",450 enhanced font ',10'\n";
      gp << "set output " << gp_quote(out_png.filename().string()) << "\n";
      gp << "set grid\nset key top left\n";
      gp << "set multiplot layout 1," << std::max<size_t>(1, panels.size()) << " title " << gp_quote(heading)
         << " noenhanced\n";
      for (size_t p = 0; p < panels.size(); ++p) {
        const auto& panel = panels[p];
        gp << "set title " << gp_quote(panel.title) << " noenhanced\n";
        gp << "set xlabel " << gp_quote(panel.xlabel) << " noenhanced\n";
        gp << "set ylabel " << gp_quote(panel.ylabel) << " noenhanced\n";
        gp << (panel.log_x ? "set logscale x 2\n" : "unset logscale x\n");
        gp << (panel.log_y ? "set logscale y\n" : "unset logscale y\n");
        if (plotted[p].empty()) {
          gp << "unset logscale\nset yrange [0:1]\nset label 1 'no data' at graph 0.5, graph 0.5 center\n"
             << "plot 2 notitle\nunset label 1\nset autoscale y\n";
          continue;
        }
        gp << "plot ";
        for (size_t s = 0; s < plotted[p].size(); ++s)
          gp << (s ? ", \\\n     " : "") << gp_quote(data) << " index " << plotted[p][s].first
             << " using 1:2 with linespoints lw 1.5 pt 7 ps 0.6 title "
             << gp_quote(plotted[p][s].second->title) << " noenhanced";
        gp << "\n";
      }
      gp << "unset multiplot\nunset output\n";
      if (!gp) {
        warn("cannot plot: cannot write " + script_file.string());
        return false;
      }
    }
    return run_gnuplot(script_file, out_png);
  } catch (const std::exception& e) {
    warn(std::string("cannot plot: ") + e.what());
    return false;
  }
}

namespace {

// Writes `script` beside `out_png` (same name, .gp) and runs it; plotting failures only warn.
bool draw(const std::string& what, const fs::path& out_png, const std::string& data,
          const std::string& script) {
  try {
    fs::path data_file = out_png, script_file = out_png;
    data_file.replace_extension(".dat");
    script_file.replace_extension(".gp");
    write_text(data_file, data);
    write_text(script_file, script);
    return run_gnuplot(script_file, out_png);
  } catch (const std::exception& e) {
    warn("cannot plot " + what + ": " + e.what());
    return false;
  }
}

// A gnuplot data string: double quotes, which gnuplot's data files read as one column.
std::string data_label(std::string s) {
  for (char& c : s)
    if (c == '"') c = '\'';
  return "\"" + s + "\"";
}

std::ostringstream classic_stream() {
  std::ostringstream os;
  os.imbue(std::locale::classic());
  os.precision(10);
  return os;
}

const char* kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                          "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

}  // namespace

bool plot_bar_panels(const std::vector<BarPanel>& panels, const std::string& heading,
                     const fs::path& out_png) {
  std::ostringstream data = classic_stream(), gp = classic_stream();
  const std::string data_name = fs::path(out_png).replace_extension(".dat").filename().string();
  size_t width = 0;
  for (const auto& p : panels) width = std::max(width, p.bars.size());
  const size_t cols = std::min<size_t>(3, std::max<size_t>(panels.size(), 1));
  const size_t rows = (panels.size() + cols - 1) / std::max<size_t>(cols, 1);
  gp << "set terminal pngcairo size " << 520 * cols << "," << (420 + 10 * width) * rows
     << " enhanced font ',10'\nset output " << gp_quote(out_png.filename().string()) << "\n";
  gp << "set style fill solid 0.6 border -1\nset boxwidth 0.6\nset grid ytics\nunset key\n"
     << "set xtics rotate by -30 noenhanced\nset bars 2\nset offsets 0.5, 0.5, 0, 0\n";
  gp << "set multiplot layout " << rows << "," << cols << " title " << gp_quote(heading) << " noenhanced\n";
  for (size_t n = 0; n < panels.size(); ++n) {
    data << "# " << panels[n].title << "\n";
    for (const auto& b : panels[n].bars)
      data << data_label(b.label) << ' ' << b.value << ' ' << b.error << "\n";
    data << "\n\n";
    gp << "set title " << gp_quote(panels[n].title) << " noenhanced\nset ylabel "
       << gp_quote(panels[n].ylabel) << "\n";
    // Room for the top of every error bar: autoscaling follows the bars alone.
    double top = 0;
    for (const auto& b : panels[n].bars) top = std::max(top, b.value + b.error);
    if (top > 0)
      gp << "set yrange [0:" << top * 1.08 << "]\n";
    else
      gp << "set yrange [*:*]\n";
    gp << "plot " << gp_quote(data_name) << " index " << n
       << " using 0:2:xtic(1) with boxes lc rgb '#1f77b4', '' index " << n
       << " using 0:2:3 with yerrorbars lc rgb 'black' pt 0 lw 1.5\n";
  }
  gp << "unset multiplot\nunset output\n";
  return draw("comparison bars", out_png, data.str(), gp.str());
}

bool plot_curves(const std::vector<CurveLine>& lines, const std::string& title, const std::string& xlabel,
                 const std::string& ylabel, const fs::path& out_png) {
  std::ostringstream data = classic_stream(), gp = classic_stream();
  const std::string data_name = fs::path(out_png).replace_extension(".dat").filename().string();
  gp << "set terminal pngcairo size 1000,650 enhanced font ',10'\nset output "
     << gp_quote(out_png.filename().string()) << "\n";
  gp << "set grid\nset key outside right noenhanced\nset title " << gp_quote(title)
     << " noenhanced\nset xlabel " << gp_quote(xlabel) << "\nset ylabel " << gp_quote(ylabel) << "\n";
  std::vector<std::string> variants, plots;
  for (size_t n = 0; n < lines.size(); ++n) {
    data << "# " << lines[n].variant << "\n";
    for (const auto& [x, y] : lines[n].points) data << x << ' ' << y << "\n";
    data << "\n\n";
    auto it = std::find(variants.begin(), variants.end(), lines[n].variant);
    const bool first = it == variants.end();
    const size_t colour = static_cast<size_t>(first ? variants.size() : it - variants.begin());
    if (first) variants.push_back(lines[n].variant);
    if (lines[n].points.empty()) continue;
    std::ostringstream p;
    p << gp_quote(data_name) << " index " << n << " using 1:2 with linespoints lw 1.5 pt 7 ps 0.5 lc rgb '"
      << kPalette[colour % 10] << "' "
      << (first ? "title " + gp_quote(lines[n].variant) : std::string("notitle"));
    plots.push_back(p.str());
  }
  if (plots.empty()) {
    warn("cannot plot " + title + ": no points");
    return false;
  }
  gp << "plot ";
  for (size_t i = 0; i < plots.size(); ++i) gp << (i ? ", \\\n     " : "") << plots[i];
  gp << "\nunset output\n";
  return draw(title, out_png, data.str(), gp.str());
}

bool plot_points(const std::vector<LabelledPoint>& points, const std::string& title,
                 const std::string& xlabel, const std::string& ylabel, const fs::path& out_png) {
  std::ostringstream data = classic_stream(), gp = classic_stream();
  const std::string data_name = fs::path(out_png).replace_extension(".dat").filename().string();
  for (const auto& p : points) data << p.x << ' ' << p.y << ' ' << data_label(p.label) << "\n";
  gp << "set terminal pngcairo size 900,650 enhanced font ',10'\nset output "
     << gp_quote(out_png.filename().string()) << "\n";
  gp << "set grid\nunset key\nset offsets graph 0.1, graph 0.25, graph 0.1, graph 0.1\nset title "
     << gp_quote(title) << " noenhanced\nset xlabel " << gp_quote(xlabel) << "\nset ylabel "
     << gp_quote(ylabel) << "\n";
  gp << "plot " << gp_quote(data_name)
     << " using 1:2 with points pt 7 ps 1.5 lc rgb '#d62728', '' using 1:2:3 "
     << "with labels offset 1,0.6 left noenhanced\nunset output\n";
  return draw(title, out_png, data.str(), gp.str());
}

}  // namespace lab

namespace lab {

bool plot_heatmaps(const std::vector<Heatmap>& maps, const std::string& heading, const fs::path& out_png,
                   int columns) {
  std::ostringstream data = classic_stream(), gp = classic_stream();
  for (const auto& map : maps) {
    for (int64_t r = 0; r < map.rows; ++r) {
      for (int64_t c = 0; c < map.cols; ++c) {
        const double v = map.values[static_cast<size_t>(r * map.cols + c)];
        data << (c ? " " : "") << (std::isfinite(v) ? std::to_string(v) : std::string("NaN"));
      }
      data << "\n";
    }
    data << "\n\n";
  }
  const int cols = std::max(1, std::min<int>(columns, static_cast<int>(maps.size())));
  const int rows = (static_cast<int>(maps.size()) + cols - 1) / cols;
  const std::string data_name = fs::path(out_png).replace_extension(".dat").filename().string();
  gp << "# Replot from this directory with: gnuplot <this file>\n";
  gp << "set terminal pngcairo size " << 480 * cols << "," << 440 * rows + 40 << " enhanced font ',10'\n";
  gp << "set output " << gp_quote(out_png.filename().string()) << "\n";
  gp << "set datafile missing 'NaN'\nset palette rgbformulae 33,13,10\nset size ratio -1\n";
  gp << "set multiplot layout " << rows << "," << cols << " title " << gp_quote(heading) << " noenhanced\n";
  for (size_t i = 0; i < maps.size(); ++i) {
    const auto& map = maps[i];
    gp << "set title " << gp_quote(map.title) << " noenhanced\n";
    gp << "set xlabel " << gp_quote(map.xlabel) << " noenhanced\nset ylabel " << gp_quote(map.ylabel)
       << " noenhanced\n";
    gp << "set xrange [-0.5:" << map.cols - 0.5 << "]\nset yrange [" << map.rows - 0.5 << ":-0.5]\n";
    gp << "plot " << gp_quote(data_name) << " index " << i << " matrix with image notitle\n";
  }
  gp << "unset multiplot\nunset output\n";
  return draw("heatmaps", out_png, data.str(), gp.str());
}

}  // namespace lab
