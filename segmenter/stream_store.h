// The published state of every stream, as immutable snapshots the HTTP threads can read while the
// loop thread replaces them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/media.h"
#include "common/stream_sink.h"
#include "segmenter/segment.h"

namespace livegate {

struct TrackStats {
  uint64_t frames = 0;
  uint64_t keyframes = 0;
  uint64_t bytes = 0;
  Ticks90k first_dts = 0;
  Ticks90k last_dts = 0;
  uint64_t dts_backwards = 0;   // frames whose DTS went below the previous frame's
  uint64_t pts_before_dts = 0;  // frames with PTS < DTS
};

// What is known about one stream; never changed after it is stored.
struct StreamSnapshot {
  StreamName name;
  bool live = false;
  PublishInfo publisher;
  int64_t end_unix_ms = 0;  // when it stopped, if not live
  std::optional<VideoConfig> video;
  std::optional<AudioConfig> audio;
  Metadata metadata;
  TrackStats video_stats;
  TrackStats audio_stats;
  double bitrate_kbps = 0;         // input, over the last measurement interval
  double keyframe_interval_s = 0;  // between the last two keyframes
  double measured_fps = 0;         // video frames per second of media time
};

// A stream's HLS output as served: the playlist rendered once per change and every segment still
// fetchable (listed or in grace). Segment bytes are shared, never copied per request.
struct HlsSnapshot {
  std::string playlist;
  std::vector<Segment> segments;  // grace then listed
  bool ended = false;
  uint32_t target_duration_s = 0;
  uint64_t media_sequence = 0;
  size_t listed = 0;  // the last `listed` of `segments` are in the playlist

  const Segment* find(std::string_view uri) const {
    for (const Segment& s : segments) {
      if (s.uri == uri) return &s;
    }
    return nullptr;
  }
};

// Process-wide gauges, refreshed by the loop thread once a second.
struct ServerStats {
  uint64_t rtmp_connections = 0;
  uint64_t streams_live = 0;
  uint64_t hls_streams = 0;     // live or ended, still held
  uint64_t hls_bytes_held = 0;  // segment bytes in windows, grace and open segments
};

// Keyed by "app/key". The monitor owns the info half, the segmenter the HLS half.
class StreamStore {
 public:
  void put(std::shared_ptr<const StreamSnapshot> snapshot);
  void remove(const std::string& path);
  void put_hls(const std::string& path, std::shared_ptr<const HlsSnapshot> hls);
  void remove_hls(const std::string& path);

  std::shared_ptr<const StreamSnapshot> get(const std::string& path) const;
  std::shared_ptr<const HlsSnapshot> get_hls(const std::string& path) const;
  std::vector<std::shared_ptr<const StreamSnapshot>> list() const;

  void set_stats(const ServerStats& stats);
  ServerStats stats() const;

 private:
  ServerStats stats_;
  mutable std::mutex mu_;  // held only to copy or swap a pointer
  std::map<std::string, std::shared_ptr<const StreamSnapshot>> streams_;
  std::map<std::string, std::shared_ptr<const HlsSnapshot>> hls_;
};

}  // namespace livegate
