// Wall time per model component, forward and backward, for lab bench's step breakdown.
// Forward spans are timed around the component's call. Backward spans use identity autograd nodes:
// one on the component's output (its gradient arrives, so the span opens) and one on its input (the
// gradient has gone through, so the span closes). The engine runs a component's backward nodes
// together because they were created together, so the span holds that component's backward.
// Host clocks only: meaningful on CPU, where every operation is synchronous.
#pragma once

#include <torch/types.h>

#include <chrono>
#include <map>
#include <string>

namespace lab {

class ComponentClock {
 public:
  using Clock = std::chrono::steady_clock;
  struct Span {
    double forward_ms = 0, backward_ms = 0;
  };

  // Adds the time until it is destroyed to `name`'s forward span.
  class Scope {
   public:
    Scope(ComponentClock* clock, std::string name);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    ComponentClock* clock_;
    std::string name_;
    Clock::time_point start_;
  };

  // Identity on x; its backward closes `name`'s open backward span (put it on the component's input).
  torch::Tensor enter(const torch::Tensor& x, const std::string& name);
  // Identity on y; its backward opens `name`'s backward span (put it on the component's output).
  torch::Tensor leave(const torch::Tensor& y, const std::string& name);
  void add_forward(const std::string& name, double ms) { spans_[name].forward_ms += ms; }
  // Opens `name`'s backward span now: the markers call it, and so does the caller for the part whose
  // backward starts the pass.
  void opened(const std::string& name);
  // Closes `name`'s open backward span, adding its time.
  void closed(const std::string& name);

  const std::map<std::string, Span>& spans() const { return spans_; }

 private:
  std::map<std::string, Span> spans_;
  std::map<std::string, Clock::time_point> open_;
};

}  // namespace lab
