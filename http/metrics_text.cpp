// Prometheus text exposition format 0.0.4.
#include "http/metrics_text.h"

#include "common/log.h"
#include "segmenter/stream_monitor.h"

namespace livegate {

std::string render_metrics(const Metrics& metrics, const StreamStore& store) {
  std::string out = metrics.render();
  const ServerStats st = store.stats();
  auto gauge = [&out](const char* name, const char* help, double value) {
    render_family(out, name, help, MetricType::gauge, {{{}, value}});
  };
  gauge("livegate_rtmp_connections", "Open RTMP connections.", double(st.rtmp_connections));
  gauge("livegate_streams_live", "Streams being published now (one publisher each).",
        double(st.streams_live));
  gauge("livegate_hls_streams", "Streams whose HLS output is held (live or ended, within retention).",
        double(st.hls_streams));
  gauge("livegate_hls_bytes_held", "Bytes of segments (every packaging) held in memory.", double(st.hls_bytes_held));

  render_family(out, "livegate_log_lines_dropped_total",
                "Log lines dropped because stderr did not keep up (limit log_queue_lines).",
                MetricType::counter, {{{}, double(log_lines_dropped())}});

  // Per-stream series come from the snapshots at render time, so they vanish with their stream
  // instead of lingering in the registry. Rates are left to the query (rate() over the counters).
  std::vector<MetricSample> bytes, frames, keyframe, drift, problems;
  for (const auto& s : store.list()) {
    const MetricLabels labels{{"app", s->name.app}, {"key", s->name.key}};
    bytes.push_back({labels, double(s->video_stats.bytes + s->audio_stats.bytes)});
    if (s->video) {
      frames.push_back({labels, double(s->video_stats.frames)});
      if (s->keyframe_interval_s > 0) keyframe.push_back({labels, s->keyframe_interval_s});
    }
    if (s->health.av_drift_known) drift.push_back({labels, s->health.av_drift_ms / 1000.0});
    const auto hls = store.get_hls(s->name.path());
    problems.push_back({labels, double(evaluate_health(*s, hls.get()).problems.size())});
  }
  render_family(out, "livegate_stream_received_bytes_total",
                "Audio and video payload bytes received for a stream since its publish began.",
                MetricType::counter, std::move(bytes));
  render_family(out, "livegate_stream_video_frames_total",
                "Video frames received for a stream since its publish began.", MetricType::counter,
                std::move(frames));
  render_family(out, "livegate_stream_keyframe_interval_seconds",
                "Time between a stream's last two keyframes.", MetricType::gauge, std::move(keyframe));
  render_family(
      out, "livegate_stream_av_drift_seconds",
      "Audio timestamps minus video timestamps, change since the publish began (positive: audio ahead).",
      MetricType::gauge, std::move(drift));
  render_family(out, "livegate_stream_problems", "Health problems a stream has now (see /api/streams).",
                MetricType::gauge, std::move(problems));
  return out;
}

}  // namespace livegate
