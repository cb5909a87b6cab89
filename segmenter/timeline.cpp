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

Timeline::Mapped Timeline::map(Track track, Ticks90k dts, Ticks90k pts) {
  TrackState& t = tracks_[static_cast<size_t>(track)];
  Mapped m;
  if (!last_max_) {
    // The very first frame anchors the timeline at its origin.
    anchor_offset_ = config_.origin - dts;
    t.offset = anchor_offset_;
  } else if (!t.offset || !plausible(t, dts + *t.offset)) {
    // A track starting or jumping: if the other track already moved by the same amount (an encoder
    // restarting its clock moves both), follow it; otherwise re-anchor after the last output frame.
    if (anchor_offset_ && plausible(t, dts + *anchor_offset_)) {
      t.offset = anchor_offset_;  // the same jump, already reported by the track that made it
    } else {
      m.jumped = !rejoining_;
      rejoining_ = false;
      anchor_offset_ = *last_max_ + config_.join_gap - dts;
      t.offset = anchor_offset_;
    }
  }
  m.dts = dts + *t.offset;
  m.pts = pts + *t.offset;
  // Small steps back (jitter, clamped negative DTS) become one tick forward: the muxer and players
  // need strictly increasing DTS per track.
  if (t.last_out && m.dts <= *t.last_out) m.dts = *t.last_out + 1;
  m.pts = std::max(m.pts, m.dts);
  t.last_out = m.dts;
  last_max_ = last_max_ ? std::max(*last_max_, m.dts) : m.dts;
  return m;
}

void Timeline::rejoin() {
  for (TrackState& t : tracks_) t.offset.reset();
  if (last_max_) {
    // Both tracks of the new publisher map after the old output; per-track history restarts.
    for (TrackState& t : tracks_) t.last_out = last_max_;
  }
  anchor_offset_.reset();
  rejoining_ = last_max_.has_value();
}

}  // namespace livegate
