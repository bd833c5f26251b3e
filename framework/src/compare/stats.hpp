// Small-sample statistics for comparing runs over seeds: Student t intervals, Welch's t-test, Cohen's d.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

namespace lab {

struct Summary {
  size_t n = 0;
  double mean = 0;
  std::optional<double> sd;         // sample standard deviation (n - 1); none with one value
  std::optional<double> ci95_half;  // half-width of the 95% Student t interval of the mean
};

// Mean, sample standard deviation and 95% confidence half-width. Empty input gives n = 0.
Summary summarize(const std::vector<double>& values);

// Two-sided quantile of Student's t: the t with P(|T| <= t) = confidence, for `df` degrees of freedom.
double student_t_critical(double confidence, double df);

struct WelchTest {
  double difference = 0;  // mean(a) - mean(b)
  double t = 0;
  double df = 0;       // Welch–Satterthwaite degrees of freedom
  double p_value = 1;  // two-sided
};

// Welch's unequal-variance t-test of mean(a) - mean(b). None when either side has fewer than two
// values or both have zero variance (no test is possible).
std::optional<WelchTest> welch_t_test(const std::vector<double>& a, const std::vector<double>& b);

// Cohen's d of mean(a) - mean(b) with the pooled standard deviation; none when it cannot be given
// (fewer than two values on a side, or a pooled deviation of zero).
std::optional<double> cohens_d(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace lab
