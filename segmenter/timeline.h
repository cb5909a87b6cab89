// Maps a publisher's timestamps onto the output timeline: continuous, starting at a fixed origin,
// DTS strictly increasing per track, PTS >= DTS, and real jumps reported so the segmenter can mark
// a discontinuity. Pure: no clocks, no I/O.
#pragma once

#include <array>
#include <optional>

#include "common/media.h"

namespace livegate {

struct TimelineConfig {
  Ticks90k origin = 10 * 90000;       // first output DTS; room for audio that starts before video
  Ticks90k max_backward = 90000;      // a step back beyond this (per track) is a jump, not jitter
  Ticks90k max_forward = 10 * 90000;  // a step forward beyond this is a jump
  Ticks90k join_gap = 90000 / 30;     // space left after the last output frame when re-anchoring
};

class Timeline {
 public:
  explicit Timeline(TimelineConfig config = {}) : config_(config) {}

  struct Mapped {
    Ticks90k dts = 0;
    Ticks90k pts = 0;
    bool jumped = false;  // the input jumped here; the output was re-anchored to stay continuous
  };
  Mapped map(Track track, Ticks90k dts, Ticks90k pts);

  // A new publisher continues this timeline: its first frame follows the last output frame.
  void rejoin();

  // The highest DTS written so far, or nullopt before the first frame.
  std::optional<Ticks90k> last_dts() const noexcept { return last_max_; }

 private:
  struct TrackState {
    std::optional<Ticks90k> offset;    // output = input + offset
    std::optional<Ticks90k> last_out;  // last output DTS on this track
    // Since the offset was set: the first and last input DTS and the frames between, for the frame step.
    Ticks90k first_in = 0, last_in = 0;
    uint64_t frames = 0;
  };
  // Where video frames fall on the output: their offset and mean frame step.
  struct Grid {
    Ticks90k offset = 0;
    Ticks90k step = 0;
  };
  bool plausible(const TrackState& t, Ticks90k out) const noexcept;
  std::optional<Grid> video_grid() const noexcept;
  // A new offset for frames at `dts`: after the last output frame, and a whole number of video frame
  // steps from the old video offset, so the video cadence carries on.
  Ticks90k reanchor(Ticks90k dts) const noexcept;
  void set_offset(TrackState& t, Ticks90k offset) noexcept;

  TimelineConfig config_;
  std::array<TrackState, 2> tracks_{};
  std::optional<Ticks90k> last_max_;
  Ticks90k last_max_pts_ = 0;  // the highest PTS written: a join starts after it too
  std::optional<Ticks90k> anchor_offset_;  // the offset of the most recent (re-)anchoring
  bool rejoining_ = false;                 // the next re-anchoring is a new publisher, not a jump
  std::optional<Grid> kept_grid_;          // the old publisher's video grid, across rejoin()
};

}  // namespace livegate
