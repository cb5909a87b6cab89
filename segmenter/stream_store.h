// The published state of every stream, as immutable snapshots the HTTP threads can read while the
// loop thread replaces them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
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

// One point of a stream's recent history, for the operator page's charts.
struct HistorySample {
  int64_t t_ms = 0;                // Unix milliseconds at the end of the sample's interval
  double bitrate_kbps = 0;         // input over the interval
  double frame_rate = 0;           // video frames received per second over the interval
  double keyframe_interval_s = 0;  // the last one seen by then
};

// What the monitor measured that health is judged on (evaluate_health in stream_monitor.h).
struct HealthFacts {
  double declared_fps = 0;             // SPS timing info, else onMetaData framerate; 0 = unknown
  double keyframe_interval_min_s = 0;  // over the last few intervals; 0 = fewer than one seen
  double keyframe_interval_max_s = 0;
  bool av_drift_known = false;     // both tracks flowed long enough to tell
  double av_drift_ms = 0;          // audio timestamps minus video timestamps, change since publish
  double av_drift_ms_per_min = 0;  // its trend over the history window
  uint64_t timestamp_wraps = 0;    // 32-bit RTMP millisecond wraps crossed
  uint64_t dropped_frames = 0;     // video frames missing from the timestamp sequence
  uint64_t late_frames = 0;        // frames that arrived well after their timestamps said
  uint32_t reconnects = 0;         // republishes on this key within reconnect_window_s
  double reconnect_window_s = 0;
  double live_s = 0;        // since this publish started
  double video_idle_s = 0;  // since the last video frame (or since publish, if none)
  double audio_idle_s = 0;
  double bitrate_median_kbps = 0;  // over the last minute of history; 0 = not enough history
  double bitrate_peak_kbps = 0;
};

// What is known about one stream; never changed after it is stored.
struct StreamSnapshot {
  StreamName name;
  bool live = false;
  PublishInfo publisher;
  int64_t end_unix_ms = 0;  // when it stopped, if not live
  // Not live but waiting for a publisher to continue it (hls.reconnect_grace_ms) until then; 0 otherwise.
  int64_t reconnect_deadline_unix_ms = 0;
  std::optional<VideoConfig> video;
  std::optional<AudioConfig> audio;
  Metadata metadata;
  TrackStats video_stats;
  TrackStats audio_stats;
  double bitrate_kbps = 0;         // input, over the last measurement interval
  double keyframe_interval_s = 0;  // between the last two keyframes
  double measured_fps = 0;         // video frames per second of media time, over the last seconds
  uint32_t target_duration_s = 0;  // the configured HLS target, which keyframes should match
  HealthFacts health;
  double history_interval_s = 0;
  std::vector<HistorySample> history;  // oldest first, bounded
  std::vector<InputStatus> inputs;     // the key's publishers (primary, backup), as the registry said
  std::vector<InputSwitch> switches;   // between them, oldest first, the latest few
};

// A stream's HLS output as served: each packaging's playlist rendered once per change and every segment
// still fetchable (listed or in grace). Segment bytes are shared, never copied per request.
struct HlsSnapshot {
  struct Playlist {
    std::string text;               // empty until the first segment closes, or when the packaging is off
    std::vector<Segment> segments;  // grace then listed

    const Segment* find(std::string_view uri) const {
      for (const Segment& s : segments) {
        if (s.uri == uri) return &s;
      }
      return nullptr;
    }
  };
  // ll.m3u8 beyond its segments: the open segment's parts and what a blocked request waits for.
  struct LowLatency {
    std::string delta;  // the delta update (_HLS_skip); empty when it would skip nothing
    uint32_t part_target_ms = 0;
    uint64_t open_seq = 0;            // the segment being written, or the next one
    std::vector<Part> open_parts;     // its parts published so far
    bool open_discontinuity = false;  // it starts with a discontinuity
    std::string open_map_uri;         // and needs this init segment, which no complete segment may name yet
    std::shared_ptr<const std::vector<uint8_t>> open_map;
    std::string preload_hint;  // the URI of the next part; empty once the stream has ended
  };
  Playlist ts;         // index.m3u8 and MPEG-TS segments (hls.packaging "ts")
  Playlist cmaf;       // ll.m3u8 and CMAF segments (hls.packaging "cmaf")
  LowLatency ll;       // with cmaf
  std::string master;  // master.m3u8, the multivariant playlist; empty until the first segment closes
  bool ended = false;
  uint32_t target_duration_s = 0;
  uint64_t media_sequence = 0;
  size_t listed = 0;  // the last `listed` of each playlist's segments are in it

  // For stream health and metrics, over the playlist's life (republishes included).
  uint64_t segments_made = 0;
  uint64_t timestamp_jumps = 0;            // each made a discontinuity
  uint64_t long_segments_gop = 0;          // longer than the configured target: keyframes too far apart
  double longest_segment_s = 0;            // of the long ones
  uint64_t segments_without_keyframe = 0;  // cut between keyframes: they came later than TARGETDURATION
  uint64_t segments_cut_for_bytes = 0;     // cut at hls.max_segment_bytes
  uint64_t pauses = 0;                     // the media paused past TARGETDURATION: a discontinuity each
  double longest_pause_s = 0;
  uint64_t video_stalls = 0;   // times video stopped while audio went on (audio-only segments followed)
  bool video_stalled = false;  // the segments carry audio only now

  // Segments fetchable in each playlist, listed and grace (the same count in every packaging made).
  size_t held() const noexcept { return std::max(ts.segments.size(), cmaf.segments.size()); }

  // A part of a fetchable CMAF segment or of the open one; nullptr otherwise.
  const Part* find_part(std::string_view uri) const;
  // The newest complete segment's sequence number, if any.
  std::optional<uint64_t> last_msn() const noexcept {
    if (cmaf.segments.empty()) return std::nullopt;
    return cmaf.segments.back().seq;
  }
  // For blocking reload (RFC 8216bis 6.2.5.2): segment `msn` is complete, or with `part`, that part of
  // it is published. A part index past its complete parent's last part stands for the next segment's
  // first part.
  bool has(uint64_t msn, std::optional<uint32_t> part) const noexcept;

  // A CMAF init segment, while a fetchable segment or the open one names it; nullptr otherwise.
  std::shared_ptr<const std::vector<uint8_t>> find_map(std::string_view uri) const {
    if (!ll.open_parts.empty() && ll.open_map_uri == uri) return ll.open_map;
    for (const Segment& s : cmaf.segments) {
      if (s.map_uri == uri) return s.map;
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

  // Called after every put_hls and remove_hls, on the thread that made it, so HTTP loops can answer
  // the requests they hold for a stream's next part. A watcher must be quick (set a flag, wake a loop)
  // and must not call into the store. Const: watching changes nothing readers see.
  using Watcher = std::function<void()>;
  uint64_t watch(Watcher watcher) const;
  // After this returns the watcher is not running and is never called again.
  void unwatch(uint64_t id) const;

 private:
  void notify() const;

  mutable std::mutex watch_mu_;  // never held with mu_
  mutable std::map<uint64_t, Watcher> watchers_;
  mutable uint64_t next_watcher_ = 0;

  ServerStats stats_;
  mutable std::mutex mu_;  // held only to copy or swap a pointer
  std::map<std::string, std::shared_ptr<const StreamSnapshot>> streams_;
  std::map<std::string, std::shared_ptr<const HlsSnapshot>> hls_;
};

}  // namespace livegate
