// One stream's HLS output: normalises timestamps, decides where segments end, has them muxed in each
// packaging (MPEG-TS, CMAF) and keeps each playlist's window. Lives on the loop thread; publishes
// immutable snapshots.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/config.h"
#include "common/media.h"
#include "segmenter/muxer.h"
#include "segmenter/segment_window.h"
#include "segmenter/stream_store.h"
#include "segmenter/timeline.h"

namespace livegate {

// Why a segment ended.
enum class CutReason : uint8_t {
  keyframe,  // the first keyframe at (or within a tenth below) the target duration: the normal case
  duration,  // no keyframe came by EXT-X-TARGETDURATION: cut between keyframes
  bytes,     // hls.max_segment_bytes reached
  pause,     // the media paused so long that the segment would run past EXT-X-TARGETDURATION
  tracks,    // the video track stopped or came back: the next segment has other tracks
  end,       // the publisher stopped
};

class HlsStream {
 public:
  using WallClock = std::function<int64_t()>;  // Unix milliseconds; injectable for tests

  HlsStream(const HlsConfig& config, std::string subject, std::string uri_tag, WallClock clock);

  // A publisher starts; a start after interrupt() or end() continues the playlist with a discontinuity.
  void start();
  void video_config(const VideoConfig& config);
  void audio_config(const AudioConfig& config);
  void access_unit(const AccessUnit& unit);
  // The publisher went away and another may continue: the open segment is closed and listed, the
  // playlist stays open (no EXT-X-ENDLIST).
  void interrupt();
  // The media now comes from another publisher of the key (failover): the open segment is closed and
  // the playlist continues with a discontinuity, as after interrupt() and start().
  void switch_input();
  // The stream ended: the open segment is closed and the playlist ends.
  void end();

  bool ended() const noexcept { return ended_; }
  bool interrupted() const noexcept { return interrupted_; }
  // A snapshot of what to serve now; rebuilt only when a segment closes or the stream ends.
  std::shared_ptr<const HlsSnapshot> snapshot() const noexcept { return snapshot_; }
  // Bumped whenever snapshot() changes, so the owner knows when to republish it.
  uint64_t version() const noexcept { return version_; }
  size_t bytes_held() const noexcept;
  // EXT-X-TARGETDURATION: 0 until the first segment closes, then fixed for the life of the playlist.
  uint32_t target_duration() const noexcept { return target_duration_; }

 private:
  struct Tracks {
    bool video = false;
    bool audio = false;
    bool operator==(const Tracks&) const = default;
  };
  enum class Packaging : uint8_t { ts, cmaf };
  // One packaging: its muxer and its window. Every output gets the same frames and the same cuts, so
  // their segments share sequence numbers, durations and discontinuities.
  struct Output {
    Packaging kind;
    SegmentWindow window;
    std::unique_ptr<Muxer> muxer;
    std::string map_uri;  // CMAF: the current muxer's init segment
    std::shared_ptr<const std::vector<uint8_t>> map;
    std::vector<Part> parts;  // CMAF: the parts of the open segment, published as they close
    size_t parts_bytes = 0;
  };
  // New muxers for every output; false (and none) if one cannot be made.
  bool make_muxers(Tracks wanted);
  size_t pending_bytes() const noexcept;
  // Notes video arriving or missing; video stalls when silent past hls.video_stall_ms while audio goes
  // on, and is back with its next keyframe.
  void watch_video(const AccessUnit& unit);
  std::optional<CutReason> cut_before(const AccessUnit& unit, Tracks wanted) const;
  bool can_open(const AccessUnit& unit, Tracks wanted) const;
  bool open_segment(const AccessUnit& unit, Tracks wanted);
  // Ends the open segment where the next one starts (`next_dts`), or after its last frame if the media
  // paused so long that it would otherwise run past EXT-X-TARGETDURATION.
  void cut(Ticks90k next_dts, CutReason why);
  void close_segment(Ticks90k end_dts);
  // The main track's next frame would take the open part past hls.ll.part_target_ms.
  bool part_full(const AccessUnit& unit) const;
  // Ends the open part of every CMAF output where the next one starts; false if it held no frame.
  bool close_part(Ticks90k end_dts);
  std::string part_uri(uint64_t seq, uint32_t index) const;
  // Closes the open segment after its last frame, and the muxer: a new publisher may bring other codecs.
  void stop_input();
  // `segments`: the segment lists changed (not only the open segment's parts), so every playlist is
  // rendered again; otherwise only ll.m3u8 is.
  void publish_snapshot(bool segments = true);

  const HlsConfig& config_;
  std::string subject_;
  std::string uri_tag_;
  WallClock clock_;

  Timeline timeline_;
  std::vector<Output> outputs_;  // at least one; TS first when it is on
  std::optional<VideoConfig> video_;
  std::optional<AudioConfig> audio_;
  bool muxing_ = false;      // the outputs have muxers
  Tracks muxer_tracks_;      // the tracks the muxers were made with
  bool muxer_stale_ = true;  // a configuration changed since the muxers were made
  uint64_t write_errors_ = 0;
  bool pending_discontinuity_ = false;
  bool ended_ = false;
  bool interrupted_ = false;  // no publisher now; the playlist stays open for one to continue it

  bool open_ = false;  // a segment is being written
  Ticks90k segment_start_ = 0;
  bool segment_discontinuity_ = false;
  bool continuation_ = false;  // the last segment was cut between keyframes: the next may start without one
  int64_t segment_pdt_ = 0;
  // The open part (CMAF): where it starts, whether its first main-track frame decodes on its own, and
  // whether it has a main-track frame yet.
  Ticks90k part_start_ = 0;
  bool part_independent_ = false;
  bool part_has_frame_ = false;
  Ticks90k part_step_ = 0;  // the longest main-track step between its frames
  Ticks90k last_dts_ = 0;   // of the last frame of the main track (video, else audio) in the segment
  Ticks90k last_step_ = 0;  // the main track's last frame duration, to end a segment after it
  std::optional<Ticks90k> last_video_dts_;  // this publish's last video frame, for the stall check
  std::optional<Ticks90k> last_audio_dts_;
  // How far audio timestamps run ahead of video's (0 if behind), measured at each video frame: an audio
  // frame's age in a segment is judged as the video frame beside it would be.
  Ticks90k audio_lead_ = 0;
  std::optional<Ticks90k> publish_first_dts_;
  bool video_stalled_ = false;  // segments carry audio only until a video keyframe comes
  int64_t anchor_wall_ms_ = 0;  // wall clock at anchor_dts_: program date time follows media time
  Ticks90k anchor_dts_ = -1;

  uint64_t next_seq_ = 0;
  uint32_t target_duration_ = 0;  // fixed once the first segment closes
  // For stream health, over the playlist's life.
  uint64_t timestamp_jumps_ = 0;
  uint64_t long_gop_ = 0;
  double longest_segment_s_ = 0;
  uint64_t without_keyframe_ = 0;
  uint64_t cut_for_bytes_ = 0;
  uint64_t pauses_ = 0;
  double longest_pause_s_ = 0;
  uint64_t video_stalls_ = 0;
  std::shared_ptr<const HlsSnapshot> snapshot_;
  uint64_t version_ = 0;
};

}  // namespace livegate
