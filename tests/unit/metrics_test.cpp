#include "common/metrics.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>

using namespace livegate;

namespace {

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("metrics: counters and gauges render with their type, help and value") {
  Metrics m;
  m.counter("t_requests_total", "Requests.") += 3;
  m.gauge("t_temperature_celsius", "Temperature.").store(21.5);
  const std::string text = m.render();
  CHECK(text ==
        "# HELP t_requests_total Requests.\n"
        "# TYPE t_requests_total counter\n"
        "t_requests_total 3\n"
        "# HELP t_temperature_celsius Temperature.\n"
        "# TYPE t_temperature_celsius gauge\n"
        "t_temperature_celsius 21.5\n");
}

TEST_CASE("metrics: a series is one object, found again by name and labels") {
  Metrics m;
  auto& a = m.counter("t_total", "T.", {{"k", "a"}});
  auto& b = m.counter("t_total", "T.", {{"k", "b"}});
  CHECK(&a != &b);
  CHECK(&a == &m.counter("t_total", "T.", {{"k", "a"}}));
  a += 2;
  m.counter("t_total", "T.", {{"k", "a"}}) += 5;
  CHECK(a.load() == 7);
  CHECK(m.render().find("t_total{k=\"a\"} 7\n") != std::string::npos);
}

TEST_CASE("metrics: families sorted by name, series by labels") {
  Metrics m;
  m.counter("t_zeta_total", "Z.") += 1;
  m.counter("t_alpha_total", "A.", {{"route", "segment"}}) += 1;
  m.counter("t_alpha_total", "A.", {{"route", "api"}}) += 2;
  m.counter("t_alpha_total", "A.", {{"route", "playlist"}}) += 3;
  const std::string text = m.render();
  const size_t alpha = text.find("# HELP t_alpha_total");
  const size_t zeta = text.find("# HELP t_zeta_total");
  REQUIRE(alpha != std::string::npos);
  REQUIRE(zeta != std::string::npos);
  CHECK(alpha < zeta);
  const size_t api = text.find("route=\"api\"");
  const size_t playlist = text.find("route=\"playlist\"");
  const size_t segment = text.find("route=\"segment\"");
  CHECK(api < playlist);
  CHECK(playlist < segment);
  CHECK(count_of(text, "# TYPE t_alpha_total counter\n") == 1);  // one header per family
}

TEST_CASE("metrics: label values and help text are escaped as the text format requires") {
  CHECK(render_labels({}) == "");
  CHECK(render_labels({{"a", "x"}, {"b", "y"}}) == "{a=\"x\",b=\"y\"}");
  CHECK(render_labels({{"key", "say \"hi\"\\now\nline"}}) == "{key=\"say \\\"hi\\\"\\\\now\\nline\"}");
  Metrics m;
  m.gauge("t_g", "Help with \\ and\nnewline \"quotes\" kept.").store(1);
  // HELP escapes only backslash and newline; quotes stay as they are.
  CHECK(m.render().find("# HELP t_g Help with \\\\ and\\nnewline \"quotes\" kept.\n") != std::string::npos);
}

TEST_CASE("metrics: sample values") {
  CHECK(format_metric_value(0) == "0");
  CHECK(format_metric_value(42) == "42");
  CHECK(format_metric_value(-3) == "-3");
  CHECK(format_metric_value(0.1) == "0.1");
  CHECK(format_metric_value(2950123.4) == "2950123.4");  // no precision lost to a short %g
  CHECK(format_metric_value(1e20) == "1e+20");
  CHECK(format_metric_value(std::numeric_limits<double>::quiet_NaN()) == "NaN");
  CHECK(format_metric_value(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(format_metric_value(-std::numeric_limits<double>::infinity()) == "-Inf");
}

TEST_CASE("metrics: a name asked for as another type does not corrupt the family") {
  Metrics m;
  m.counter("t_x_total", "X.") += 4;
  std::atomic<double>& stray = m.gauge("t_x_total", "X as a gauge.");
  stray.store(99.5);
  const std::string text = m.render();
  CHECK(count_of(text, "t_x_total") == 3);  // HELP, TYPE and the one sample
  CHECK(text.find("t_x_total 4\n") != std::string::npos);
  CHECK(text.find("99.5") == std::string::npos);
  CHECK(text.find("# TYPE t_x_total counter\n") != std::string::npos);
}

TEST_CASE("metrics: histograms render cumulative buckets, +Inf, sum and count") {
  Metrics m;
  // Binary fractions, so the sum is exact.
  Histogram& h = m.histogram("t_lag_seconds", "Lag.", {0.5, 0.0625, 2});  // unsorted bounds are sorted
  for (double v : {0.03125, 0.0625, 0.25, 1.0, 4.0}) h.observe(v);
  const std::string text = m.render();
  CHECK(text ==
        "# HELP t_lag_seconds Lag.\n"
        "# TYPE t_lag_seconds histogram\n"
        "t_lag_seconds_bucket{le=\"0.0625\"} 2\n"  // an observation equal to a bound falls in that bucket
        "t_lag_seconds_bucket{le=\"0.5\"} 3\n"
        "t_lag_seconds_bucket{le=\"2\"} 4\n"
        "t_lag_seconds_bucket{le=\"+Inf\"} 5\n"
        "t_lag_seconds_sum 5.34375\n"
        "t_lag_seconds_count 5\n");
  Histogram& labelled = m.histogram("t_lag_seconds", "Lag.", {1}, {{"loop", "0"}});
  labelled.observe(2);
  CHECK(m.render().find("t_lag_seconds_bucket{loop=\"0\",le=\"+Inf\"} 1\n") != std::string::npos);
}

TEST_CASE("metrics: families computed at render time are sorted and may be empty") {
  std::string out;
  render_family(out, "t_stream_fps", "Frame rate.", MetricType::gauge,
                {{{{"app", "live"}, {"key", "b"}}, 25}, {{{"app", "live"}, {"key", "a"}}, 29.97}});
  CHECK(out ==
        "# HELP t_stream_fps Frame rate.\n"
        "# TYPE t_stream_fps gauge\n"
        "t_stream_fps{app=\"live\",key=\"a\"} 29.97\n"
        "t_stream_fps{app=\"live\",key=\"b\"} 25\n");
  std::string empty;
  render_family(empty, "t_none", "None.", MetricType::gauge, {});
  CHECK(empty == "# HELP t_none None.\n# TYPE t_none gauge\n");
}
