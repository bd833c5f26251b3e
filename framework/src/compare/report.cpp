#include "compare/report.hpp"

#include "run/files.hpp"
#include "run/plots.hpp"

namespace lab {

namespace fs = std::filesystem;

namespace {

BarPanel panel(const Comparison& c, const std::string& title, const std::string& ylabel,
               Summary VariantResult::*metric) {
  BarPanel p{title, ylabel, {}};
  for (const auto& v : c.variants) {
    const Summary& s = v.*metric;
    p.bars.push_back(BarPanel::Bar{v.name, s.mean, s.ci95_half.value_or(0.0)});
  }
  return p;
}

// exp(mean loss) per variant; no interval bar, as the exp of the loss's interval is not symmetric.
BarPanel perplexity_panel(const Comparison& c) {
  BarPanel p{"validation perplexity = exp(mean loss)", "perplexity", {}};
  for (const auto& v : c.variants) p.bars.push_back(BarPanel::Bar{v.name, v.val_perplexity.value, 0.0});
  return p;
}

std::vector<CurveLine> curves(const Comparison& c, bool by_wall) {
  std::vector<CurveLine> lines;
  for (const auto& v : c.variants)
    for (size_t i : v.runs) {
      CurveLine line{v.name, {}};
      for (const auto& point : c.records[i].curve)
        line.points.emplace_back(by_wall ? point.wall_s : point.step, point.val_loss);
      lines.push_back(std::move(line));
    }
  return lines;
}

}  // namespace

void write_comparison(const Comparison& c, const fs::path& out_dir) {
  fs::create_directories(out_dir);
  write_file_atomic(out_dir / "comparison.md", comparison_markdown(c));
  write_file_atomic(out_dir / "comparison.csv", comparison_csv(c));
  write_file_atomic(out_dir / "comparison.json", comparison_json(c).dump(2) + "\n");
  if (!gnuplot_available()) return;
  plot_bar_panels({panel(c, "validation loss", "loss", &VariantResult::val_loss),
                   panel(c, "validation accuracy", "accuracy", &VariantResult::val_accuracy),
                   perplexity_panel(c), panel(c, "throughput", "tokens/s", &VariantResult::tokens_per_s),
                   panel(c, "wall time", "seconds", &VariantResult::wall_seconds),
                   panel(c, "peak memory", "MB", &VariantResult::peak_memory_mb)},
                  "mean over seeds, bars: 95% confidence interval", out_dir / "performance_comparison.png");
  plot_curves(curves(c, false), "validation loss against step", "step", "validation loss",
              out_dir / "val_loss_vs_step.png");
  plot_curves(curves(c, true), "validation loss against wall time", "wall-clock time (s)", "validation loss",
              out_dir / "val_loss_vs_time.png");
  std::vector<LabelledPoint> points;
  for (const auto& v : c.variants)
    points.push_back(LabelledPoint{v.name, static_cast<double>(v.params_active) / 1e6, v.val_loss.mean});
  plot_points(points, "parameter efficiency", "active parameters per token (M)", "mean validation loss",
              out_dir / "parameter_efficiency.png");
}

}  // namespace lab
