#include "train/muon.hpp"

#include "train/archive_io.hpp"

#include <lab/error.hpp>

#include <torch/serialize.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace lab {

namespace {

const char* const kFactorKey = "lab_lr_factor";

std::vector<NamedParameter> adamw_part(const std::vector<NamedParameter>& parameters) {
  std::vector<NamedParameter> rest;
  for (const auto& p : parameters) {
    if (!MuonOptimizer::takes(p)) rest.push_back(p);
  }
  return rest;
}

std::string momentum_key(size_t index) { return "muon/momentum/" + std::to_string(index); }

}  // namespace

bool MuonOptimizer::takes(const NamedParameter& parameter) {
  // The embedding is a lookup table, not a linear map, so orthogonalising its update makes no sense.
  return parameter.second.dim() >= 2 && parameter.first.find("embed") == std::string::npos;
}

MuonOptimizer::MuonOptimizer(const OptimizerSettings& settings, const std::vector<NamedParameter>& parameters)
    : settings_(settings), adamw_(settings, settings.lr, adamw_part(parameters)) {
  for (const auto& p : parameters) {
    all_.push_back(p.second);
    if (takes(p)) matrices_.push_back(p.second);
  }
  momentum_.resize(matrices_.size());
}

void MuonOptimizer::step() {
  torch::NoGradGuard no_grad;
  const double mu = settings_.muon_momentum;
  for (size_t i = 0; i < matrices_.size(); ++i) {
    torch::Tensor p = matrices_[i];
    const torch::Tensor g = p.grad();
    if (!g.defined()) continue;  // frozen: neither the parameter nor its momentum moves
    torch::Tensor& m = momentum_[i];
    if (!m.defined()) m = torch::zeros_like(g);
    m.mul_(mu).add_(g);
    const torch::Tensor nesterov = g.add(m, mu);
    const torch::Tensor update = newton_schulz_orthogonalize(nesterov, settings_.muon_ns_steps);
    // Orthogonal updates have unit spectral norm; tall matrices get a larger step to keep per-element
    // update sizes comparable.
    const double rows = static_cast<double>(p.size(-2));
    const double cols = static_cast<double>(p.size(-1));
    const double scale = std::sqrt(std::max(1.0, rows / cols));
    const double lr = settings_.muon_lr * factor_;
    // Decoupled weight decay on the matrices as well (as Muon is used for LLM training, e.g. Moonlight):
    // without it train.weight_decay would reach only the embedding, the one matrix AdamW keeps.
    if (settings_.weight_decay > 0) p.mul_(1.0 - lr * settings_.weight_decay);
    p.add_(update.to(p.scalar_type()), -lr * scale);
  }
  adamw_.step();
}

void MuonOptimizer::zero_grad() { clear_gradients(all_); }

void MuonOptimizer::set_lr_factor(double factor) {
  factor_ = factor;
  adamw_.set_lr_factor(factor);
}

void MuonOptimizer::save(const std::string& file) {
  torch::serialize::OutputArchive archive;
  archive.write(kFactorKey, torch::tensor(factor_, torch::kFloat64));
  archive.write("muon/count", torch::tensor(static_cast<int64_t>(matrices_.size())));
  for (size_t i = 0; i < momentum_.size(); ++i) {
    if (momentum_[i].defined()) archive.write(momentum_key(i), momentum_[i], /*is_buffer=*/true);
  }
  torch::serialize::OutputArchive inner(archive.compilation_unit());
  adamw_.save(inner);
  archive.write("adamw", inner);
  save_archive(archive, file);
}

void MuonOptimizer::load(const std::string& file) {
  torch::serialize::InputArchive archive;
  load_archive(archive, file, parameter_device(all_));
  torch::Tensor count;
  archive.read("muon/count", count);
  if (count.item<int64_t>() != static_cast<int64_t>(matrices_.size())) {
    throw InputError("optimizer state " + file + " holds " + std::to_string(count.item<int64_t>()) +
                     " Muon matrices but the model has " + std::to_string(matrices_.size()));
  }
  for (size_t i = 0; i < momentum_.size(); ++i) {
    torch::Tensor m;
    if (archive.try_read(momentum_key(i), m, /*is_buffer=*/true)) {
      TORCH_CHECK(m.sizes() == matrices_[i].sizes(), "Muon momentum ", i, " has shape ", m.sizes(),
                  " but its parameter has ", matrices_[i].sizes());
      momentum_[i] = m.to(matrices_[i].device());
    } else {
      momentum_[i] = torch::Tensor();
    }
  }
  torch::serialize::InputArchive inner;
  archive.read("adamw", inner);
  adamw_.load(inner);
  torch::Tensor factor;
  archive.read(kFactorKey, factor);
  set_lr_factor(factor.item<double>());
}

}  // namespace lab
