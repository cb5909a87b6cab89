// One stream's HLS output: normalises timestamps, decides where segments end, muxes them to
// MPEG-TS and keeps the playlist window. Lives on the loop thread; publishes immutable snapshots.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/config.h"
#include "common/media.h"
#include "segmenter/segment_window.h"
#include "segmenter/stream_store.h"
#include "segmenter/timeline.h"
#include "segmenter/ts_muxer.h"

namespace livegate {

class HlsStream {
 public:
  using WallClock = std::function<int64_t()>;  // Unix milliseconds; injectable for tests

  HlsStream(const HlsConfig& config, std::string subject, std::string uri_tag, WallClock clock);

  // A publisher starts; a second start after end() continues the playlist with a discontinuity.
  void start();
  void video_config(const VideoConfig& config);
  void audio_config(const AudioConfig& config);
  void access_unit(const AccessUnit& unit);
  // The publisher stopped: the open segment is closed and the playlist ends.
  void end();

  bool ended() const noexcept { return ended_; }
  // A snapshot of what to serve now; rebuilt only when a segment closes or the stream ends.
  std::shared_ptr<const HlsSnapshot> snapshot() const noexcept { return snapshot_; }
  // Bumped whenever snapshot() changes, so the owner knows when to republish it.
  uint64_t version() const noexcept { return version_; }
  size_t bytes_held() const noexcept;
  uint32_t target_duration() const noexcept { return target_duration_; }
  uint64_t segments_over_target() const noexcept { return over_target_; }

 private:
  bool open_segment(Ticks90k dts);
  void close_segment(Ticks90k end_dts);
  void publish_snapshot();

  const HlsConfig& config_;
  std::string subject_;
  std::string uri_tag_;
  WallClock clock_;

  Timeline timeline_;
  SegmentWindow window_;
  std::optional<VideoConfig> video_;
  std::optional<AudioConfig> audio_;
  std::unique_ptr<TsMuxer> muxer_;
  bool muxer_stale_ = true;   // the configuration changed since the muxer was made
  bool muxer_video_ = false;  // the tracks the muxer was made with
  bool muxer_audio_ = false;
  uint64_t write_errors_ = 0;
  bool pending_discontinuity_ = false;
  bool ended_ = false;

  bool open_ = false;  // a segment is being written
  Ticks90k segment_start_ = 0;
  bool segment_discontinuity_ = false;
  int64_t segment_pdt_ = 0;
  Ticks90k last_dts_ = 0;       // of the last frame written to the open segment
  Ticks90k last_step_ = 0;      // the last frame's duration, to end the final segment
  int64_t anchor_wall_ms_ = 0;  // wall clock at anchor_dts_: program date time follows media time
  Ticks90k anchor_dts_ = -1;

  uint64_t next_seq_ = 0;
  uint32_t target_duration_ = 0;  // fixed once the first segment closes
  uint64_t over_target_ = 0;
  // For stream health: what made discontinuities, and which segments ran past the configured target.
  uint64_t timestamp_jumps_ = 0;
  uint64_t long_gop_ = 0;
  uint64_t long_gap_ = 0;
  double longest_segment_s_ = 0;
  double longest_gap_s_ = 0;
  Ticks90k segment_max_step_ = 0;  // the largest step between frames of the open segment
  std::shared_ptr<const HlsSnapshot> snapshot_;
  uint64_t version_ = 0;
};

}  // namespace livegate
