// Prometheus text exposition: families with HELP and TYPE, then one line per series.
#include "common/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "common/log.h"

namespace livegate {
namespace {

const char* type_name(MetricType t) {
  switch (t) {
    case MetricType::counter: return "counter";
    case MetricType::gauge: return "gauge";
    case MetricType::histogram: return "histogram";
  }
  return "untyped";
}

// HELP text escapes only backslash and line feed (the format's rule for docstrings).
void append_help(std::string& out, std::string_view name, std::string_view help, MetricType type) {
  out.append("# HELP ").append(name).append(" ");
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  out.append("\n# TYPE ").append(name).append(" ").append(type_name(type)).append("\n");
}

void append_sample(std::string& out, std::string_view name, std::string_view labels, std::string_view value) {
  out.append(name).append(labels).append(" ").append(value).append("\n");
}

void append_histogram(std::string& out, std::string_view name, const MetricLabels& labels,
                      const Histogram& h) {
  const std::vector<uint64_t> counts = h.bucket_counts();
  const std::string bucket = std::string(name) + "_bucket";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    cumulative += counts[i];
    MetricLabels with_le = labels;
    with_le.emplace_back("le", i < h.bounds().size() ? format_metric_value(h.bounds()[i]) : "+Inf");
    append_sample(out, bucket, render_labels(with_le), std::to_string(cumulative));
  }
  const std::string rendered = render_labels(labels);
  append_sample(out, std::string(name) + "_sum", rendered, format_metric_value(h.sum()));
  // The count is the +Inf bucket, read once, so the two always agree even while observing.
  append_sample(out, std::string(name) + "_count", rendered, std::to_string(cumulative));
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {
  std::sort(bounds_.begin(), bounds_.end());
}

void Histogram::observe(double value) noexcept {
  const size_t i =
      static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::bucket_counts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  for (size_t i = 0; i < out.size(); ++i) out[i] = counts_[i].load(std::memory_order_relaxed);
  return out;
}

std::string render_labels(const MetricLabels& labels) {
  if (labels.empty()) return {};
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ',';
    out += labels[i].first;
    out += "=\"";
    for (char c : labels[i].second) {
      if (c == '\\')
        out += "\\\\";
      else if (c == '"')
        out += "\\\"";
      else if (c == '\n')
        out += "\\n";
      else
        out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::string format_metric_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15)
    return std::to_string(static_cast<int64_t>(value));
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return ec == std::errc{} ? std::string(buf, end) : "NaN";
}

void render_family(std::string& out, std::string_view name, std::string_view help, MetricType type,
                   std::vector<MetricSample> samples) {
  std::vector<std::pair<std::string, double>> rendered;
  rendered.reserve(samples.size());
  for (const MetricSample& s : samples) rendered.emplace_back(render_labels(s.labels), s.value);
  std::sort(rendered.begin(), rendered.end());
  append_help(out, name, help, type);
  for (const auto& [labels, value] : rendered) append_sample(out, name, labels, format_metric_value(value));
}

Metrics::Series& Metrics::series(std::string_view name, std::string_view help, const MetricLabels& labels,
                                 MetricType type, const std::vector<double>* bounds) {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{std::string(help), type, {}}).first;
  }
  if (it->second.type != type) {
    log_error("metrics", std::string(name) + " was made as a " + type_name(it->second.type) + ", not a " +
                             type_name(type) + "; this series is not exported");
    mistyped_.push_back(std::make_unique<Series>());
    if (bounds) mistyped_.back()->histogram = std::make_unique<Histogram>(*bounds);
    return *mistyped_.back();
  }
  auto& slot = it->second.series[render_labels(labels)];
  if (!slot) {
    slot = std::make_unique<Series>();
    slot->labels = labels;
    if (bounds) slot->histogram = std::make_unique<Histogram>(*bounds);
  }
  return *slot;
}

std::atomic<uint64_t>& Metrics::counter(std::string_view name, std::string_view help,
                                        const MetricLabels& labels) {
  return series(name, help, labels, MetricType::counter, nullptr).count;
}

std::atomic<double>& Metrics::gauge(std::string_view name, std::string_view help,
                                    const MetricLabels& labels) {
  return series(name, help, labels, MetricType::gauge, nullptr).value;
}

Histogram& Metrics::histogram(std::string_view name, std::string_view help, const std::vector<double>& bounds,
                              const MetricLabels& labels) {
  return *series(name, help, labels, MetricType::histogram, &bounds).histogram;
}

std::string Metrics::render() const {
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& [name, family] : families_) {
    append_help(out, name, family.help, family.type);
    for (const auto& [labels, s] : family.series) {
      switch (family.type) {
        case MetricType::counter:
          append_sample(out, name, labels, std::to_string(s->count.load(std::memory_order_relaxed)));
          break;
        case MetricType::gauge:
          append_sample(out, name, labels, format_metric_value(s->value.load(std::memory_order_relaxed)));
          break;
        case MetricType::histogram: append_histogram(out, name, s->labels, *s->histogram); break;
      }
    }
  }
  return out;
}

}  // namespace livegate
