// Process-wide Prometheus series: counters and gauges updated lock-free from any thread, rendered in
// the text exposition format (version 0.0.4).
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

class Metrics {
 public:
  // The series `name{labels}`, created on first use. The reference stays valid as long as this
  // object, so hot paths look a series up once and keep it. A family's help text and type are fixed
  // by its first use.
  std::atomic<uint64_t>& counter(std::string_view name, std::string_view help, const MetricLabels& labels = {});
  std::atomic<double>& gauge(std::string_view name, std::string_view help, const MetricLabels& labels = {});

  // Every family, sorted by name, each series sorted by labels.
  std::string render() const;

 private:
  struct Series {
    std::atomic<uint64_t> count{0};
    std::atomic<double> value{0};
  };
  struct Family {
    std::string help;
    bool is_counter = true;
    std::map<std::string, std::unique_ptr<Series>> series;  // by rendered label set
  };
  Series& series(std::string_view name, std::string_view help, const MetricLabels& labels, bool is_counter);

  mutable std::mutex mu_;  // guards the maps only; values are atomics
  std::map<std::string, Family, std::less<>> families_;
};

// `{a="x",b="y"}` with the format's escaping, or "" for no labels.
std::string render_labels(const MetricLabels& labels);

// A sample value as the format writes it (integers without a fraction, NaN and infinities spelled out).
std::string format_metric_value(double value);

}  // namespace livegate
