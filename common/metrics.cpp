// Prometheus text exposition: families with HELP and TYPE, then one line per series.
#include "common/metrics.h"

#include <cmath>
#include <cstdio>

namespace livegate {

std::string render_labels(const MetricLabels& labels) {
  if (labels.empty()) return {};
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ',';
    out += labels[i].first;
    out += "=\"";
    for (char c : labels[i].second) {
      if (c == '\\') out += "\\\\";
      else if (c == '"') out += "\\\"";
      else if (c == '\n') out += "\\n";
      else out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::string format_metric_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) return std::to_string(static_cast<int64_t>(value));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", value);
  return buf;
}

Metrics::Series& Metrics::series(std::string_view name, std::string_view help, const MetricLabels& labels,
                                 bool is_counter) {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{std::string(help), is_counter, {}}).first;
  }
  auto& slot = it->second.series[render_labels(labels)];
  if (!slot) slot = std::make_unique<Series>();
  return *slot;
}

std::atomic<uint64_t>& Metrics::counter(std::string_view name, std::string_view help, const MetricLabels& labels) {
  return series(name, help, labels, true).count;
}

std::atomic<double>& Metrics::gauge(std::string_view name, std::string_view help, const MetricLabels& labels) {
  return series(name, help, labels, false).value;
}

std::string Metrics::render() const {
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& [name, family] : families_) {
    out.append("# HELP ").append(name).append(" ").append(family.help).append("\n");
    out.append("# TYPE ").append(name).append(family.is_counter ? " counter\n" : " gauge\n");
    for (const auto& [labels, s] : family.series) {
      out.append(name).append(labels).append(" ");
      out.append(family.is_counter ? std::to_string(s->count.load(std::memory_order_relaxed))
                                   : format_metric_value(s->value.load(std::memory_order_relaxed)));
      out.append("\n");
    }
  }
  return out;
}

}  // namespace livegate
