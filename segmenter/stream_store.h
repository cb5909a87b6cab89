// The published state of every stream, as immutable snapshots the HTTP threads can read while the
// loop thread replaces them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/media.h"
#include "common/stream_sink.h"

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

class StreamStore {
 public:
  void put(std::shared_ptr<const StreamSnapshot> snapshot);
  void remove(const std::string& path);
  std::shared_ptr<const StreamSnapshot> get(const std::string& path) const;
  std::vector<std::shared_ptr<const StreamSnapshot>> list() const;

 private:
  mutable std::mutex mu_;  // held only to copy or swap a pointer
  std::map<std::string, std::shared_ptr<const StreamSnapshot>> streams_;
};

}  // namespace livegate
