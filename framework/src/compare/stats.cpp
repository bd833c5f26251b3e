#include "compare/stats.hpp"

#include <boost/math/distributions/students_t.hpp>

#include <cmath>
#include <numeric>

namespace lab {

namespace {

double mean_of(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / v.size(); }

double variance_of(const std::vector<double>& v) {
  const double m = mean_of(v);
  double sum = 0;
  for (double x : v) sum += (x - m) * (x - m);
  return sum / (v.size() - 1);
}

}  // namespace

double student_t_critical(double confidence, double df) {
  boost::math::students_t dist(df);
  return boost::math::quantile(dist, 0.5 + confidence / 2);
}

Summary summarize(const std::vector<double>& values) {
  Summary s;
  s.n = values.size();
  if (values.empty()) return s;
  s.mean = mean_of(values);
  if (values.size() < 2) return s;
  s.sd = std::sqrt(variance_of(values));
  s.ci95_half = student_t_critical(0.95, static_cast<double>(values.size() - 1)) * *s.sd /
                std::sqrt(static_cast<double>(values.size()));
  return s;
}

std::optional<WelchTest> welch_t_test(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() < 2 || b.size() < 2) return std::nullopt;
  const double na = static_cast<double>(a.size()), nb = static_cast<double>(b.size());
  const double va = variance_of(a) / na, vb = variance_of(b) / nb;
  if (va + vb <= 0) return std::nullopt;
  WelchTest w;
  w.difference = mean_of(a) - mean_of(b);
  w.t = w.difference / std::sqrt(va + vb);
  w.df = (va + vb) * (va + vb) / (va * va / (na - 1) + vb * vb / (nb - 1));
  boost::math::students_t dist(w.df);
  w.p_value = 2 * boost::math::cdf(boost::math::complement(dist, std::fabs(w.t)));
  return w;
}

std::optional<double> cohens_d(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() < 2 || b.size() < 2) return std::nullopt;
  const double na = static_cast<double>(a.size()), nb = static_cast<double>(b.size());
  const double pooled = std::sqrt(((na - 1) * variance_of(a) + (nb - 1) * variance_of(b)) / (na + nb - 2));
  if (pooled <= 0) return std::nullopt;
  return (mean_of(a) - mean_of(b)) / pooled;
}

}  // namespace lab
