// Statistics checked against values worked out by hand and a textbook Welch example.
#include "compare/stats.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace lab {
namespace {

TEST(Stats, StudentTQuantilesMatchTables) {
  EXPECT_NEAR(student_t_critical(0.95, 1), 12.7062, 1e-4);
  EXPECT_NEAR(student_t_critical(0.95, 4), 2.7764, 1e-4);
  EXPECT_NEAR(student_t_critical(0.95, 9), 2.2622, 1e-4);
  EXPECT_NEAR(student_t_critical(0.95, 1e6), 1.9600, 1e-4);
}

TEST(Stats, MeanDeviationAndInterval) {
  // 1..5: mean 3, variance 2.5, half-width t(0.975, 4) * sqrt(2.5 / 5).
  Summary s = summarize({1, 2, 3, 4, 5});
  EXPECT_EQ(s.n, 5u);
  EXPECT_DOUBLE_EQ(s.mean, 3.0);
  ASSERT_TRUE(s.sd && s.ci95_half);
  EXPECT_NEAR(*s.sd, std::sqrt(2.5), 1e-12);
  EXPECT_NEAR(*s.ci95_half, 2.776445105 * std::sqrt(0.5), 1e-6);
}

TEST(Stats, OneValueHasNoInterval) {
  Summary s = summarize({4.5});
  EXPECT_EQ(s.n, 1u);
  EXPECT_DOUBLE_EQ(s.mean, 4.5);
  EXPECT_FALSE(s.sd.has_value());
  EXPECT_FALSE(s.ci95_half.has_value());
  EXPECT_FALSE(welch_t_test({4.5}, {1, 2}).has_value());
  EXPECT_FALSE(cohens_d({4.5}, {1, 2}).has_value());
}

TEST(Stats, WelchByHand) {
  // a: mean 3, var 2.5 (n 5); b: mean 4, var 4 (n 3). se^2 = 0.5 + 4/3.
  auto w = welch_t_test({1, 2, 3, 4, 5}, {2, 4, 6});
  ASSERT_TRUE(w.has_value());
  const double se2 = 0.5 + 4.0 / 3.0;
  EXPECT_DOUBLE_EQ(w->difference, -1.0);
  EXPECT_NEAR(w->t, -1.0 / std::sqrt(se2), 1e-12);
  EXPECT_NEAR(w->df, se2 * se2 / (0.25 / 4 + (16.0 / 9.0) / 2), 1e-12);
  EXPECT_NEAR(w->p_value, 0.50621, 1e-4);
}

TEST(Stats, WelchTextbookExample) {
  // The first worked example of Welch's test (two samples of 15): t = -2.46, df = 25.0, p = 0.021.
  std::vector<double> a = {27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1,
                           21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4};
  std::vector<double> b = {27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0,
                           24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4};
  auto w = welch_t_test(a, b);
  ASSERT_TRUE(w.has_value());
  EXPECT_NEAR(w->t, -2.4554, 1e-4);
  EXPECT_NEAR(w->df, 24.9885, 1e-4);
  EXPECT_NEAR(w->p_value, 0.02138, 1e-4);
}

TEST(Stats, CohensDByHand) {
  // Pooled variance (4 * 2.5 + 2 * 4) / 6 = 3.
  auto d = cohens_d({1, 2, 3, 4, 5}, {2, 4, 6});
  ASSERT_TRUE(d.has_value());
  EXPECT_NEAR(*d, -1.0 / std::sqrt(3.0), 1e-12);
}

TEST(Stats, ZeroVarianceGivesNoTest) {
  EXPECT_FALSE(welch_t_test({1, 1, 1}, {1, 1}).has_value());
  EXPECT_FALSE(cohens_d({2, 2}, {2, 2}).has_value());
}

}  // namespace
}  // namespace lab
