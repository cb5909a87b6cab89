// Timestamp normalisation: one offset per track, shared whenever the tracks jump together.
#include "segmenter/timeline.h"

#include <algorithm>

namespace livegate {

bool Timeline::plausible(const TrackState& t, Ticks90k out) const noexcept {
  if (out < 0) return false;
  if (t.last_out && out < *t.last_out - config_.max_backward) return false;
  const Ticks90k reference = t.last_out ? *t.last_out : *last_max_;
  return out <= std::max(reference, *last_max_) + config_.max_forward;
}

std::optional<Timeline::Grid> Timeline::video_grid() const noexcept {
  const TrackState& v = tracks_[static_cast<size_t>(Track::video)];
  if (!v.offset || v.frames < 2 || v.last_in <= v.first_in) return kept_grid_;
  const Ticks90k span = v.last_in - v.first_in;
  const auto gaps = static_cast<Ticks90k>(v.frames - 1);
  return Grid{*v.offset, (span + gaps / 2) / gaps};
}

// Players and transcoders that put frames on a fixed-rate grid (FFmpeg does, at the frame rate) would
// see two frames land on one slot if the video after a join were shifted by a fraction of a frame; a
// whole number of frames keeps the slots apart. Encoders restart their clocks on the frame grid (at 0),
// so the same offset modulo the step continues the cadence.
Ticks90k Timeline::reanchor(Ticks90k dts) const noexcept {
  // After the last frame in decode order and in presentation order: an encoder that died leaves a
  // P-frame whose PTS runs ahead of every DTS (the B-frames before it never came), and a new frame shown
  // at that time would collide with it.
  const Ticks90k wanted = std::max(*last_max_, last_max_pts_) + config_.join_gap - dts;
  const std::optional<Grid> g = video_grid();
  if (!g || g->step <= 0 || g->step > config_.max_backward) return wanted;
  const Ticks90k behind = wanted - g->offset;
  const Ticks90k steps = behind >= 0 ? (behind + g->step - 1) / g->step : -(-behind / g->step);
  return g->offset + steps * g->step;
}

void Timeline::set_offset(TrackState& t, Ticks90k offset) noexcept {
  t.offset = offset;
  t.frames = 0;
}

Timeline::Mapped Timeline::map(Track track, Ticks90k dts, Ticks90k pts) {
  TrackState& t = tracks_[static_cast<size_t>(track)];
  Mapped m;
  if (!last_max_) {
    // The very first frame anchors the timeline at its origin.
    anchor_offset_ = config_.origin - dts;
    set_offset(t, *anchor_offset_);
  } else if (!t.offset || !plausible(t, dts + *t.offset)) {
    // A track starting or jumping: if the other track already moved by the same amount (an encoder
    // restarting its clock moves both), follow it; otherwise re-anchor after the last output frame.
    if (anchor_offset_ && plausible(t, dts + *anchor_offset_)) {
      set_offset(t, *anchor_offset_);  // the same jump, already reported by the track that made it
      if (t.last_out && dts + *t.offset <= *t.last_out) {
        // It jumped back further than the other track did: following it exactly would land behind this
        // track's own last frame. It continues just after that frame instead, so its DTS keeps rising
        // at the frames' own pace rather than being squeezed one tick apart.
        set_offset(t, *t.last_out + config_.join_gap - dts);
      }
    } else {
      m.jumped = !rejoining_;
      rejoining_ = false;
      anchor_offset_ = reanchor(dts);
      kept_grid_.reset();
      set_offset(t, *anchor_offset_);
    }
  }
  if (t.frames++ == 0) t.first_in = dts;
  t.last_in = dts;
  m.dts = dts + *t.offset;
  m.pts = pts + *t.offset;
  // Small steps back (jitter, clamped negative DTS) become one tick forward: the muxer and players
  // need strictly increasing DTS per track.
  if (t.last_out && m.dts <= *t.last_out) m.dts = *t.last_out + 1;
  m.pts = std::max(m.pts, m.dts);
  t.last_out = m.dts;
  last_max_ = last_max_ ? std::max(*last_max_, m.dts) : m.dts;
  last_max_pts_ = std::max(last_max_pts_, m.pts);
  return m;
}

void Timeline::rejoin() {
  if (!kept_grid_) kept_grid_ = video_grid();
  for (TrackState& t : tracks_) t.offset.reset();
  if (last_max_) {
    // Both tracks of the new publisher map after the old output; per-track history restarts.
    for (TrackState& t : tracks_) t.last_out = last_max_;
  }
  anchor_offset_.reset();
  rejoining_ = last_max_.has_value();
}

}  // namespace livegate
