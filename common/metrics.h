// Process-wide Prometheus series: counters, gauges and histograms updated lock-free from any thread,
// rendered in the text exposition format (version 0.0.4).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace livegate {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

enum class MetricType { counter, gauge, histogram };

// Observations counted into fixed buckets, plus their sum and count. observe() is lock-free.
class Histogram {
 public:
  // `bounds`: the buckets' upper bounds, ascending; the +Inf bucket is implicit.
  explicit Histogram(std::vector<double> bounds);
  void observe(double value) noexcept;

  const std::vector<double>& bounds() const noexcept { return bounds_; }
  // Per bucket (not cumulative), bounds().size() + 1 values, the last one for +Inf.
  std::vector<uint64_t> bucket_counts() const;
  double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

class Metrics {
 public:
  // The series `name{labels}`, created on first use. The reference stays valid as long as this
  // object, so hot paths look a series up once and keep it. A family's help text and type are fixed
  // by its first use; asking for it later as another type returns a series that is never rendered
  // (a programming error, logged once) rather than corrupting the output.
  std::atomic<uint64_t>& counter(std::string_view name, std::string_view help,
                                 const MetricLabels& labels = {});
  std::atomic<double>& gauge(std::string_view name, std::string_view help, const MetricLabels& labels = {});
  // `bounds` only matter the first time a series is made.
  Histogram& histogram(std::string_view name, std::string_view help, const std::vector<double>& bounds,
                       const MetricLabels& labels = {});

  // Every family, sorted by name, each series sorted by labels.
  std::string render() const;

 private:
  struct Series {
    MetricLabels labels;
    std::atomic<uint64_t> count{0};
    std::atomic<double> value{0};
    std::unique_ptr<Histogram> histogram;
  };
  struct Family {
    std::string help;
    MetricType type = MetricType::counter;
    std::map<std::string, std::unique_ptr<Series>> series;  // by rendered label set
  };
  Series& series(std::string_view name, std::string_view help, const MetricLabels& labels, MetricType type,
                 const std::vector<double>* bounds);

  mutable std::mutex mu_;  // guards the maps only; values are atomics
  std::map<std::string, Family, std::less<>> families_;
  std::vector<std::unique_ptr<Series>> mistyped_;  // handed out on a type clash, never rendered
};

// `{a="x",b="y"}` with the format's escaping, or "" for no labels.
std::string render_labels(const MetricLabels& labels);

// A sample value as the format writes it: the shortest text that reads back as the same double
// (integers without a fraction), NaN and infinities spelled out.
std::string format_metric_value(double value);

// One family whose samples are computed at render time (values owned elsewhere, e.g. per-stream
// gauges that must vanish with their stream). Samples are written sorted by labels.
struct MetricSample {
  MetricLabels labels;
  double value = 0;
};
void render_family(std::string& out, std::string_view name, std::string_view help, MetricType type,
                   std::vector<MetricSample> samples);

}  // namespace livegate
