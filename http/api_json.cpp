// One stream's snapshot as the JSON object served by /api/streams.
#include "http/api_json.h"

#include <algorithm>
#include <cmath>

#include "common/clock.h"
#include "segmenter/stream_monitor.h"

namespace livegate {
namespace {

nlohmann::json track_json(const TrackStats& t) {
  return {{"frames", t.frames},
          {"keyframes", t.keyframes},
          {"bytes", t.bytes},
          {"first_dts_ms", t.first_dts / 90},
          {"last_dts_ms", t.last_dts / 90},
          {"dts_backwards", t.dts_backwards},
          {"pts_before_dts", t.pts_before_dts}};
}

// A measurement the stream has not given yet is null, not a made-up zero.
nlohmann::json known(bool is_known, double value) {
  return is_known ? nlohmann::json(value) : nlohmann::json();
}

nlohmann::json health_json(const StreamSnapshot& s, const HlsSnapshot* hls) {
  const StreamHealth health = evaluate_health(s, hls);
  nlohmann::json problems = nlohmann::json::array();
  for (const HealthProblem& p : health.problems) {
    problems.push_back({{"code", p.code}, {"severity", to_string(p.severity)}, {"hint", p.hint}});
  }
  const HealthFacts& f = s.health;
  nlohmann::json j;
  j["status"] = to_string(health.status);
  j["problems"] = std::move(problems);
  j["keyframe_interval_s"] = known(s.keyframe_interval_s > 0, s.keyframe_interval_s);
  j["declared_frame_rate"] = known(f.declared_fps > 0, f.declared_fps);
  j["measured_frame_rate"] = known(s.measured_fps > 0, std::round(s.measured_fps * 100) / 100);
  j["av_drift_ms"] = f.av_drift_known ? nlohmann::json(std::llround(f.av_drift_ms)) : nlohmann::json();
  j["av_drift_ms_per_min"] = known(f.av_drift_known, std::round(f.av_drift_ms_per_min * 10) / 10);
  j["timestamp_jumps"] = hls ? hls->timestamp_jumps : 0;
  j["timestamp_wraps"] = f.timestamp_wraps;
  j["dts_backwards"] = s.video_stats.dts_backwards + s.audio_stats.dts_backwards;
  j["long_segments"] = hls ? hls->long_segments_gop : 0;
  j["split_segments"] = hls ? hls->segments_without_keyframe : 0;
  j["media_pauses"] = hls ? hls->pauses : 0;
  j["video_stalled"] = hls ? hls->video_stalled : false;
  j["dropped_frames"] = f.dropped_frames;
  j["late_frames"] = f.late_frames;
  j["reconnects"] = f.reconnects;
  return j;
}

nlohmann::json history_json(const StreamSnapshot& s) {
  nlohmann::json samples = nlohmann::json::array();
  for (const HistorySample& h : s.history) {
    samples.push_back({{"t_ms", h.t_ms},
                       {"bitrate_kbps", std::round(h.bitrate_kbps * 10) / 10},
                       {"frame_rate", std::round(h.frame_rate * 100) / 100},
                       {"keyframe_interval_s", std::round(h.keyframe_interval_s * 1000) / 1000}});
  }
  return {{"interval_s", s.history_interval_s}, {"samples", std::move(samples)}};
}

}  // namespace

nlohmann::json stream_json(const StreamSnapshot& s, const HlsSnapshot* hls, bool with_address) {
  nlohmann::json j;
  j["app"] = s.name.app;
  j["key"] = s.name.key;
  const bool reconnecting = !s.live && s.reconnect_deadline_unix_ms != 0;
  j["state"] = s.live ? "live" : reconnecting ? "reconnecting" : "ended";
  if (reconnecting) {
    // Seconds left of hls.reconnect_grace_ms, to a tenth.
    const int64_t left_ms = std::max<int64_t>(s.reconnect_deadline_unix_ms - unix_ms_now(), 0);
    j["reconnect_in_s"] = std::round(double(left_ms) / 100) / 10;
  }
  j["publisher"] = {{"encoder", s.publisher.encoder}, {"session_id", s.publisher.session_id}};
  if (with_address) j["publisher"]["address"] = s.publisher.peer;
  j["start_time_ms"] = s.publisher.start_unix_ms;
  if (!s.live && !reconnecting) j["end_time_ms"] = s.end_unix_ms;
  j["playlist"] = "/" + s.name.path() + "/index.m3u8";
  if (s.video) {
    j["video"] = {{"codec", to_string(s.video->codec)},
                  {"profile", profile_name(s.video->profile)},
                  {"level", s.video->level / 10.0},
                  {"width", s.video->width},
                  {"height", s.video->height},
                  {"frame_rate", s.video->frame_rate},
                  {"measured_frame_rate", s.measured_fps},
                  {"keyframe_interval_s", s.keyframe_interval_s},
                  {"stats", track_json(s.video_stats)}};
  } else {
    j["video"] = nullptr;
  }
  if (s.audio) {
    j["audio"] = {{"codec", to_string(s.audio->codec)},
                  {"sample_rate", s.audio->sample_rate},
                  {"channels", s.audio->channels},
                  {"stats", track_json(s.audio_stats)}};
  } else {
    j["audio"] = nullptr;
  }
  j["bitrate_kbps"] = s.bitrate_kbps;
  j["keyframe_interval_s"] = s.keyframe_interval_s;
  if (hls && hls->target_duration_s > 0) {
    j["hls"] = {{"target_duration_s", hls->target_duration_s},
                {"media_sequence", hls->media_sequence},
                {"segments_listed", hls->listed},
                {"segments_held", hls->held()},
                {"ended", hls->ended}};
  } else {
    j["hls"] = nullptr;
  }
  nlohmann::json meta = nlohmann::json::object();
  for (const auto& [k, v] : s.metadata) meta[k] = v;
  j["metadata"] = std::move(meta);
  nlohmann::json inputs = nlohmann::json::array();
  for (const InputStatus& in : s.inputs) {
    nlohmann::json i = {{"role", to_string(in.role)},
                        {"active", in.active},
                        {"healthy", in.healthy},
                        {"encoder", in.info.encoder},
                        {"session_id", in.info.session_id},
                        {"start_time_ms", in.info.start_unix_ms},
                        {"width", in.width},
                        {"height", in.height}};
    if (with_address) i["address"] = in.info.peer;
    inputs.push_back(std::move(i));
  }
  j["inputs"] = std::move(inputs);
  nlohmann::json switches = nlohmann::json::array();
  for (const InputSwitch& w : s.switches) {
    switches.push_back(
        {{"time_ms", w.unix_ms}, {"from", to_string(w.from)}, {"to", to_string(w.to)}, {"cause", w.cause}});
  }
  j["failovers"] = std::move(switches);
  j["health"] = health_json(s, hls);
  j["history"] = history_json(s);
  return j;
}

}  // namespace livegate
