#include "profile_report.hpp"

#include "run/plots.hpp"

#include "util/blas_core.hpp"

#include <lab/error.hpp>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>

namespace lab::app {

namespace {

namespace fs = std::filesystem;

std::string memory_meaning(const torch::Device& device) {
  return device.is_cuda() ? "CUDA caching-allocator bytes above the inputs"
                          : "CPU tensor bytes above the inputs (counting LibTorch CPU allocator)";
}

std::string shape_text(const ProfileShape& s) {
  return "batch " + std::to_string(s.batch) + ", heads " + std::to_string(s.heads) + ", head dim " +
         std::to_string(s.head_dim) + "/" + std::to_string(s.v_head_dim) +
         (s.causal ? ", causal" : ", full") + ", " + std::string(c10::toString(s.dtype)) + " on " +
         s.device.str() + ", median of " + std::to_string(s.repeats) + " interleaved repeats";
}

std::string gemm_peak_meaning(const ProfileShape& s) {
  const bool bf16 = s.device.is_cuda() && s.dtype == torch::kBFloat16;
  return std::string(bf16 ? "bf16" : "fp32") + " " + std::to_string(s.gemm_size) + "x" +
         std::to_string(s.gemm_size) + " matmul on " + s.device.str();
}

std::string percent(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f%%", value);
  return text;
}

// A sparse row (top_k set) against every dense kernel at the same length: fwd+bwd time ratio
// and peak memory ratio, dense over sparse (above 1: the sparse plugin is faster, or smaller).
void print_sparse_speedups(const std::vector<ProfileRow>& rows, std::ostream& out) {
  bool header = false;
  for (const auto& sparse : rows) {
    if (sparse.top_k == 0 || !sparse.error.empty()) continue;
    for (const auto& dense : rows) {
      if (dense.seq_len != sparse.seq_len || dense.top_k > 0 || !dense.error.empty()) continue;
      if (!header)
        out << "sparse against dense (dense / sparse: above 1, the sparse step is faster or smaller):\n";
      header = true;
      char line[256];
      std::snprintf(line, sizeof line,
                    "  %-12s vs %-8s T=%-6lld fwd %6.2fx  fwd+bwd %6.2fx  peak memory %6.2fx\n",
                    sparse.kernel.c_str(), dense.kernel.c_str(), static_cast<long long>(sparse.seq_len),
                    dense.forward_ms / sparse.forward_ms, dense.train_ms / sparse.train_ms,
                    sparse.peak_mib > 0 ? dense.peak_mib / sparse.peak_mib : 0.0);
      out << line;
    }
  }
}

}  // namespace

void print_profile_table(const ProfileShape& shape, const std::vector<ProfileRow>& rows, std::ostream& out) {
  out << "attention kernels: " << shape_text(shape) << "\n";
  out << "GFLOP/s count useful FLOPs (visible pairs; fwd+bwd = 3x fwd); memory: "
      << memory_meaning(shape.device) << "\n";
  out << describe(blas_info()) << "\n";
  char line[256];
  const bool peak = shape.gemm_peak_gflops > 0;
  if (peak) {
    std::snprintf(line, sizeof line,
                  "GEMM peak %.1f GFLOP/s (%s, this run); %% peak = fwd+bwd GF/s over it\n",
                  shape.gemm_peak_gflops, gemm_peak_meaning(shape).c_str());
    out << line;
    // Runs on shared machines drift; interleaved ratios still hold, absolute figures do not.
    if (shape.gemm_peak_spread > 0.2) {
      std::snprintf(line, sizeof line,
                    "warning: the GEMM peak moved %.0f%% during the run: the machine's speed changed; quote "
                    "ratios between kernels (timed interleaved), not absolute times\n",
                    100.0 * shape.gemm_peak_spread);
      out << line;
    }
  }
  std::snprintf(line, sizeof line, "%-12s %6s %11s %13s %8s %10s %13s %7s %14s %14s\n", "kernel", "T",
                "fwd ms", "fwd+bwd ms", "spread", "fwd GF/s", "fwd+bwd GF/s", "% peak", "held MiB",
                "peak MiB");
  out << line;
  for (const auto& r : rows) {
    if (!r.error.empty()) {
      std::snprintf(line, sizeof line, "%-12s %6lld  failed: ", r.kernel.c_str(),
                    static_cast<long long>(r.seq_len));
      out << line << r.error << "\n";
      continue;
    }
    const double share = peak ? 100.0 * r.train_gflops / shape.gemm_peak_gflops : 0.0;
    // spread: (slowest - fastest) / median of the fwd+bwd repeats.
    std::snprintf(line, sizeof line, "%-12s %6lld %11.3f %13.3f %8s %10.2f %13.2f %7s %14.2f %14.2f\n",
                  r.kernel.c_str(), static_cast<long long>(r.seq_len), r.forward_ms, r.train_ms,
                  percent(100.0 * r.train_spread).c_str(), r.forward_gflops, r.train_gflops,
                  peak ? percent(share).c_str() : "-", r.held_mib, r.peak_mib);
    out << line;
  }
  print_sparse_speedups(rows, out);
  out.flush();
}

void write_profile_outputs(const ProfileShape& shape, const std::vector<ProfileRow>& rows,
                           const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw InputError("--out " + dir.string() + ": cannot create the folder: " + ec.message());

  nlohmann::json json;
  json["shape"] = {{"batch", shape.batch},
                   {"heads", shape.heads},
                   {"head_dim", shape.head_dim},
                   {"v_head_dim", shape.v_head_dim},
                   {"causal", shape.causal},
                   {"device", shape.device.str()},
                   {"dtype", c10::toString(shape.dtype)},
                   {"repeats", shape.repeats}};
  if (shape.gemm_peak_gflops > 0)
    json["gemm_peak"] = {
        {"gflops", shape.gemm_peak_gflops},
        {"spread", shape.gemm_peak_spread},
        {"measured", gemm_peak_meaning(shape) + ", median of probes before and after each length"}};
  json["memory_measures"] = memory_meaning(shape.device);
  json["blas"] = blas_json();
  json["flops"] = "useful FLOPs over visible (query, key) pairs; forward+backward counts 3x forward";
  json["rows"] = nlohmann::json::array();
  for (const auto& r : rows) {
    nlohmann::json row = {{"kernel", r.kernel}, {"seq_len", r.seq_len}};
    if (r.error.empty()) {
      row.update({{"forward_ms", r.forward_ms},
                  {"forward_backward_ms", r.train_ms},
                  {"forward_spread", r.forward_spread},
                  {"forward_backward_spread", r.train_spread},
                  {"forward_gflops", r.forward_gflops},
                  {"forward_backward_gflops", r.train_gflops},
                  {"held_mib", r.held_mib},
                  {"peak_mib", r.peak_mib}});
      if (shape.gemm_peak_gflops > 0)
        row["forward_backward_share_of_gemm_peak"] = r.train_gflops / shape.gemm_peak_gflops;
    } else {
      row["error"] = r.error;
    }
    json["rows"].push_back(row);
  }
  const fs::path file = dir / "profile.json", temp = dir / "profile.json.tmp";
  {
    std::ofstream out(temp);
    out << json.dump(2) << "\n";
    if (!out) throw InputError("--out " + dir.string() + ": cannot write " + temp.string());
  }
  fs::rename(temp, file);

  // One series per kernel, in the order the kernels were asked for.
  std::vector<std::string> order;
  std::map<std::string, PlotSeries> fwd, train, peak;
  for (const auto& r : rows) {
    if (!fwd.count(r.kernel)) order.push_back(r.kernel);
    for (auto* m : {&fwd, &train, &peak}) (*m)[r.kernel].title = r.kernel;
    if (!r.error.empty()) continue;
    const double t = static_cast<double>(r.seq_len);
    fwd[r.kernel].x.push_back(t);
    fwd[r.kernel].y.push_back(r.forward_ms);
    train[r.kernel].x.push_back(t);
    train[r.kernel].y.push_back(r.train_ms);
    peak[r.kernel].x.push_back(t);
    peak[r.kernel].y.push_back(r.peak_mib);
  }
  std::vector<PlotPanel> panels = {
      {"forward time", "sequence length", "ms", true, true, {}},
      {"forward + backward time", "sequence length", "ms", true, true, {}},
      {"peak memory, forward + backward", "sequence length", "MiB", true, true, {}}};
  for (const auto& name : order) {
    panels[0].series.push_back(fwd[name]);
    panels[1].series.push_back(train[name]);
    panels[2].series.push_back(peak[name]);
  }
  plot_panels(panels, "attention kernels: " + shape_text(shape), dir / "profile.png");
}

}  // namespace lab::app
