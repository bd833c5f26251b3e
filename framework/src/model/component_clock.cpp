#include "model/component_clock.hpp"

#include <torch/torch.h>

#include <utility>

namespace lab {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

double ms_since(ComponentClock::Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(ComponentClock::Clock::now() - start).count();
}

// The identity whose backward tells the clock that a gradient passed this point.
class Marker : public torch::autograd::Function<Marker> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, int64_t clock, int64_t name,
                               bool opens) {
    ctx->saved_data["clock"] = clock;
    ctx->saved_data["name"] = name;
    ctx->saved_data["opens"] = opens;
    return x.view_as(x);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto* clock = reinterpret_cast<ComponentClock*>(ctx->saved_data["clock"].toInt());
    const auto* name = reinterpret_cast<const std::string*>(ctx->saved_data["name"].toInt());
    if (ctx->saved_data["opens"].toBool())
      clock->opened(*name);
    else
      clock->closed(*name);
    return {grads[0], torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

// Names live as long as the program: the markers keep pointers to them.
const std::string* interned(const std::string& name) {
  static std::map<std::string, std::string> names;
  return &names.try_emplace(name, name).first->second;
}

torch::Tensor mark(ComponentClock* clock, const torch::Tensor& x, const std::string& name, bool opens) {
  if (!x.requires_grad()) return x;
  return Marker::apply(x, static_cast<int64_t>(reinterpret_cast<intptr_t>(clock)),
                       static_cast<int64_t>(reinterpret_cast<intptr_t>(interned(name))), opens);
}

}  // namespace

ComponentClock::Scope::Scope(ComponentClock* clock, std::string name)
    : clock_(clock), name_(std::move(name)), start_(Clock::now()) {}

ComponentClock::Scope::~Scope() {
  if (clock_) clock_->add_forward(name_, ms_since(start_));
}

torch::Tensor ComponentClock::enter(const torch::Tensor& x, const std::string& name) {
  return mark(this, x, name, false);
}

torch::Tensor ComponentClock::leave(const torch::Tensor& y, const std::string& name) {
  return mark(this, y, name, true);
}

void ComponentClock::opened(const std::string& name) { open_[name] = Clock::now(); }

void ComponentClock::closed(const std::string& name) {
  auto it = open_.find(name);
  if (it == open_.end()) return;
  spans_[name].backward_ms += ms_since(it->second);
  open_.erase(it);
}

}  // namespace lab
