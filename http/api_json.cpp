// One stream's snapshot as the JSON object served by /api/streams.
#include "http/api_json.h"

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

}  // namespace

nlohmann::json stream_json(const StreamSnapshot& s, const HlsSnapshot* hls) {
  nlohmann::json j;
  j["app"] = s.name.app;
  j["key"] = s.name.key;
  j["state"] = s.live ? "live" : "ended";
  j["publisher"] = {{"address", s.publisher.peer},
                    {"encoder", s.publisher.encoder},
                    {"session_id", s.publisher.session_id}};
  j["start_time_ms"] = s.publisher.start_unix_ms;
  if (!s.live) j["end_time_ms"] = s.end_unix_ms;
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
                {"segments_held", hls->segments.size()},
                {"ended", hls->ended}};
  } else {
    j["hls"] = nullptr;
  }
  nlohmann::json meta = nlohmann::json::object();
  for (const auto& [k, v] : s.metadata) meta[k] = v;
  j["metadata"] = std::move(meta);
  return j;
}

}  // namespace livegate
